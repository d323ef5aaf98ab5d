/**
 * The commands people use over a running API, through the typed client: sign-in, the operator's
 * application, jobs, validation, submission and download, and the reviewers' decisions
 * (docs/architecture.md §15). Each takes --server/--token (else the signed-in profile) and --json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { must, type Answer } from '../client/index.ts';
import { PdsError } from '../errors/index.ts';
import { apiCommand, clientFrom, print, profileFile, serverUrl, writeProfile, type ApiOptions } from './api.ts';
import { shareProgress } from './progress.ts';
import { positiveInt } from './shared.ts';
import { shanghaiTime } from '../terms/index.ts';
import { rolesText, statusText, table } from './table.ts';
import { applicationLines, catalogLines, previewLines, reasonLines, validationLines } from './views.ts';

type Job = Answer<'getJob'>;
type Contract = Answer<'getContract'>;
const TERMINAL = new Set(['rejected', 'held', 'released', 'failed', 'cancelled', 'changes-requested']);

function readText(file: string, what: string): string {
  if (file === '-') return fs.readFileSync(0, 'utf8');
  if (!fs.existsSync(file)) throw new PdsError('ERR_VALIDATION', `${what}: ${file} does not exist`);
  return fs.readFileSync(file, 'utf8');
}

/** col=lo:hi, repeatable: a dp query's contribution bounds. */
function dpBound(value: string, previous: Record<string, [number, number]> = {}): Record<string, [number, number]> {
  const m = /^([a-z_][a-z0-9_]*)=(-?\d+):(-?\d+)$/.exec(value);
  if (!m) throw new InvalidArgumentError('must be column=low:high, e.g. income=0:500000');
  return { ...previous, [m[1]!]: [Number(m[2]), Number(m[3])] };
}

function jobRows(jobs: Job[]): string[] {
  return table(
    ['作业', '状态', '合约', '提交时间', '输出', '名称'],
    jobs.map((j) => [j.id, statusText(j.status), j.contractId, shanghaiTime(j.createdAt), j.outputId, j.name]),
    '没有作业',
  );
}

/** `pds review decision`: the contract an approval made, or the rejection. */
function decisionLines(application: string, contract: Contract | null | undefined): string[] {
  if (!contract) return [`${application}：已拒绝 (rejected)`];
  return [
    `${application}：已批准，合约 ${contract.id} ${statusText(contract.status)}${contract.statusReason ? `（${contract.statusReason}）` : ''}`,
    ...(contract.status === 'building' ? ['  正在生成合约快照：加 --wait 跟踪，或 GET /v1/contracts/{id} 查看'] : []),
  ];
}

/** What every SQL command takes (sqlCommand). */
type SqlOptions = ApiOptions & { contract: string; sql?: string; dpBound?: object; dpGroups?: number; dpRows?: number };

