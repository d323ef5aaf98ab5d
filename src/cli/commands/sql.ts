/** `pds validate`, `pds preview` and `pds submit`: SQL under a contract, over the API. */
import { InvalidArgumentError, type Command } from 'commander';
import { must, type Answer } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import { apiCommand, clientFrom, print, type ApiOptions } from '../api.ts';
import { positiveInt, readText } from '../shared.ts';
import { statusText } from '../table.ts';
import { previewLines, reasonLines, validationLines } from '../views.ts';

type Job = Answer<'getJob'>;
const TERMINAL = new Set(['rejected', 'held', 'released', 'failed', 'cancelled', 'changes-requested']);

/** col=lo:hi, repeatable: a dp query's contribution bounds. */
function dpBound(value: string, previous: Record<string, [number, number]> = {}): Record<string, [number, number]> {
  const m = /^([a-z_][a-z0-9_]*)=(-?\d+):(-?\d+)$/.exec(value);
  if (!m) throw new InvalidArgumentError('须写作 字段=下界:上界，例如 income=0:500000');
  return { ...previous, [m[1]!]: [Number(m[2]), Number(m[3])] };
}

/** What every SQL command takes (sqlCommand). */
type SqlOptions = ApiOptions & { contract: string; sql?: string; dpBound?: object; dpGroups?: number; dpRows?: number };
type SubmitOptions = SqlOptions & { name?: string; revisionOf?: string; wait?: boolean; timeout: number };

/** A command that takes SQL under a contract, with the dp parameters a job may carry. */
const sqlCommand = (cmd: Command) =>
  apiCommand(
    cmd
      .requiredOption('--contract <id>', '查询所依据的合约')
      .argument('[file]', 'SQL 文件（- 表示从标准输入读取）')
      .option('--sql <sql>', '直接给出 SQL，而不用文件')
      .option('--dp-bound <column=low:high>', '差分隐私模式：某字段的贡献上下界（可重复）', dpBound)
      .option('--dp-groups <n>', '差分隐私模式：一个人最多计入的分组数（缺省用政策默认值）', positiveInt)
      .option('--dp-rows <n>', '差分隐私模式：一个人在一个分组中最多的关联行数（缺省用政策默认值）', positiveInt),
  );

/** The job's dp parameters from the options, or nothing when none is given. */
const dpOf = (opts: SqlOptions) =>
  opts.dpBound || opts.dpGroups || opts.dpRows
    ? {
        dp: {
          bounds: (opts.dpBound ?? {}) as Record<string, number[]>,
          ...(opts.dpGroups ? { maxGroupsPerUnit: opts.dpGroups } : {}),
          ...(opts.dpRows ? { maxRowsPerUnit: opts.dpRows } : {}),
        },
      }
    : {};

const sqlOf = (file: string | undefined, opts: SqlOptions) => {
  if (opts.sql && file) throw new PdsError('ERR_VALIDATION', 'give the SQL as a file or with --sql, not both');
  const sql = opts.sql ?? (file ? readText(file, 'SQL') : undefined);
  if (!sql?.trim()) throw new PdsError('ERR_VALIDATION', 'no SQL: name a file or pass --sql');
  return sql;
};

/** `pds validate`: the reasons a submission would get; exits 1 if any. */
async function validate(file: string | undefined, opts: SqlOptions): Promise<void> {
  const api = clientFrom(opts);
  const body = { contractId: opts.contract, sql: sqlOf(file, opts), ...dpOf(opts) };
  const result = await must(api.POST('/v1/jobs/validate', { body }));
  // a dp query's price, for people: what the preview route computes (nothing is charged)
  const preview =
    result.valid && result.mode === 'dp' && !opts.json ? await must(api.POST('/v1/jobs/preview', { body })) : undefined;
  print(opts, result, () => validationLines(result, preview));
  process.exitCode = result.valid ? 0 : 1;
}

/** Follows a job until it leaves the queue and the sandbox, or `timeoutSeconds` pass. */
async function follow(api: ReturnType<typeof clientFrom>, job: Job, timeoutSeconds: number, json: boolean) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const tty = process.stderr.isTTY && !json;
  let shown = '';
  while (!TERMINAL.has(job.status)) {
    if (Date.now() > deadline)
      throw new Error(
        `作业 ${job.id} 等待 ${timeoutSeconds} 秒后仍为${statusText(job.status)}（作业继续运行，pds jobs 可查看）`,
      );
    if (tty && shown !== job.status) process.stderr.write(`\r${job.id} ${statusText((shown = job.status))}…   `);
    await new Promise((r) => setTimeout(r, 250));
    job = await must(api.GET('/v1/jobs/{id}', { params: { path: { id: job.id } } }));
  }
  if (tty) process.stderr.write('\r\x1b[K');
  return job;
}

/** `pds submit`: the job, followed with --wait until it is decided. */
async function submit(file: string | undefined, opts: SubmitOptions): Promise<void> {
  const api = clientFrom(opts);
  const body = {
    contractId: opts.contract,
    sql: sqlOf(file, opts),
    ...(opts.name ? { name: opts.name } : {}),
    ...(opts.revisionOf ? { revisionOf: opts.revisionOf } : {}),
    ...dpOf(opts),
  };
  let job = await must(api.POST('/v1/jobs', { body }));
  if (opts.wait) job = await follow(api, job, opts.timeout, opts.json === true);
  print(opts, job, () => [
    `${job.id}：${statusText(job.status)}${job.outputId ? ` → 输出 ${job.outputId}` : ''}`,
    ...reasonLines(job.reasons),
    ...(job.status === 'held'
      ? ['  待数据管理局两名审核人审核：pds jobs 显示何时发布']
      : job.status === 'changes-requested'
        ? [`  审核人要求修改：pds thread ${job.id} 查看理由，修改后用 --revision-of ${job.id} 重新提交`]
        : []),
  ]);
  if (opts.wait && !['released', 'held'].includes(job.status)) process.exitCode = 1;
}

/** validate, preview and submit: SQL under a contract. */
export function addSqlCommands(program: Command): void {
  sqlCommand(
    program.command('validate').description('对照合约检查 SQL 而不运行：列出提交时会得到的理由；有理由时退出码 1'),
  ).action(validate);

  sqlCommand(
    program
      .command('preview')
      .description(
        '差分隐私模式：查询运行前的代价与精度——其 ε、之后剩余的预算、显示分组的阈值，以及每个统计量的噪声与 95 % 误差；不扣预算',
      ),
  ).action(async (file: string | undefined, opts: SqlOptions) => {
    const body = { contractId: opts.contract, sql: sqlOf(file, opts), ...dpOf(opts) };
    const result = await must(clientFrom(opts).POST('/v1/jobs/preview', { body }));
    print(opts, result, () => previewLines(result));
    process.exitCode = result.validation.valid ? 0 : 1;
  });

  sqlCommand(
    program
      .command('submit')
      .description('在合约下提交 SQL；加 --wait 则跟踪到有结果（未发布且未待审时退出码 1）')
      .option('--name <name>', '作业名称')
      .option('--revision-of <job>', '本作业所修改的、审核人退回修改（changes-requested）的作业')
      .option('--wait', '等待作业离开队列与沙箱')
      .option('--timeout <seconds>', '最多等待的秒数', positiveInt, 600),
  ).action(submit);
}
