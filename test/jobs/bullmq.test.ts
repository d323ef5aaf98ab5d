import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPlatform } from '../../src/platform/index.ts';
import { createServer } from '../../src/api/index.ts';
import {
  approvedContract,
  buildWorld,
  silentLogger,
  testConfig,
  waitForJob,
  PDS_ENTRY,
  SLOW_SQL,
  submitJob,
  until,
  type TestWorld,
} from '../helpers.ts';
import { alive, CRASH_TRIALS, descendants } from '../support/processes.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

/**
 * The BullMQ executor against a real redis-server and real `pds worker` processes: a worker
 * killed mid-job, Redis restarted empty with jobs queued, the API restarted with jobs running —
 * nothing is lost and nothing is released twice.
 */

const SLOW = SLOW_SQL;
const QUICK = 'SELECT district, count(*) AS n FROM population GROUP BY district';

describe('BullMQ executor and pds worker', () => {
  let redis: TestRedis;
  let world: TestWorld;
  let api: URL;
  let contractId: string;
  let op: string;
  const workers: ChildProcess[] = [];

  async function startWorker(opts: { concurrency?: number; tmpDir?: string } = {}): Promise<ChildProcess> {
    // each worker is registered by the bureau and signs in with its own credential
    const { credential } = await world.platform.workers.register(
      { sub: 'bureau-user@org-bureau', org: 'org-bureau', roles: ['bureau'] },
      { name: `test worker ${workers.length + 1}` },
    );
    const child = spawn(
      process.execPath,
      [
        ...PDS_ENTRY,
        'worker',
        '--data-dir',
        world.dataDir,
        '--api',
        api.toString(),
        '--concurrency',
        String(opts.concurrency ?? 1),
        '--lock-ms',
        '2000',
      ],
      {
        env: {
          ...process.env,
          REDIS_URL: redis.url.toString(),
          LOG_LEVEL: 'info',
          PDS_WORKER_TOKEN: credential,
          ...(opts.tmpDir ? { TMPDIR: opts.tmpDir } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    workers.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`worker did not start: ${out}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('worker ready')) {
          clearTimeout(timer);
          resolve(child);
        }
      });
      child.stderr!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited ${code}: ${out}`));
      });
    });
  }

  const stopWorkers = async () => {
    await Promise.all(
      workers.splice(0).map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) {
              resolve();
              return;
            }
            w.once('exit', () => resolve());
            w.kill('SIGKILL');
          }),
      ),
    );
  };

  const submit = (sql: string) => submitJob(world, op, contractId, sql);

  const status = async (id: string) =>
    (await world.platform.store.one<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [id]))!.status;
  const outputsOf = (id: string) =>
    world.platform.store.all<{ status: string }>('SELECT status FROM outputs WHERE job_id = $1', [id]);
  const releases = async (id: string) =>
    (
      await world.platform.store.all('SELECT 1 FROM audit_log WHERE object_id = $1 AND action = $2', [
        id,
        'job.released',
      ])
    ).length;

  beforeAll(async () => {
    redis = await startRedis();
    world = await buildWorld({ rows: 4000, config: { redisUrl: redis.url, reconcileMs: 500, workerLeaseMs: 3000 } });
    await world.server.listen({ port: 0, host: '127.0.0.1' });
    api = new URL(`http://127.0.0.1:${(world.server.server.address() as { port: number }).port}`);
    contractId = await approvedContract(world);
    op = await world.token('operator', 'org-a');
  }, 60_000);
  afterEach(stopWorkers);
  afterAll(async () => {
    await stopWorkers();
    await world.close();
    await redis.stop();
  });

  it('runs jobs in a separate worker process, the same states as embedded', async () => {
    await startWorker({ concurrency: 2 });
    const ok = await submit(QUICK);
    const refused = await submit('SELECT district, max(pds_unit) FROM population GROUP BY 1');
    expect(await waitForJob(world, op, ok)).toMatchObject({ status: 'released', attempts: 1 });
    expect(await waitForJob(world, op, refused)).toMatchObject({
      status: 'rejected',
      reasons: [{ code: 'ERR_SQL_SHAPE_NOT_ALLOWED', layer: 'analysis' }],
    });
    // the audit names the worker that took the snapshot into a run
    const started = await world.platform.store.all<{ actor: string; role: string; details: string }>(
      `SELECT actor, role, details FROM audit_log WHERE object_id = $1 AND action = 'job.started'`,
      [ok],
    );
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ role: 'worker', actor: expect.stringMatching(/^wrk_/) });
    expect(JSON.parse(started[0]!.details)).toEqual({
      executor: 'bullmq',
      attempt: 1,
      worker: started[0]!.actor,
      osSandbox: 'bubblewrap',
    });
  }, 60_000);

  it('a cancelled job stops in its worker and stays cancelled', async () => {
    await startWorker();
    const id = await submit(SLOW);
    await until('the job to run', async () => (await status(id)) === 'running');
    const res = await world.server.inject({
      method: 'POST',
      url: `/v1/jobs/${id}/cancel`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(res.json()).toMatchObject({ status: 'cancelled' });
    const next = await submit(QUICK); // the worker is free again soon: the cancelled run was interrupted
    expect(await waitForJob(world, op, next, 20_000)).toMatchObject({ status: 'released' });
    expect(await status(id)).toBe('cancelled');
    expect(await outputsOf(id)).toHaveLength(0);
  }, 60_000);

  it('a worker killed with SIGKILL mid-job: the job runs again in another worker; one output, one release', async () => {
    const first = await startWorker();
    const id = await submit(SLOW);
    await until('the job to run', async () => (await status(id)) === 'running');
    // killed mid-query; the next worker takes the job over once the dead one's lease runs out
    first.kill('SIGKILL');
    await startWorker();
    const job = await waitForJob(world, op, id, 60_000);
    expect(job).toMatchObject({ status: 'released', attempts: 2 });
    expect(await outputsOf(id)).toHaveLength(1);
    expect(await releases(id)).toBe(1);
  }, 90_000);

  it(`${CRASH_TRIALS} workers killed at random points: no runner or temp file left; each job ends once`, async () => {
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-worker-trials-'));
    const ids: string[] = [];
    try {
      for (let trial = 0; trial < CRASH_TRIALS; trial++) {
        const worker = await startWorker({ concurrency: 2, tmpDir });
        for (const sql of [SLOW, QUICK]) {
          const res = await world.server.inject({
            method: 'POST',
            url: '/v1/jobs',
            headers: { authorization: `Bearer ${op}` },
            payload: { contractId, sql },
          });
          if (res.statusCode === 202) ids.push(res.json().id as string);
          else expect(res.statusCode, res.body).toBe(429); // the contract's quota of unfinished jobs
        }
        // a random point: claiming, starting its runner, mid-query, handing the outcome over
        await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 1500)));
        const family = descendants(worker.pid!);
        worker.kill('SIGKILL');
        await until('the killed worker and every runner it started are gone', () =>
          [worker.pid!, ...family].every((p) => !alive(p)),
        );
      }
      // one worker takes over what was left: each job ends once, with one output and one release at most
      const last = await startWorker({ concurrency: 2, tmpDir });
      for (const id of ids) {
        const job = await waitForJob(world, op, id, 120_000);
        expect(['released', 'held', 'failed', 'rejected']).toContain(job.status);
        expect((await outputsOf(id)).length).toBeLessThanOrEqual(1);
        expect(await releases(id)).toBeLessThanOrEqual(1);
      }
      // the dead workers' temp folders went when the next worker started
      expect(fs.readdirSync(tmpDir).filter((f) => f.startsWith('pds-worker-'))).toEqual([`pds-worker-${last.pid}`]);
    } finally {
      await stopWorkers();
      fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  }, 600_000);

  it('Redis restarted empty with jobs queued: the store puts them back; none lost', async () => {
    const ids = [await submit(QUICK), await submit(QUICK), await submit(QUICK)];
    await redis.kill();
    ids.push(await submit(QUICK)); // accepted while Redis is down
    await redis.start();
    await startWorker({ concurrency: 2 });
    for (const id of ids) expect(await waitForJob(world, op, id, 60_000)).toMatchObject({ status: 'released' });
    for (const id of ids) expect(await outputsOf(id)).toHaveLength(1);
  }, 90_000);

  it('the API restarted with a job running: the worker hands its outcome to the new API; one output, one release', async () => {
    await startWorker();
    const id = await submit(SLOW);
    await until('the job to run', async () => (await status(id)) === 'running');
    const { port } = world.server.server.address() as { port: number };
    await world.server.close();
    await world.platform.close();
    await new Promise((r) => setTimeout(r, 3000)); // the worker finishes meanwhile and finds no API
    const platform = await createPlatform(
      testConfig(world.dataDir, { redisUrl: redis.url, reconcileMs: 500, workerLeaseMs: 3000 }),
      silentLogger,
    );
    const server = await createServer(platform, silentLogger);
    await server.listen({ port, host: '127.0.0.1' });
    Object.assign(world, { platform, server });
    expect(await waitForJob(world, op, id, 60_000)).toMatchObject({ status: 'released', attempts: 1 });
    expect(await outputsOf(id)).toHaveLength(1);
    expect(await releases(id)).toBe(1);
  }, 90_000);
});
