import type { Command } from 'commander';
import { createPdsClient, must, type PdsClient } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import type { WorkerRegistry, WorkerView } from '../../jobs/index.ts';
import { loadKeyRing } from '../../keys/index.ts';
import { shanghaiTime } from '../../terms/index.ts';
import { configFrom, dataDirOption, positiveInt, withStore } from '../shared.ts';
import { statusText, table } from '../table.ts';

/**
 * `pds workers`: the bureau's register of workers, each with its own credential
 * (docs/architecture.md, "Workers"). Against DATA_DIR's store when no server holds it, or
 * through a running API with `--api` and a bureau token.
 */

type Answer = WorkerView[] | WorkerView | { worker: WorkerView; credential: string };

interface ApiOpts {
  dataDir?: string;
  api?: string;
  token?: string;
}

/** The typed client of the API `--api` names, signed in with a bureau token. */
function viaApi(opts: ApiOpts): PdsClient {
  const token = opts.token ?? process.env.PDS_TOKEN;
  if (!token) throw new PdsError('ERR_VALIDATION', '--api needs a bureau token: --token <jwt> or PDS_TOKEN');
  return createPdsClient({ baseUrl: opts.api!, token });
}

async function viaStore(
  opts: ApiOpts,
  fn: (registry: WorkerRegistry, actor: { sub: string; org: string; roles: string[] }) => Promise<Answer>,
): Promise<Answer> {
  const config = configFrom(opts);
  const keys = await loadKeyRing(config.dataDir);
  const actor = { sub: `cli:${process.env.USER ?? 'unknown'}`, org: 'bureau', roles: ['bureau'] };
  const { WorkerRegistry } = await import('../../jobs/index.ts');
  return withStore(config.dataDir, (store) => fn(new WorkerRegistry({ store, keys, now: () => new Date() }), actor), {
    api: 'pds workers … --api <url> --token <管理局令牌>',
  });
}

function print(answer: Answer, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(answer));
    return;
  }
  const rows = (ws: WorkerView[]) =>
    table(
      ['工作节点', '状态', '名称', '凭证到期', '撤销'],
      ws.map((w) => [
        w.id,
        statusText(w.status),
        w.name,
        shanghaiTime(w.expiresAt),
        w.revokedAt ? `${shanghaiTime(w.revokedAt)}：${w.revokeReason ?? ''}` : '—',
      ]),
      '尚未注册工作节点',
    ).join('\n');
  if (Array.isArray(answer)) return console.log(rows(answer));
  if ('credential' in answer) {
    console.log(rows([answer.worker]));
    console.log(`凭证（只显示这一次；只交给此工作节点，作为 PDS_WORKER_TOKEN）：\n${answer.credential}`);
    return;
  }
  console.log(rows([answer]));
}

export function addWorkerCommands(program: Command): void {
  const workers = program.command('workers').description('数据主管部门的工作节点登记：每个 pds worker 有自己的凭据');
  const common = (c: Command) =>
    c
      .addOption(dataDirOption())
      .option('--api <url>', '经运行中的 API（它持有控制库）操作，而不打开 DATA_DIR')
      .option('--token <jwt>', '与 --api 同用：数据主管部门的令牌（默认 $PDS_TOKEN）')
      .option('--json', '以 JSON 打印结果');

  common(workers.command('add').description('登记一个工作节点并打印其凭据（只显示一次）'))
    .requiredOption('--name <name>', '工作节点是什么（主机、站点）')
    .option('--ttl-days <days>', '凭据的有效天数', positiveInt, 30)
    .action(async (opts: ApiOpts & { name: string; ttlDays: number; json?: boolean }) => {
      print(
        opts.api
          ? await must(viaApi(opts).POST('/v1/workers', { body: { name: opts.name, ttlDays: opts.ttlDays } }))
          : await viaStore(opts, (r, p) => r.register(p, { name: opts.name, ttlDays: opts.ttlDays })),
        opts.json,
      );
    });

  common(workers.command('list').description('已登记的工作节点及其凭据状态')).action(
    async (opts: ApiOpts & { json?: boolean }) => {
      print(opts.api ? await must(viaApi(opts).GET('/v1/workers')) : await viaStore(opts, (r) => r.list()), opts.json);
    },
  );

  common(
    workers
      .command('rotate')
      .description('为工作节点换发新凭据；旧凭据立即失效')
      .argument('<id>', '工作节点编号（wrk_…）'),
  )
    .option('--ttl-days <days>', '新凭据的有效天数', positiveInt, 30)
    .action(async (id: string, opts: ApiOpts & { ttlDays: number; json?: boolean }) => {
      print(
        opts.api
          ? await must(
              viaApi(opts).POST('/v1/workers/{id}/rotate', {
                params: { path: { id } },
                body: { ttlDays: opts.ttlDays },
              }),
            )
          : await viaStore(opts, (r, p) => r.rotate(p, id, { ttlDays: opts.ttlDays })),
        opts.json,
      );
    });

  common(
    workers.command('revoke').description('撤销工作节点：其凭据立即失效').argument('<id>', '工作节点编号（wrk_…）'),
  )
    .requiredOption('--reason <text>', '理由（记入审计日志）')
    .action(async (id: string, opts: ApiOpts & { reason: string; json?: boolean }) => {
      print(
        opts.api
          ? await must(
              viaApi(opts).POST('/v1/workers/{id}/revoke', { params: { path: { id } }, body: { reason: opts.reason } }),
            )
          : await viaStore(opts, (r, p) => r.revoke(p, id, opts.reason)),
        opts.json,
      );
    });
}
