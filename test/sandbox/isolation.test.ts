import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { APPLICATION, approvedContract, buildWorld, tmpDataDir, waitForJob, type TestWorld } from '../helpers.ts';

/**
 * Item 3 of the sandbox issue, end to end over HTTP: resource attacks end `limit_exceeded` while
 * the API keeps answering and an honest job submitted alongside is released.
 */
describe('a resource attack leaves the API and other jobs unaffected', () => {
  let world: TestWorld;
  const policies = tmpDataDir('pds-pol-');
  beforeAll(async () => {
    for (const f of fs.readdirSync(path.join(PACKAGE_ROOT, 'policies')))
      fs.copyFileSync(path.join(PACKAGE_ROOT, 'policies', f), path.join(policies.dir, f));
    const sandbox = path.join(policies.dir, 'sandbox.yaml');
    fs.writeFileSync(
      sandbox,
      fs
        .readFileSync(sandbox, 'utf8')
        .replace('timeoutMs: 60000', 'timeoutMs: 2000')
        .replace('memoryLimit: 1GB', 'memoryLimit: 256MB'),
    );
    world = await buildWorld({ config: { policiesDir: policies.dir, executorConcurrency: 2 } });
    await world.server.listen({ port: 0, host: '127.0.0.1' });
  }, 60_000);
  afterAll(async () => {
    await world.close();
    policies.cleanup();
  });

  it('bombs end limit_exceeded; healthz answers meanwhile; an honest job is released', async () => {
    const contractId = await approvedContract(world);
    const op = await world.token('operator', 'org-a');
    const base = `http://127.0.0.1:${(world.server.server.address() as { port: number }).port}`;
    const submit = async (sql: string) => {
      const res = await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${op}`, 'content-type': 'application/json' },
        body: JSON.stringify({ contractId, sql }),
      });
      expect(res.status, await res.clone().text()).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const crossJoin = await submit(
      'SELECT a.education, count(*) FROM population a JOIN population b ON a.district = b.district JOIN population c ON b.district = c.district GROUP BY 1',
    );
    const recursive = await submit(
      'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t',
    );
    const honest = await submit('SELECT district, count(*) AS n FROM population GROUP BY district');

    // the API answers quickly while both bombs run
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const res = await fetch(`${base}/healthz`);
      latencies.push(performance.now() - started);
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Math.max(...latencies)).toBeLessThan(1000);

    for (const id of [crossJoin, recursive]) {
      const job = await waitForJob(world, op, id);
      expect(job.status).toBe('rejected');
      const reason = (job.reasons as { code: string; layer: string }[])[0]!;
      expect(reason.code).toBe('ERR_LIMIT_EXCEEDED');
      expect(['engine', 'process']).toContain(reason.layer);
    }
    const ok = await waitForJob(world, op, honest);
    expect(ok.status).toBe('released');
  }, 60_000);

  it('a custom-mode job runs and its output is held, never released at once', async () => {
    const contractId = await approvedContract(world, 'org-c', {
      ...APPLICATION,
      mode: 'custom',
      scenario: { name: '自定义分析', purpose: '模型研发' },
    });
    const op = await world.token('operator', 'org-c');
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: {
        contractId,
        sql: 'SELECT district, income FROM population WHERE income > 20000 ORDER BY income DESC LIMIT 20',
      },
    });
    expect(res.statusCode, res.body).toBe(202);
    const job = await waitForJob(world, op, res.json().id as string);
    expect(job.status).toBe('held');
    const data = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${String(job.outputId)}/data`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(data.statusCode).not.toBe(200);
  }, 60_000);
});
