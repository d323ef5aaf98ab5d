import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { issueLoginLink } from '../../src/console/index.ts';
import { APPLICATION, contractFor, type TestWorld } from '../helpers.ts';
import { cliWorld, runPds } from '../support/pds.ts';

const run = promisify(execFile);

/**
 * Each role's queue from the command line over a real HTTP server (issue 33): the provider's
 * reviews, the bureau's held outputs, a job's thread; the risk preview of `pds apply` and the dp
 * price in `pds validate` as tables; `--json` as the API answers; the console's manifest file and
 * verify command the CLI's; the store a running server holds answered with its `--api` route.
 */
describe('pds queues and tables over the API', () => {
  let world: TestWorld;
  let server: string;
  const cli = cliWorld();
  beforeAll(() => {
    ({ world, server } = cli);
  });

  /** One command over the API as `token`. */
  const pds = (token: string, ...args: string[]) => runPds(...args, '--server', server, '--token', token);
  const json = async <T = Record<string, unknown>>(token: string, ...args: string[]) =>
    JSON.parse((await pds(token, ...args, '--json')).out) as T;

  it('apply shows the risk preview as a table; the provider’s queue lists the review, another provider’s does not', async () => {
    const operator = await world.token('operator', 'org-a', 'li@org-a');
    const file = path.join(world.dataDir, 'application.json');
    fs.writeFileSync(file, JSON.stringify(APPLICATION));
    const shown = await pds(operator, 'apply', file);
    expect(shown.out).toMatch(/^申请\s+app_/m);
    expect(shown.out).toMatch(/^数据集\s+准标识符\s+记录数\s+等价类\s+k\s+检察官风险\s+平均风险\s+低于 k 的等价类/m);
    expect(shown.out).toMatch(/^population\s+\S+\s+3000\s+\d+\s+\d+ [<≥] \d+\s+[\d.]+ %/m);
    expect(shown.out).toContain('警告（批准时须说明理由）');
    expect(shown.out).not.toContain('{"');
    const app = await json<{ id: string; risk: { population: { k: number } } }>(operator, 'apply', file);
    expect(typeof app.risk.population.k).toBe('number');

    const psb = await world.token('provider', 'org-psb');
    const queue = await pds(psb, 'reviews');
    expect(queue.out).toMatch(
      new RegExp(`^${app.id}\\s+population\\s+org-a\\s+区县收入结构 .*待审核 \\(pending\\)$`, 'm'),
    );
    expect(queue.out).toContain('审核：pds review application <申请> --dataset <数据集>');
    expect(await json<object[]>(psb, 'reviews')).toContainEqual(
      expect.objectContaining({ applicationId: app.id, dataset: 'population', status: 'pending' }),
    );
    expect((await pds(await world.token('provider', 'org-amr'), 'reviews')).out).toBe('没有待处理的审核');

    await pds(psb, 'review', 'application', app.id, '--dataset', 'population', '--decision', 'approve');
    const pending = await json<{ applicationId: string }[]>(psb, 'reviews');
    expect(pending.map((r) => r.applicationId)).not.toContain(app.id);
    expect((await pds(psb, 'reviews', '--status', 'all')).out).toMatch(
      new RegExp(`^${app.id}\\s.*已批准 \\(approved\\)$`, 'm'),
    );
  });

  it('the bureau’s held-output queue, votes that request changes, and the job’s thread for both sides', async () => {
    const contract = await contractFor(
      world,
      {
        ...APPLICATION,
        mode: 'custom',
        scenario: { name: '自定义分析', purpose: '模型研发' },
        datasets: [{ dataset: 'population', columns: ['district', 'education', 'income'] }],
      },
      { operatorOrg: 'org-c' },
    );
    const operator = await world.token('operator', 'org-c', 'zhao@org-c');
    const submitted = await pds(
      operator,
      'submit',
      '--contract',
      contract,
      '--sql',
      'SELECT district, education, income FROM population WHERE income > 30000 ORDER BY income DESC LIMIT 10',
      '--wait',
    );
    expect(submitted.out).toMatch(/^job_\S+：待人工审核 \(held\) → 输出 out_\S+$/m);
    const jobId = /^(job_\S+)：/m.exec(submitted.out)![1]!;
    const outputId = / → 输出 (out_\S+)$/m.exec(submitted.out)![1]!;

    const alice = await world.token('bureau', 'org-bureau', 'alice@bureau');
    const bob = await world.token('bureau', 'org-bureau', 'bob@bureau');
    const held = await pds(alice, 'outputs', '--held');
    expect(held.out).toMatch(
      new RegExp(`^${outputId}\\s+${jobId}\\s+${contract}\\s+待人工审核 \\(held\\)\\s+\\d+\\s+0/2`, 'm'),
    );
    expect(held.out).toContain('投票：pds review output <输出>');
    expect(held.out).toContain('审核材料：pds outputs review <输出>');

    // the review packet, as a reviewer reads it before voting (--server, --token, --json after the id reach it)
    const packet = await pds(alice, 'outputs', 'review', outputId);
    expect(packet.out).toMatch(
      new RegExp(`^输出 ${outputId}（作业 ${jobId}，合约 ${contract}）：待人工审核 \\(held\\)，票数 0/2$`, 'm'),
    );
    expect(packet.out).toMatch(
      /^提交的 SQL：\n {4}SELECT district, education, income FROM population WHERE income > 30000/m,
    );
    expect(packet.out).toMatch(/^ {2}模式\s+定制 \(custom\)$/m);
    expect(packet.out).toMatch(/^ {2}检查\s+结果\s+未通过时\s+参数\s+隐藏\s+记录$/m);
    expect(packet.out).toMatch(/^ {2}标识符扫描 \(identifier-scan\)\s+通过\s+拒绝发布\s+kinds=id-number,/m);
    expect(packet.out).toMatch(/^ {2}人工审核 \(review\)\s+通过\s/m);
    expect(packet.out).toMatch(/^结果（前 \d+ 行，共 \d+ 行）：\n {2}district\s+education\s+income$/m);
    expect(packet.out).toMatch(/^模拟数据重放（同一 SQL 在 \d+ 行模拟数据上运行/m);
    expect(packet.out).toContain('（尚无您可见的投票');
    expect(packet.out).toContain(`投票：pds review output ${outputId} --decision`);
    const machine = JSON.parse((await pds(alice, 'outputs', 'review', outputId, '--json')).out);
    expect(machine).toMatchObject({ output: { id: outputId, status: 'held' }, job: { id: jobId } });
    expect((await json<{ id: string }[]>(alice, 'outputs', '--status', 'held')).map((o) => o.id)).toContain(outputId);

    await pds(alice, 'review', 'output', outputId, '--decision', 'request-changes', '--reason', '去掉收入列');
    await pds(bob, 'review', 'output', outputId, '--decision', 'request-changes', '--reason', '收入只给区间');
    expect((await json<{ id: string }[]>(alice, 'outputs', '--held')).map((o) => o.id)).not.toContain(outputId);

    const thread = await pds(operator, 'thread', jobId);
    expect(thread.out).toMatch(/^#\s+时间\s+作者\s+角色\s+内容$/m);
    expect(thread.out).toContain('去掉收入列');
    const reply = await json<{ seq: number; body: string; role: string }>(
      operator,
      'thread',
      jobId,
      '--post',
      '已去掉收入列，重新提交',
    );
    expect(reply).toMatchObject({ body: '已去掉收入列，重新提交', role: 'operator' });
    const read = await pds(bob, 'thread', jobId);
    expect(read.out).toMatch(
      new RegExp(
        `^${reply.seq}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+zhao@org-c \\(org-c\\)\\s+授权运营单位 \\(operator\\)\\s+已去掉收入列，重新提交$`,
        'm',
      ),
    );
    expect(await json<object[]>(bob, 'thread', jobId)).toHaveLength(reply.seq);
  });

  it('validate on a dp contract hides the engine’s __dp_ columns and shows the ε it would spend and each error', async () => {
    const contract = await contractFor(world, {
      ...APPLICATION,
      mode: 'dp',
      datasets: [
        { dataset: 'population', columns: ['district'] },
        { dataset: 'medical_visit', columns: ['hospital', 'cost'] },
      ],
    });
    const operator = await world.token('operator', 'org-a', 'li@org-a');
    const args = [
      '--contract',
      contract,
      '--sql',
      'SELECT m.hospital, count(*) AS visits, avg(m.cost) AS mean_cost FROM population p JOIN medical_visit m ON p.pds_unit = m.pds_unit GROUP BY m.hospital',
      '--dp-bound',
      'cost=0:5000',
    ];
    // the API's answer names the columns the engine returns, the dp rewrite's among them
    const answer = await json<{ valid: boolean; mode: string; columns: { name: string }[] }>(
      operator,
      'validate',
      ...args,
    );
    expect(answer).toMatchObject({ valid: true, mode: 'dp' });
    expect(answer.columns.some((c) => c.name.startsWith('__dp_'))).toBe(true);
    expect(answer).not.toHaveProperty('dp');

    const shown = await pds(operator, 'validate', ...args);
    expect(shown.code).toBe(0);
    expect(shown.out).not.toContain('__dp_');
    expect(shown.out).toMatch(/^输出列：hospital VARCHAR，visits（count，加噪），mean_cost（avg，加噪）$/m);
    expect(shown.out).toMatch(/^本次消耗 ε\s+1（δ [\d.e-]+）$/m);
    expect(shown.out).toMatch(/^visits\s+count\s+—\s+[\d.]+\s+±\d+$/m);
    expect(shown.out).toMatch(/^mean_cost\s+avg\s+cost\s+—\s+±[\d.]+（\d+ 人）/m);
    // pds preview prints the same price
    const preview = await pds(operator, 'preview', ...args);
    expect(preview.out).toMatch(/^本次消耗 ε\s+1（δ/m);
    expect(preview.out).toMatch(/^之后剩余 ε\s+[\d.]+$/m);
  });

  it('the console names the manifest as the CLI writes it, and its verify command runs as printed', async () => {
    const contract = await contractFor(world, {
      ...APPLICATION,
      datasets: [{ dataset: 'population', columns: ['district'] }],
    });
    const operator = await world.token('operator', 'org-a', 'li@org-a');
    const job = await json<{ status: string; outputId: string }>(
      operator,
      'submit',
      '--contract',
      contract,
      '--sql',
      'SELECT district, count(*) AS n FROM population GROUP BY district',
      '--wait',
    );
    expect(job.status).toBe('released');
    const dir = path.join(world.dataDir, 'downloads');
    fs.mkdirSync(dir, { recursive: true });
    const got = await json<{ file: string; manifest: string }>(
      operator,
      'download',
      job.outputId,
      '--out',
      path.join(dir, `${job.outputId}.csv`),
    );
    expect(path.basename(got.manifest)).toBe(`${job.outputId}.csv.jws`);

    const link = await issueLoginLink(world.platform.keys, {
      sub: 'li@org-a',
      org: 'org-a',
      role: 'operator',
      ttlSeconds: 60,
    });
    const signIn = await world.server.inject({ method: 'POST', url: '/console/login', payload: { link } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const manifest = await world.server.inject({
      method: 'GET',
      url: `/console/outputs/${job.outputId}/manifest.jws`,
      headers: { cookie },
    });
    expect(manifest.headers['content-disposition']).toBe(`attachment; filename="${path.basename(got.manifest)}"`);
    expect(manifest.body.trim()).toBe(fs.readFileSync(got.manifest, 'utf8').trim());

    const page = await world.server.inject({
      method: 'GET',
      url: `/console/outputs/${job.outputId}`,
      headers: { cookie },
    });
    const printed = /命令行校验：<code>([^<]+)<\/code>/
      .exec(page.body)![1]!
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace('<服务器地址>', server);
    const [cmd, verb, file, jws, ...rest] = printed.split(/\s+/);
    expect([cmd, verb, file, jws]).toEqual([
      'pds',
      'verify-output',
      `${job.outputId}.csv`,
      path.basename(got.manifest),
    ]);
    const verified = await runPds(verb!, path.join(dir, file!), path.join(dir, jws!), ...rest);
    expect(verified.code).toBe(0);
    expect(verified.out).toContain(`是输出 ${job.outputId}（合约`);
  });

  it('while this server holds the store, audit and report commands say so and go through --api', async () => {
    const direct = await run(
      process.execPath,
      [path.join(PACKAGE_ROOT, 'bin', 'pds.js'), 'audit', 'verify', '--data-dir', world.dataDir],
      {
        env: { PATH: process.env.PATH },
        timeout: 120_000,
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain(
      `ERR_STORE_LOCKED: 控制库 ${path.join(world.dataDir, 'control.duckdb')} 正被另一个进程占用（PID ${process.pid}）`,
    );
    expect(direct.stderr).toContain('pds audit verify --api <url>');

    const risk = await world.token('risk', 'org-bureau', 'risk@bureau');
    const viaApi = (...args: string[]) => runPds(...args, '--api', server, '--token', risk);
    const verified = await viaApi('audit', 'verify');
    expect(verified.code).toBe(0);
    expect(verified.out).toMatch(/^审计链完整：\d+ 条记录，\d+ 个签名检查点，链头 [0-9a-f]{64}$/);
    const out = path.join(world.dataDir, 'audit.jsonl');
    await viaApi('audit', 'export', '--out', out);
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^\{"type":"entry"/);
    const report = await viaApi('report', '--domain', '--out', path.join(world.dataDir, 'reports'), '--json');
    expect(JSON.parse(report.out)).toMatchObject({ id: expect.stringMatching(/^rpt_/), files: expect.any(Object) });
  });
});
