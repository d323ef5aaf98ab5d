/**
 * The bureau's query templates from the command line: `pds templates` lists them (for a contract,
 * the ones it can run), `pds run-template` fills the parameters and submits the job (issue 33).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { must, type Answer } from '../../client/index.ts';
import { apiCommand, clientFrom, print, type ApiOptions } from '../api.ts';
import { positiveInt } from '../shared.ts';
import { modeText, statusText } from '../table.ts';
import { reasonLines } from '../views.ts';

type Job = Answer<'getJob'>;
type Template = Answer<'listTemplates'>[number];
const TERMINAL = new Set(['rejected', 'held', 'released', 'failed', 'cancelled', 'changes-requested']);
const TYPE_LABEL: Record<string, string> = { code: '代码', integer: '整数', month: '月份' };

/** name=value, repeatable; the server checks each value against the parameter's type. */
function param(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const m = /^([a-z][a-z0-9_]*)=(.*)$/s.exec(value);
  if (!m) throw new InvalidArgumentError('必须写作 参数名=值，例如 district=南明区');
  return { ...previous, [m[1]!]: m[2]! };
}

function describeParameter(p: Template['parameters'][number]): string {
  const range =
    p.codes !== undefined
      ? `取值：${p.codes.slice(0, 6).join('、')}${p.codes.length > 6 ? ` 等 ${p.codes.length} 个` : ''}`
      : p.min !== undefined || p.max !== undefined
        ? `范围 ${p.min ?? '…'}–${p.max ?? '…'}`
        : '';
  const def = p.default !== undefined ? `，默认 ${p.default}` : '';
  return `    --param ${p.name}=…  ${p.label}（${TYPE_LABEL[p.type] ?? p.type}）${range ? `，${range}` : ''}${def}`;
}

async function follow(api: ReturnType<typeof clientFrom>, job: Job, timeoutSeconds: number): Promise<Job> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (!TERMINAL.has(job.status)) {
    if (Date.now() > deadline)
      throw new Error(
        `作业 ${job.id} 在 ${timeoutSeconds} 秒后仍为${statusText(job.status)}（它会继续运行；用 pds jobs 查看）`,
      );
    await new Promise((r) => setTimeout(r, 250));
    job = await must(api.GET('/v1/jobs/{id}', { params: { path: { id: job.id } } }));
  }
  return job;
}

export function addTemplateCommands(program: Command): void {
  apiCommand(
    program
      .command('templates')
      .description('数据主管部门发布的查询模板；加 --contract 只列出该合约可运行的模板')
      .option('--contract <id>', '只列出此合约的模式与字段可运行的模板'),
  ).action(async (opts: ApiOptions & { contract?: string }) => {
    const list = await must(
      clientFrom(opts).GET('/v1/templates', {
        params: { query: opts.contract ? { contractId: opts.contract } : {} },
      }),
    );
    print(opts, list, () =>
      list.length === 0
        ? ['没有可运行的查询模板。']
        : list.flatMap((t) => [
            `${t.id}  ${t.title}（${t.modes.map(modeText).join('、')}）`,
            `    ${t.description}`,
            ...t.parameters.map(describeParameter),
          ]),
    );
  });

  apiCommand(
    program
      .command('run-template')
      .description('运行查询模板：参数按类型校验后作为普通作业提交；--wait 等待结果（未发布或待审时退出码 1）')
      .argument('<contract>', '合约编号')
      .argument('<template>', '模板编号（pds templates 列出）')
      .option('--param <name=value>', '模板参数（可重复）', param)
      .option('--name <name>', '作业名称（默认“模板：标题”）')
      .option('--wait', '等待作业离开队列与沙箱')
      .option('--timeout <seconds>', '最多等待的秒数', positiveInt, 600),
  ).action(
    async (
      contract: string,
      template: string,
      opts: ApiOptions & { param?: Record<string, string>; name?: string; wait?: boolean; timeout: number },
    ) => {
      const api = clientFrom(opts);
      let job = await must(
        api.POST('/v1/contracts/{id}/templates/{templateId}/run', {
          params: { path: { id: contract, templateId: template } },
          body: { parameters: opts.param ?? {}, ...(opts.name ? { name: opts.name } : {}) },
        }),
      );
      if (opts.wait) job = await follow(api, job, opts.timeout);
      print(opts, job, () => [
        `${job.id}：${statusText(job.status)}${job.outputId ? ` → 输出 ${job.outputId}` : ''}`,
        ...reasonLines(job.reasons),
      ]);
      if (opts.wait && !['released', 'held'].includes(job.status)) process.exitCode = 1;
    },
  );
}