/** A command that takes SQL under a contract, with the dp parameters a job may carry. */
const sqlCommand = (cmd: Command) =>
  apiCommand(
    cmd
      .requiredOption('--contract <id>', 'the contract the query runs under')
      .argument('[file]', 'the SQL file (- reads standard input)')
      .option('--sql <sql>', 'the SQL itself, instead of a file')
      .option('--dp-bound <column=low:high>', 'dp mode: a column’s contribution bounds (repeatable)', dpBound)
      .option(
        '--dp-groups <n>',
        'dp mode: the most groups one person counts in (policy default if absent)',
        positiveInt,
      )
      .option(
        '--dp-rows <n>',
        'dp mode: the most joined rows of one person in a group (policy default if absent)',
        positiveInt,
      ),
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

export function addOperatorCommands(program: Command): void {
  apiCommand(
    program
      .command('login')
      .description('sign in to a server: checks the token (GET /v1/me) and keeps it in your profile (mode 0600)'),
  )
    .option('--token-stdin', 'read the token from standard input (keeps it out of the shell history)')
    .action(async (opts: ApiOptions & { tokenStdin?: boolean }) => {
      const server = serverUrl(opts.server ?? process.env.PDS_SERVER ?? '');
      const token = (opts.tokenStdin ? fs.readFileSync(0, 'utf8') : (opts.token ?? process.env.PDS_TOKEN ?? '')).trim();
      if (!token) throw new PdsError('ERR_CONFIG', 'a token is needed: --token TOKEN, --token-stdin or PDS_TOKEN');
      const me = await must(clientFrom({ server, token }).GET('/v1/me'));
      const file = writeProfile({ server, token, ...me, savedAt: new Date().toISOString() });
      print(opts, { server, ...me, profile: file }, () => [
        `已登录 ${server}：${me.sub}（${me.org}；${rolesText(me.roles)}）`,
        `登录信息保存在 ${file}（仅本人可读）`,
      ]);
    });

  program
    .command('logout')
    .description('forget the signed-in profile')
    .action(() => {
      const file = profileFile();
      fs.rmSync(file, { force: true });
      console.log(`已退出登录（已删除 ${file}）`);
    });

  apiCommand(program.command('whoami').description('who the current token is for')).action(async (opts: ApiOptions) => {
    const me = await must(clientFrom(opts).GET('/v1/me'));
    print(opts, me, () => [`${me.sub}（${me.org}；${rolesText(me.roles)}）`]);
  });

  apiCommand(
    program.command('catalog').description('datasets, their columns, levels and the masking rules each column allows'),
  ).action(async (opts: ApiOptions) => {
    const catalog = await must(clientFrom(opts).GET('/v1/catalog'));
    print(opts, catalog, () => catalogLines(catalog));
  });

  apiCommand(
    program
      .command('apply')
      .description('apply for one scenario from a JSON or YAML file (the body of POST /v1/applications)')
      .argument('<file>', 'the application, e.g. application.yaml (- reads standard input)'),
  ).action(async (file: string, opts: ApiOptions) => {
    const text = readText(file, 'application');
    const body = /\.ya?ml$/i.test(file) ? (await import('yaml')).parse(text) : JSON.parse(text);
    const app = await must(clientFrom(opts).POST('/v1/applications', { body }));
    print(opts, app, () => applicationLines(app));
  });

  apiCommand(
    program
      .command('jobs')
      .description('your jobs, newest first')
      .option('--contract <id>', 'only this contract')
      .addOption(
        new Option('--status <status>', 'only this status').choices([
          'queued',
          'running',
          'rejected',
          'held',
          'released',
          'failed',
          'cancelled',
          'changes-requested',
        ]),
      )
      .option('--since <iso-time>', 'submitted at or after this instant')
      .option('--limit <n>', 'at most this many', positiveInt, 50),
  ).action(async (opts: ApiOptions & { contract?: string; status?: Job['status']; since?: string; limit: number }) => {
    const page = await must(
      clientFrom(opts).GET('/v1/jobs', {
        params: {
          query: {
            ...(opts.contract ? { contractId: opts.contract } : {}),
            ...(opts.status ? { status: opts.status } : {}),
            ...(opts.since ? { since: opts.since } : {}),
            limit: opts.limit,
          },
        },
      }),
    );
    print(opts, page, () => jobRows(page.jobs));
  });

  addSqlCommands(program);

  apiCommand(
    program
      .command('download')
      .description('download a released output and its signed manifest, and verify one against the other')
      .argument('<output>', 'the output id')
      .addOption(new Option('--format <format>', 'file format').choices(['csv', 'json', 'parquet']).default('csv'))
      .option('--out <file>', 'where to write the data (default: <output>.<format>; the manifest beside it, .jws)'),
  ).action(async (id: string, opts: ApiOptions & { format: 'csv' | 'json' | 'parquet'; out?: string }) => {
    const api = clientFrom(opts);
    const out = path.resolve(opts.out ?? `${id}.${opts.format}`);
    const data = await must(
      api.GET('/v1/outputs/{id}/data', {
        params: { path: { id }, query: { format: opts.format } },
        parseAs: 'arrayBuffer',
      }),
    );
    const manifest = await must(api.GET('/v1/outputs/{id}/manifest', { params: { path: { id } }, parseAs: 'text' }));
    const jwks = await must(api.GET('/.well-known/jwks.json'));
    const { verifyOutputFile } = await import('../outputs/index.ts');
    const { createLocalJWKSet } = await import('jose');
    const bytes = Buffer.from(data as ArrayBuffer);
    const check = await verifyOutputFile(bytes, opts.format, manifest, createLocalJWKSet(jwks));
    // nothing is left on disk that did not verify
    if (!check.ok)
      throw new PdsError(
        'ERR_VALIDATION',
        `the ${opts.format} download has sha256 ${check.sha256}, the manifest seals ${check.expected}: not written`,
      );
    fs.writeFileSync(out, bytes);
    fs.writeFileSync(`${out}.jws`, `${manifest}\n`);
    print(opts, { ...check, file: out, manifest: `${out}.jws` }, () => [
      `已下载并校验：${out}（合约 ${check.contractId} 的输出 ${id}，${check.rows} 行，sha256 ${check.sha256.slice(0, 16)}…）`,
      `签名清单：${out}.jws（离线校验：pds verify-output ${path.basename(out)} ${path.basename(out)}.jws）`,
    ]);
  });

  addReviewCommands(program);
}

/** validate, preview and submit: SQL under a contract. */
function addSqlCommands(program: Command): void {
  sqlCommand(
    program
      .command('validate')
      .description(
        'check SQL against a contract without running it: the reasons a submission would get; exits 1 if any',
      ),
  ).action(async (file: string | undefined, opts: SqlOptions) => {
    const api = clientFrom(opts);
    const body = { contractId: opts.contract, sql: sqlOf(file, opts), ...dpOf(opts) };
    const result = await must(api.POST('/v1/jobs/validate', { body }));
    // a dp query's price, for people: what the preview route computes (nothing is charged)
    const preview =
      result.valid && result.mode === 'dp' && !opts.json
        ? await must(api.POST('/v1/jobs/preview', { body }))
        : undefined;
    print(opts, result, () => validationLines(result, preview));
    process.exitCode = result.valid ? 0 : 1;
  });

  sqlCommand(
    program
      .command('preview')
      .description(
        'dp mode: what a query would cost and how exact it would be, before it runs — its ε, the budget left after it, the threshold of shown groups and each statistic’s noise and 95 % error; nothing is charged',
      ),
  ).action(async (file: string | undefined, opts: SqlOptions) => {
    const result = await must(
      clientFrom(opts).POST('/v1/jobs/preview', {
        body: { contractId: opts.contract, sql: sqlOf(file, opts), ...dpOf(opts) },
      }),
    );
    print(opts, result, () => previewLines(result));
    process.exitCode = result.validation.valid ? 0 : 1;
  });

  sqlCommand(
    program
      .command('submit')
      .description(
        'submit SQL under a contract; with --wait, follow it until it is decided (exit 1 unless released or held)',
      )
      .option('--name <name>', 'a name for the job')
      .option('--revision-of <job>', 'the job the reviewers sent back (changes-requested) that this one revises')
      .option('--wait', 'wait until the job leaves the queue and the sandbox')
      .option('--timeout <seconds>', 'give up waiting after this long', positiveInt, 600),
  ).action(
    async (
      file: string | undefined,
      opts: SqlOptions & { name?: string; revisionOf?: string; wait?: boolean; timeout: number },
    ) => {
      const api = clientFrom(opts);
      let job = await must(
        api.POST('/v1/jobs', {
          body: {
            contractId: opts.contract,
            sql: sqlOf(file, opts),
            ...(opts.name ? { name: opts.name } : {}),
            ...(opts.revisionOf ? { revisionOf: opts.revisionOf } : {}),
            ...dpOf(opts),
          },
        }),
      );
      if (opts.wait) {
        const deadline = Date.now() + opts.timeout * 1000;
        const tty = process.stderr.isTTY && !opts.json;
        let shown = '';
        while (!TERMINAL.has(job.status)) {
          if (Date.now() > deadline)
            throw new Error(
              `作业 ${job.id} 等待 ${opts.timeout} 秒后仍为${statusText(job.status)}（作业继续运行，pds jobs 可查看）`,
            );
          if (tty && shown !== job.status) process.stderr.write(`\r${job.id} ${statusText((shown = job.status))}…   `);
          await new Promise((r) => setTimeout(r, 250));
          job = await must(api.GET('/v1/jobs/{id}', { params: { path: { id: job.id } } }));
        }
        if (tty) process.stderr.write('\r\x1b[K');
      }
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
    },
  );
}

/** Reviewers' decisions over the API. */
function addReviewCommands(program: Command): void {
  const review = program.command('review').description("reviewers' decisions over the API");
  apiCommand(
    review
      .command('application')
      .description("a provider's review of its dataset in an application")
      .argument('<id>', 'the application id')
      .requiredOption('--dataset <name>', 'your dataset in it')
      .addOption(new Option('--decision <d>', 'your decision').choices(['approve', 'reject']).makeOptionMandatory())
      .option('--reason <text>', 'why (required to reject)'),
  ).action(
    async (id: string, opts: ApiOptions & { dataset: string; decision: 'approve' | 'reject'; reason?: string }) => {
      const app = await must(
        clientFrom(opts).POST('/v1/applications/{id}/reviews', {
          params: { path: { id } },
          body: { dataset: opts.dataset, decision: opts.decision, ...(opts.reason ? { reason: opts.reason } : {}) },
        }),
      );
      print(opts, app, () => [`${app.id}：${statusText(app.status)}`]);
    },
  );
  apiCommand(
    review
      .command('output')
      .description('a bureau review of a held output: independent votes of two reviewers, then consolidated')
      .argument('<id>', 'the output id')
      .addOption(
        new Option('--decision <d>', 'your vote')
          .choices(['approve', 'reject', 'request-changes'])
          .makeOptionMandatory(),
      )
      .option('--reason <text>', 'why (required to reject or to request changes; the operator reads it)'),
  ).action(
    async (id: string, opts: ApiOptions & { decision: 'approve' | 'reject' | 'request-changes'; reason?: string }) => {
      const output = await must(
        clientFrom(opts).POST('/v1/outputs/{id}/reviews', {
          params: { path: { id } },
          body: { decision: opts.decision, ...(opts.reason ? { reason: opts.reason } : {}) },
        }),
      );
      print(opts, output, () => [
        `${output.id}：${statusText(output.status)}（${output.votes.recorded}/${output.votes.needed} 票）`,
      ]);
    },
  );
  apiCommand(
    review
      .command('decision')
      .description(
        "the bureau's decision on an application; an approval builds the contract's snapshot, then signs the contract",
      )
      .argument('<id>', 'the application id')
      .addOption(new Option('--decision <d>', 'the decision').choices(['approve', 'reject']).makeOptionMandatory())
      .requiredOption('--reason <text>', 'why')
      .option('--override <reason>', 'approve although the risk preview breaks the policy, and why')
      .option('--wait', 'follow the snapshot build until the contract is active (exit 1 if the build fails)')
      .option('--timeout <seconds>', 'give up waiting after this long', positiveInt, 3600),
  ).action(
    async (
      id: string,
      opts: ApiOptions & {
        decision: 'approve' | 'reject';
        reason: string;
        override?: string;
        wait?: boolean;
        timeout: number;
      },
    ) => {
      const api = clientFrom(opts);
      const decided = await must(
        api.POST('/v1/applications/{id}/decision', {
          params: { path: { id } },
          body: {
            decision: opts.decision,
            reason: opts.reason,
            ...(opts.override ? { override: { reason: opts.override } } : {}),
          },
        }),
      );
      let contract = decided.contract;
      if (opts.wait && contract) {
        const deadline = Date.now() + opts.timeout * 1000;
        const bar = shareProgress(`合约 ${contract.id} 的快照`, opts.json === true);
        while (contract.status === 'building') {
          if (Date.now() > deadline) {
            bar.stop();
            throw new Error(`合约 ${contract.id} 等待 ${opts.timeout} 秒后仍在生成快照（生成继续进行）`);
          }
          bar.update(contract.build?.done ?? 0, `${contract.build?.phase ?? ''} ${contract.build?.table ?? ''}`.trim());
          await new Promise((r) => setTimeout(r, 250));
          contract = await must(api.GET('/v1/contracts/{id}', { params: { path: { id: contract.id } } }));
        }
        bar.stop();
        if (contract.status !== 'active') process.exitCode = 1;
      }
      print(opts, { ...decided, contract }, () => decisionLines(id, contract));
    },
  );
}
