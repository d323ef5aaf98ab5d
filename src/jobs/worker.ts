import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { SqlParser, disposeRunners, warmRunners } from '../sandbox/index.ts';
import { CANCEL_CHANNEL, JOB_QUEUE, redisConnection, type QueueJobData } from './bullmq.ts';
import { executeRun, type RunOutcome, type RunSpec } from './runs.ts';

/**
 * `pds worker`: takes jobs from Redis (BullMQ), claims each from the API, runs it in the sandbox
 * where the snapshots are, and posts the raw result back. It holds no keys and never writes the
 * control store; it needs REDIS_URL, the API's URL, a `worker` token, and read access to the
 * snapshots (the API's DATA_DIR/snapshots, mounted read-only on other machines).
 */

export interface WorkerOptions {
  redisUrl: URL;
  /** Key prefix in Redis, the API's QUEUE_PREFIX. */
  prefix: string;
  apiUrl: URL;
  token: string;
  concurrency: number;
  /** How long a job's lock lives without renewal: a worker killed mid-job is noticed after this. */
  lockDurationMs?: number;
  /** How long to keep trying to hand an outcome to an API that does not answer. */
  outcomeRetryMs?: number;
  logger: Logger;
}

export interface RunningWorker {
  close(): Promise<void>;
}

class ApiClient {
  constructor(private readonly base: URL, private readonly token: string) {}

  private async post(pathname: string, body: unknown): Promise<Response> {
    return fetch(new URL(pathname, this.base), {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
    });
  }

  async claim(jobId: string, rerun: boolean): Promise<RunSpec | undefined> {
    const res = await this.post('/v1/worker/claims', { jobId, rerun });
    if (res.status === 204) return undefined;
    if (!res.ok) throw new Error(`claim ${jobId}: ${res.status} ${await res.text()}`);
    return await res.json() as RunSpec;
  }

  /** Hands an outcome over, retrying while the API is away (a restart): losing it would mean running the job again. */
  async outcome(jobId: string, attempt: number, outcome: RunOutcome, retryMs: number, log: Logger): Promise<void> {
    const deadline = Date.now() + retryMs;
    for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
      try {
        const res = await this.post('/v1/worker/outcomes', { jobId, attempt, outcome });
        if (res.ok) return;
        if (res.status < 500) throw new Error(`outcome ${jobId}: ${res.status} ${await res.text()}`);
      } catch (err) {
        if (!(err instanceof TypeError) && !(err instanceof Error && /fetch failed/.test(err.message))) throw err;
      }
      if (Date.now() > deadline) throw new Error(`outcome ${jobId}: the API did not answer for ${retryMs} ms`);
      log.warn({ jobId, waitMs: wait }, 'API unreachable; will hand the outcome over again');
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const log = opts.logger;
  const api = new ApiClient(opts.apiUrl, opts.token);
  const parser = await SqlParser.create();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-worker-'));
  const running = new Map<string, AbortController>();
  warmRunners(opts.concurrency);

  const subscriber = redisConnection(opts.redisUrl);
  subscriber.on('error', (err) => log.warn({ err }, 'redis (cancellations)'));
  await subscriber.subscribe(`${opts.prefix}:${CANCEL_CHANNEL}`);
  subscriber.on('message', (_channel, jobId: string) => running.get(jobId)?.abort(new Error('cancelled')));

  const connection = redisConnection(opts.redisUrl);
  connection.on('error', (err) => log.warn({ err }, 'redis (queue)'));
  const worker = new Worker<QueueJobData>(JOB_QUEUE, async (job: Job<QueueJobData>) => {
    const { jobId } = job.data;
    // a second start of the same queue job means the first worker died with it
    const rerun = Boolean(job.data.rerun) || job.attemptsStarted > 1 || job.stalledCounter > 0;
    const spec = await api.claim(jobId, rerun);
    if (!spec) return;
    const controller = new AbortController();
    running.set(jobId, controller);
    try {
      log.info({ jobId, attempt: spec.attempt }, 'job started');
      const outcome = await executeRun(parser, spec, tmpDir, controller.signal);
      await api.outcome(jobId, spec.attempt, outcome, opts.outcomeRetryMs ?? 120_000, log);
      log.info({ jobId, ok: outcome.ok }, 'job done');
    } catch (err) {
      if (controller.signal.aborted) { log.info({ jobId }, 'job cancelled'); return; }
      throw err;
    } finally {
      running.delete(jobId);
    }
  }, {
    connection, prefix: opts.prefix, concurrency: opts.concurrency,
    lockDuration: opts.lockDurationMs ?? 30_000, stalledInterval: Math.max(1000, Math.floor((opts.lockDurationMs ?? 30_000) / 2)),
    maxStalledCount: 10,
  });
  worker.on('error', (err) => log.warn({ err }, 'worker'));
  worker.on('failed', (job, err) => log.error({ jobId: job?.data.jobId, err: err.message }, 'job failed in the worker'));
  await worker.waitUntilReady();
  log.info({ concurrency: opts.concurrency, queue: JOB_QUEUE }, 'worker ready');

  return {
    async close() {
      await worker.close();
      for (const c of running.values()) c.abort(new Error('worker stopping'));
      subscriber.disconnect();
      connection.disconnect();
      parser.dispose();
      disposeRunners();
      fs.rmSync(tmpDir, { recursive: true, force: true });
    },
  };
}
