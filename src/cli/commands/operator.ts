/**
 * The commands people use over a running API, through the typed client: sign-in, the catalog, the
 * operator's application, jobs and downloads (docs/architecture.md §15); the SQL commands are in
 * sql.ts, the reviewers' decisions in reviews.ts. Each takes --server/--token (else the signed-in
 * profile) and --json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { must, type Answer } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import { shanghaiTime } from '../../terms/index.ts';
import { apiCommand, clientFrom, print, profileFile, serverUrl, writeProfile, type ApiOptions } from '../api.ts';
import { positiveInt, readText } from '../shared.ts';
import { rolesText, statusText, table } from '../table.ts';
import { applicationLines, catalogLines } from '../views.ts';

type Job = Answer<'getJob'>;
type JobsOpts = ApiOptions & { contract?: string; status?: Job['status']; since?: string; limit: number };
type OutputFormat = 'csv' | 'json' | 'parquet';
const JOB_STATUSES = ['queued', 'running', 'rejected', 'held', 'released', 'failed', 'cancelled', 'changes-requested'];

function jobRows(jobs: Job[]): string[] {
  return table(
    ['作业', '状态', '合约', '提交时间', '输出', '名称'],
    jobs.map((j) => [j.id, statusText(j.status), j.contractId, shanghaiTime(j.createdAt), j.outputId, j.name]),
    '没有作业',
  );
}

/** `pds login`: checks the token (GET /v1/me), then keeps it in the profile. */
async function login(opts: ApiOptions & { tokenStdin?: boolean }): Promise<void> {
  const server = serverUrl(opts.server ?? process.env.PDS_SERVER ?? '');
  const token = (opts.tokenStdin ? fs.readFileSync(0, 'utf8') : (opts.token ?? process.env.PDS_TOKEN ?? '')).trim();
  if (!token) throw new PdsError('ERR_CONFIG', 'a token is needed: --token TOKEN, --token-stdin or PDS_TOKEN');
  const me = await must(clientFrom({ server, token }).GET('/v1/me'));
  const file = writeProfile({ server, token, ...me, savedAt: new Date().toISOString() });
  print(opts, { server, ...me, profile: file }, () => [
    `已登录 ${server}：${me.sub}（${me.org}；${rolesText(me.roles)}）`,
    `登录信息保存在 ${file}（仅本人可读）`,
  ]);
}

async function listJobs(opts: JobsOpts): Promise<void> {
  const query = {
    ...(opts.contract ? { contractId: opts.contract } : {}),
    ...(opts.status ? { status: opts.status } : {}),
    ...(opts.since ? { since: opts.since } : {}),
    limit: opts.limit,
  };
  const page = await must(clientFrom(opts).GET('/v1/jobs', { params: { query } }));
  print(opts, page, () => jobRows(page.jobs));
}

/** `pds download`: the data and its manifest, written only when one verifies against the other. */
async function download(id: string, opts: ApiOptions & { format: OutputFormat; out?: string }): Promise<void> {
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
  const { verifyOutputFile } = await import('../../outputs/index.ts');
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
}

/** Sign-in and the profile: login, logout, whoami. */
function addProfileCommands(program: Command): void {
  apiCommand(
    program.command('login').description('登录服务器：校验令牌（GET /v1/me）并保存到个人配置文件（权限 0600）'),
  )
    .option('--token-stdin', '从标准输入读取令牌（不留在 shell 历史中）')
    .action(login);

  program
    .command('logout')
    .description('删除已保存的登录信息')
    .action(() => {
      const file = profileFile();
      fs.rmSync(file, { force: true });
      console.log(`已退出登录（已删除 ${file}）`);
    });

  apiCommand(program.command('whoami').description('当前令牌属于谁')).action(async (opts: ApiOptions) => {
    const me = await must(clientFrom(opts).GET('/v1/me'));
    print(opts, me, () => [`${me.sub}（${me.org}；${rolesText(me.roles)}）`]);
  });
}

/** The operator's commands: the catalog, an application, jobs, downloads; and sign-in. */
export function addOperatorCommands(program: Command): void {
  addProfileCommands(program);

  apiCommand(program.command('catalog').description('数据集及其字段、分级，以及每个字段允许的脱敏规则')).action(
    async (opts: ApiOptions) => {
      const catalog = await must(clientFrom(opts).GET('/v1/catalog'));
      print(opts, catalog, () => catalogLines(catalog));
    },
  );

  apiCommand(
    program
      .command('apply')
      .description('从 JSON 或 YAML 文件提交一个场景的申请（即 POST /v1/applications 的请求体）')
      .argument('<file>', '申请文件，例如 application.yaml（- 表示从标准输入读取）'),
  ).action(async (file: string, opts: ApiOptions) => {
    const text = readText(file, 'application');
    const body = /\.ya?ml$/i.test(file) ? (await import('yaml')).parse(text) : JSON.parse(text);
    const app = await must(clientFrom(opts).POST('/v1/applications', { body }));
    print(opts, app, () => applicationLines(app));
  });

  apiCommand(
    program
      .command('jobs')
      .description('你的作业，最新的在前')
      .option('--contract <id>', '只列此合约的作业')
      .addOption(new Option('--status <status>', '只列此状态的作业').choices(JOB_STATUSES))
      .option('--since <iso-time>', '在此时刻或之后提交的')
      .option('--limit <n>', '最多列出的条数', positiveInt, 50),
  ).action(listJobs);

  apiCommand(
    program
      .command('download')
      .description('下载已发布的输出及其签名清单，并相互校验')
      .argument('<output>', '输出编号')
      .addOption(new Option('--format <format>', '文件格式').choices(['csv', 'json', 'parquet']).default('csv'))
      .option('--out <file>', '数据写入的位置（默认：<output>.<format>；签名清单在旁边，扩展名 .jws）'),
  ).action(download);
}
