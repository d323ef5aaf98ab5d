/**
 * Jobs bench (issue 7): end-to-end throughput (jobs/s) and submit→released latency (p50/p95) of
 * small aggregate jobs, embedded executor (concurrency 2) vs BullMQ with 2 `pds worker` processes
 * (concurrency 1 each), same run, same data, same burst of jobs.
 * Usage: npm run bench:jobs [-- --jobs N] (default 40). Needs redis-server for the BullMQ half.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createServer } from '../src/api/index.ts';
import { loadConfig, PACKAGE_ROOT } from '../src/config/index.ts';
import { seedDomain } from '../src/domain/index.ts';
import { createPlatform, type Platform } from '../src/platform/index.ts';
import { loaderArgs } from '../src/sandbox/index.ts';
import { percentiles } from './sandbox.ts';
import { contractFor, freePort } from './world.ts';

const argJobs = process.argv.indexOf('--jobs');
const JOBS = argJobs > 0 ? Number(process.argv[argJobs + 1]) : 40;
const SQL = 'SELECT district, count(*) AS n, avg(income) AS mean_income FROM population GROUP BY district';
const logger = pino({ level: 'silent' });

/** Submits a burst of jobs and waits for all; latency from the store's own timestamps. */
async function burst(
  platform: Platform,
  server: Awaited<ReturnType<typeof createServer>>,
  contractId: string,
  op: string,
) {
  const started = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const res = await server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}`, 'idempotency-key': `bench-${Date.now()}-${i}` },
      payload: { contractId, sql: SQL },
    });
    if (res.statusCode !== 202) throw new Error(`submit: ${res.statusCode} ${res.body}`);
    ids.push(res.json().id as string);
  }
  for (;;) {
    const rows = await platform.store.all<{ status: string }>(
      `SELECT status FROM jobs WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`,
      ids,
    );
    if (rows.every((r) => !['queued', 'running'].includes(r.status))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const elapsed = performance.now() - started;
  const rows = await platform.store.all<{ status: string; created_at: string; finished_at: string }>(
    `SELECT status, created_at, finished_at FROM jobs WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`,
    ids,
  );
  const released = rows.filter((r) => r.status === 'released');
  const latency = percentiles(released.map((r) => Date.parse(r.finished_at) - Date.parse(r.created_at)));
  return {
    jobs: JOBS,
    released: released.length,
    seconds: +(elapsed / 1000).toFixed(2),
    jobsPerSecond: +(JOBS / (elapsed / 1000)).toFixed(2),
    latencyMs: { p50: latency.p50, p95: latency.p95, max: latency.max },
  };
}

/** One job at a time on an otherwise idle system: submit → released from the store's timestamps. */
async function oneAtATime(
  platform: Platform,
  server: Awaited<ReturnType<typeof createServer>>,
  contractId: string,
  op: string,
  n = 21,
) {
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql: SQL },
    });
    const id = res.json().id as string;
    for (;;) {
      const row = await platform.store.one<{ status: string; created_at: string; finished_at: string | null }>(
        'SELECT status, created_at, finished_at FROM jobs WHERE id = $1',
        [id],
      );
      if (row && !['queued', 'running'].includes(row.status)) {
        // the first warms the contract's runner and plan, as a running service's would be
        if (i > 0 && row.status === 'released')
          latencies.push(Date.parse(row.finished_at!) - Date.parse(row.created_at));
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 100)); // idle between jobs
  }
  const p = percentiles(latencies);
  return { jobs: latencies.length, latencyMs: { p50: p.p50, p95: p.p95, max: p.max } };
}

async function run(dataDir: string, env: Record<string, string>, workers: number) {
  const port = await freePort();
  const config = loadConfig({
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    REDIS_URL: '',
    QUEUE_PREFIX: `bench-${process.pid}`,
    RECONCILE_MS: '1000',
    ...env,
  });
  const platform = await createPlatform(config, logger);
  const server = await createServer(platform, logger);
  await server.listen({ port, host: '127.0.0.1' });
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < workers; i++) {
      // each worker is registered and signs in with its own credential
      const { credential } = await platform.workers.register(
        { sub: 'bench@bureau', org: 'org-bureau', roles: ['bureau'] },
        { name: `bench worker ${i + 1}`, ttlDays: 1 },
      );
      const child = spawn(
        process.execPath,
        [
          ...loaderArgs(),
          path.join(PACKAGE_ROOT, 'src', 'cli', 'main.ts'),
          'worker',
          '--data-dir',
          dataDir,
          '--api',
          `http://127.0.0.1:${port}`,
          '--concurrency',
          '1',
        ],
        {
          env: {
            ...process.env,
            REDIS_URL: env.REDIS_URL!,
            QUEUE_PREFIX: config.queuePrefix,
            LOG_LEVEL: 'info',
            PDS_WORKER_TOKEN: credential,
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      children.push(child);
      await new Promise<void>((resolve) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('worker ready')) resolve();
        });
      });
    }
    await new Promise((r) => setTimeout(r, 1500)); // spare runners ready, as in a running service
    const { contractId, op } = await contractFor(platform, server);
    await burst(platform, server, contractId, op); // warm-up burst, not reported
    const measured = await burst(platform, server, contractId, op);
    return { ...measured, oneAtATime: await oneAtATime(platform, server, contractId, op) };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await server.close();
    await platform.close();
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-bench-jobs-'));
try {
  await seedDomain(root, { rows: 10_000, seed: 1 });
  // a burst bench: the per-contract quota of concurrent jobs would turn most of it away
  const policies = path.join(root, 'policies');
  fs.mkdirSync(policies);
  for (const f of fs.readdirSync(path.join(PACKAGE_ROOT, 'policies')))
    fs.copyFileSync(path.join(PACKAGE_ROOT, 'policies', f), path.join(policies, f));
  const sandbox = path.join(policies, 'sandbox.yaml');
  fs.writeFileSync(
    sandbox,
    fs
      .readFileSync(sandbox, 'utf8')
      .replace(/concurrentJobs: \d+/, 'concurrentJobs: 1000')
      .replace(/submissionsPerMinute: \d+/, 'submissionsPerMinute: 100000'),
  );
  process.env.POLICIES_DIR = policies;
  const embedded = await run(root, { EXECUTOR_CONCURRENCY: '2' }, 0);
  let bullmq: unknown = { skipped: 'redis-server is not installed' };
  if (spawnSync('redis-server', ['--version']).status === 0) {
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 500));
    try {
      bullmq = await run(root, { REDIS_URL: `redis://127.0.0.1:${port}` }, 2);
    } finally {
      redis.kill('SIGKILL');
    }
  }
  console.log(
    JSON.stringify(
      {
        machine: { cpus: os.cpus().length, node: process.version },
        note: 'small aggregate jobs (10,000-row snapshot) submitted in a burst; latency = store finished_at − created_at of released jobs; oneAtATime: the same job submitted alone, 20 times, on an idle system',
        embedded: { executorConcurrency: 2, ...embedded },
        bullmq: { workers: 2, concurrencyEach: 1, ...(bullmq as object) },
      },
      null,
      2,
    ),
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
