import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION, contractFor, TEST_OVERRIDE, type TestWorld } from '../helpers.ts';
import { cliWorld, runPds } from '../support/pds.ts';

/**
 * The operator's and reviewers' commands over a real HTTP server, through the typed client:
 * login, catalog, apply, review, decide, validate, submit --wait, jobs, download (every form,
 * verified) and verify-output — each with --json.
 */
describe('pds over the API', () => {
  let world: TestWorld;
  let server: string;
  let configDir: string;
  const cli = cliWorld();
  beforeAll(() => {
    ({ world, server, configDir } = cli);
  });

  const pds = runPds;
  const json = async <T = Record<string, unknown>>(...args: string[]) =>
    JSON.parse((await pds(...args, '--json')).out) as T;

  it('runs an operator’s whole task: sign in, apply, (review, decide), validate, submit --wait, list, download and verify', async () => {
    const operator = await world.token('operator', 'org-a', 'li@org-a');
    const login = await pds('login', '--server', server, '--token', operator);
    expect(login.out).toContain(`已登录 ${server}：li@org-a（org-a；授权运营单位 (operator)）`);
    expect((await pds('whoami')).out).toBe('li@org-a（org-a；授权运营单位 (operator)）');
    const profile = path.join(configDir, 'profile.json');
    expect(fs.statSync(profile).mode & 0o777).toBe(0o600);
    expect(await json('whoami')).toEqual({ sub: 'li@org-a', org: 'org-a', roles: ['operator'] });

    const catalog = await json<{
      datasets: { name: string; columns: { name: string; masking: { allowed: string[] } | null }[] }[];
    }>('catalog');
    expect(
      catalog.datasets.find((d) => d.name === 'population')?.columns.find((c) => c.name === 'income')?.masking?.allowed,
    ).toContain('noise');
    const shown = (await pds('catalog')).out;
    expect(shown).toMatch(/^population {2}\S+（市公安局，\S+更新）$/m);
    expect(shown).toMatch(/^ {2}列\s+名称\s+类型\s+分级\s+标识符类型\s+可选脱敏规则（默认在前）$/m);
    expect(shown).toMatch(/^ {2}religion\s.*敏感属性\s+负面清单：不可申请$/m);

    const file = path.join(world.dataDir, 'application.yaml');
    fs.writeFileSync(
      file,
      (await import('yaml')).stringify({
        ...APPLICATION,
        datasets: [{ dataset: 'population', columns: ['district', 'education', 'income'] }],
      }),
    );
    const app = await json<{ id: string; status: string }>('apply', file);
    expect(app.status).toBe('pending');

    // the provider and the bureau, with their own tokens on the command line (the profile stays the operator's)
    const provider = await world.token('provider', 'org-psb');
    await pds(
      'review',
      'application',
      app.id,
      '--dataset',
      'population',
      '--decision',
      'approve',
      '--server',
      server,
      '--token',
      provider,
    );
    const bureau = await world.token('bureau', 'org-bureau');
    // --wait follows the snapshot build until the contract is signed
    const decided = await json<{ contractId: string; contract: { status: string } }>(
      'review',
      'decision',
      app.id,
      '--decision',
      'approve',
      '--reason',
      '合规',
      '--override',
      TEST_OVERRIDE.reason,
      '--wait',
      '--server',
      server,
      '--token',
      bureau,
    );
    expect(decided.contract.status).toBe('active');
    const contract = decided.contractId;
    // the bureau's worker register through a running API (pds workers --api)
    const added = await json<{ worker: { id: string }; credential: string }>(
      'workers',
      'add',
      '--name',
      'site-b',
      '--api',
      server,
      '--token',
      bureau,
    );
    expect(added.credential.length).toBeGreaterThan(20);
    const registered = await json<{ id: string }[]>('workers', 'list', '--api', server, '--token', bureau);
    expect(registered.map((w) => w.id)).toContain(added.worker.id);
    expect((await pds('workers', 'list', '--api', server, '--token', bureau)).out).toMatch(
      new RegExp(
        `^工作节点\\s+状态\\s+名称\\s+凭证到期\\s+撤销\\n[- ]+\\n${added.worker.id}\\s+生效中 \\(active\\)\\s+site-b\\s+\\d{4}-`,
      ),
    );
    expect(contract).toMatch(/^ctr_/);

    const sqlFile = path.join(world.dataDir, 'query.sql');
    fs.writeFileSync(sqlFile, 'SELECT district, count(*) AS n FROM population GROUP BY district');
    expect(await pds('validate', '--contract', contract, sqlFile)).toMatchObject({ code: 0 });
    const refused = await pds(
      'validate',
      '--contract',
      contract,
      '--sql',
      'SELECT religion, count(*) AS n FROM population GROUP BY religion',
    );
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/column religion is not in contract/);

    const job = await json<{ id: string; status: string; outputId: string }>(
      'submit',
      '--contract',
      contract,
      sqlFile,
      '--wait',
    );
    expect(job.status).toBe('released');
    const listed = await json<{ jobs: { id: string }[] }>('jobs', '--contract', contract);
    expect(listed.jobs.map((j) => j.id)).toContain(job.id);

    // feedback to the provider, and the provider's answer, from the command line
    const filed = await json<{ id: string; provider: string }>(
      'feedback',
      'file',
      'population',
      '--contract',
      contract,
      '--subject',
      '收入缺失',
      '--body',
      '约 3% 为空',
    );
    expect(filed.provider).toBe('org-psb');
    const inbox = (await pds('feedback', 'list', '--server', server, '--token', provider, '--open')).out;
    expect(inbox).toMatch(
      new RegExp(`^${filed.id}\\s+population\\s+数据质量\\s+应于 \\d{4}-\\d\\d-\\d\\d 前答复\\s+收入缺失$`, 'm'),
    );
    expect(
      await json('feedback', 'answer', filed.id, '--body', '已补录', '--server', server, '--token', provider),
    ).toMatchObject({
      answer: { body: '已补录' },
    });

    for (const format of ['csv', 'json', 'parquet']) {
      const out = path.join(world.dataDir, `result.${format}`);
      const got = await json<{ ok: boolean; file: string }>('download', job.outputId, '--format', format, '--out', out);
      expect(got).toMatchObject({ ok: true, file: out });
      const verified = await pds('verify-output', out, `${out}.jws`, '--jwks', `${server}/.well-known/jwks.json`);
      expect(verified, format).toMatchObject({ code: 0 });
      expect(verified.out).toContain(`是输出 ${job.outputId}（合约 ${contract}）的 ${format} 文件`);
      // one byte changed: the offline check says so and exits 1
      const bytes = fs.readFileSync(out);
      bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 1;
      fs.writeFileSync(out, bytes);
      const bad = await pds('verify-output', out, `${out}.jws`, '--jwks', `${server}/.well-known/jwks.json`);
      expect(bad.code, format).toBe(1);
      expect(bad.out).toMatch(/^校验不一致：/);
    }
  });

  it('names what is wrong: not signed in, a bad server URL, a refusal from the API', async () => {
    fs.rmSync(path.join(configDir, 'profile.json'), { force: true });
    await expect(pds('jobs')).rejects.toMatchObject({
      code: 'ERR_AUTH_MISSING_TOKEN',
      detail: expect.stringMatching(/not signed in/),
    });
    await expect(pds('login', '--server', 'ftp://x', '--token', 't')).rejects.toThrow(/http:\/\/ or https:\/\//);
    await expect(pds('jobs', '--server', server, '--token', 'not-a-token')).rejects.toMatchObject({
      code: 'ERR_AUTH_INVALID_TOKEN',
    });
  });

  it('pds preview shows a linked dp query’s ε and each statistic’s error before it runs, charging nothing', async () => {
    const operator = await world.token('operator', 'org-a', 'li@org-a');
    const contract = await contractFor(world, {
      ...APPLICATION,
      mode: 'dp',
      datasets: [
        { dataset: 'population', columns: ['district'] },
        { dataset: 'medical_visit', columns: ['hospital', 'cost'] },
      ],
    });
    const sql =
      'SELECT m.hospital, count(*) AS visits, avg(m.cost) AS mean_cost FROM population p JOIN medical_visit m ON p.pds_unit = m.pds_unit GROUP BY m.hospital';
    const args = ['--contract', contract, '--sql', sql, '--dp-bound', 'cost=0:5000', '--dp-groups', '3'];
    await pds('login', '--server', server, '--token', operator);
    const shown = await pds('preview', ...args);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^本次消耗 ε\s+1（δ /m);
    // three groups of five rows a person, over half of ε 1 (rows and the sum of costs share it)
    expect(shown.out).toMatch(/^visits\s+count\s+—\s+30\s+±\d+$/m);
    expect(shown.out).toMatch(/^mean_cost\s+avg\s+cost\s+—\s+±[\d.]+（\d+ 人）/m);
    // more groups than the policy's ceiling: refused, naming the field
    await expect(pds('preview', ...args.slice(0, -1), '99')).rejects.toThrow(
      /maxGroupsPerUnit 99 is above the policy's ceiling of 10/,
    );
  });
});
