import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { approvedContract, buildWorld, tmpDataDir, waitForJob, type TestWorld } from '../helpers.ts';

/** Submission: idempotency keys, per-contract quotas, and retries of infrastructure failures only. */
describe('job submission', () => {
  let world: TestWorld;
  let op: string;
  let contractId: string;
  const policies = tmpDataDir('pds-pol-');
  beforeAll(async () => {
    for (const f of fs.readdirSync(path.join(PACKAGE_ROOT, 'policies')))
      fs.copyFileSync(path.join(PACKAGE_ROOT, 'policies', f), path.join(policies.dir, f));
    const sandbox = path.join(policies.dir, 'sandbox.yaml');
    fs.writeFileSync(
      sandbox,
      fs
        .readFileSync(sandbox, 'utf8')
        .replace('concurrentJobs: 4', 'concurrentJobs: 2')
        .replace('jobsPerDay: 1000', 'jobsPerDay: 8')
        .replace('backoffMs: 500', 'backoffMs: 100')
        .replace('submissionsPerMinute: 60', 'submissionsPerMinute: 20'),
    );
    world = await buildWorld({ config: { policiesDir: policies.dir } });
    contractId = await approvedContract(world);
    op = await world.token('operator', 'org-a');
  }, 60_000);
  afterAll(async () => {
    await world.close();
    policies.cleanup();
  });

  const submit = (sql: string, key?: string) =>
    world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { contractId, sql },
      headers: { authorization: `Bearer ${op}`, ...(key ? { 'idempotency-key': key } : {}) },
    });
  const SQL = 'SELECT district, count(*) AS n FROM population GROUP BY district';

  it('a retried submission with the same Idempotency-Key returns the same job, also when retries race', async () => {
    const first = await submit(SQL, 'key-1');
    expect(first.statusCode).toBe(202);
    const again = await submit(SQL, 'key-1');
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);
    const mismatch = await submit('SELECT count(*) FROM population', 'key-1');
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.json().code).toBe('ERR_IDEMPOTENCY_MISMATCH');
    const raced = await Promise.all([submit(SQL, 'key-2'), submit(SQL, 'key-2'), submit(SQL, 'key-2')]);
    expect(new Set(raced.map((r) => r.json().id)).size).toBe(1);
    for (const r of [first, raced[0]!]) await waitForJob(world, op, r.json().id as string);
  });

  it('answers 429 with Retry-After past the concurrent and the daily quota', async () => {
    world.platform.executor.pause();
    const a = await submit(SQL);
    const b = await submit(SQL);
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    const c = await submit(SQL);
    expect(c.statusCode).toBe(429);
    expect(c.json().code).toBe('ERR_QUOTA_EXCEEDED');
    expect(Number(c.headers['retry-after'])).toBeGreaterThan(0);
    world.platform.executor.resume();
    for (const r of [a, b]) await waitForJob(world, op, r.json().id as string);
    // 2 + 2 jobs so far; the daily quota is 8
    for (let i = 0; i < 4; i++) await waitForJob(world, op, (await submit(SQL)).json().id as string);
    const over = await submit(SQL);
    expect(over.statusCode).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(86_000);
  });

  it('a flood of refused submissions is cut off per user before it fills the audit trail', async () => {
    const suspended = await approvedContract(world, 'org-f');
    const bureau = await world.token('bureau', 'org-bureau');
    await world.server.inject({
      method: 'POST',
      url: `/v1/contracts/${suspended}/suspend`,
      headers: { authorization: `Bearer ${bureau}` },
      payload: { reason: 'x' },
    });
    const send = async (sub: string) =>
      world.server.inject({
        method: 'POST',
        url: '/v1/jobs',
        payload: { contractId: suspended, sql: SQL },
        headers: { authorization: `Bearer ${await world.token('operator', 'org-f', sub)}` },
      });
    const codes: number[] = [];
    for (let i = 0; i < 21; i++) codes.push((await send('flooder@org-f')).statusCode);
    expect(codes.slice(0, 20).every((c) => c === 403)).toBe(true);
    const limited = await send('flooder@org-f');
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'ERR_RATE_LIMITED', detail: expect.stringContaining('at most 20') });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const audited = await world.platform.store.all('SELECT 1 FROM audit_log WHERE action = $1 AND object_id = $2', [
      'job.submission_refused',
      suspended,
    ]);
    expect(audited).toHaveLength(20);
    // the limit is the user's, not the organisation's
    expect((await send('colleague@org-f')).statusCode).toBe(403);
  });
});

describe('retries', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld({ rows: 4000 });
  }, 60_000);
  afterAll(() => world.close());

  /** Runner processes of this test process (they run runner-process.ts, under prlimit's exec). */
  function runnerPids(): number[] {
    const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    return out
      .split('\n')
      .filter((l) => l.includes('runner-process'))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  }

  it('a runner killed mid-job is an infrastructure failure: the job runs again and is released once', async () => {
    const contractId = await approvedContract(world);
    const op = await world.token('operator', 'org-a');
    const sql =
      "SELECT a.district, count(*) AS pairs FROM population a JOIN population b ON a.gender = b.gender WHERE a.income >= b.income AND contains(lower(a.district || b.education || a.education || b.district || a.district), '县') GROUP BY 1";
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql },
    });
    const id = res.json().id as string;
    for (let i = 0; i < 100; i++) {
      const job = await world.server.inject({
        method: 'GET',
        url: `/v1/jobs/${id}`,
        headers: { authorization: `Bearer ${op}` },
      });
      if (job.json().status === 'running') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    const pids = runnerPids();
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    const job = await waitForJob(world, op, id, 120_000);
    expect(job).toMatchObject({ status: 'released', attempts: 2 });
    const outputs = await world.platform.store.all('SELECT id FROM outputs WHERE job_id = $1', [id]);
    expect(outputs).toHaveLength(1);
    const audit = await world.platform.store.all<{ action: string }>(
      'SELECT action FROM audit_log WHERE object_id = $1 ORDER BY seq',
      [id],
    );
    expect(audit.map((a) => a.action)).toEqual([
      'job.submitted',
      'job.started',
      'job.retrying',
      'job.started',
      'job.released',
    ]);
  }, 150_000);

  it('a refusal is never retried', async () => {
    const contractId = await approvedContract(world, 'org-b');
    const op = await world.token('operator', 'org-b');
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: {
        contractId,
        // a resident ID number (valid check character) in the output: refused after the run
        sql: "SELECT '11010519491231002X' AS id, count(*) AS n FROM population",
      },
    });
    expect(await waitForJob(world, op, res.json().id as string)).toMatchObject({
      status: 'rejected',
      attempts: 1,
      reasons: [{ code: 'ERR_DISCLOSURE_REFUSED', layer: 'disclosure' }],
    });
  });
});
