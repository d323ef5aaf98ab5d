import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  CANCEL_CHANNEL,
  checkQueueJobData,
  checkRunSpec,
  JOB_QUEUE,
  type QueueJobData,
  type RunOutcome,
  type RunSpec,
} from '../protocol/index.ts';
import {
  configureOsSandbox,
  disposeRunners,
  executeRun,
  warmRunners,
  type OsSandboxSetting,
} from '../sandbox/index.ts';
import { SnapshotCache } from './snapshots.ts';

/**
 * `pds worker`: takes jobs from Redis (BullMQ), claims each from the API with its own credential
 * and the job's claim ticket, executes the SQL it is handed where the snapshots are, renews its
 * lease while the query runs, and posts the raw result back. It holds no keys, never writes the
 * control store and decides nothing about release (docs/architecture.md, "The run protocol").
 */

export interface WorkerOptions {
  redisUrl: URL;
  /** Key prefix in Redis, the API's QUEUE_PREFIX. */
  prefix: string;
  apiUrl: URL;
  /** This worker's own credential (`pdsw.<id>.<secret>`), from the bureau. */
  credential: string;
  /**
   * This worker's DATA_DIR: the API's snapshots are used from `snapshots/` when the disk is shared;
   * otherwise they are fetched from the API into `cache/snapshots/` (SnapshotCache).
   */
  dataDir: string;
  /** The cache of fetched snapshots' size (WORKER_CACHE_MB). Default 20 GiB. */
  cacheBytes?: number;
  concurrency: number;
  /** How long a job's queue lock lives without renewal: a worker killed mid-job is noticed after this. */
  lockDurationMs?: number;
  /** How long to keep trying to hand an outcome to an API that does not answer. */
  outcomeRetryMs?: number;
  logger: Logger;
  /** The OS layer around this worker's runners (SANDBOX_OS); `off` only when set explicitly. */
  sandboxOs: OsSandboxSetting;
}

export interface RunningWorker {
  close(): Promise<void>;
  /** The snapshots this worker runs on. */
  snapshots: SnapshotCache;
}

/** An answer of the API that says what to do, as opposed to a fault to retry. */
class Refused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A connection for workers: blocking commands wait, and commands wait out a reconnect. */
function redisConnection(url: URL): Redis {
  return new Redis(url.toString(), { maxRetriesPerRequest: null, enableReadyCheck: true });
}

class ApiClient {
  constructor(
    private readonly base: URL,
    private readonly credential: string,
  ) {}

  private async post(pathname: string, body: unknown): Promise<Response> {
    const res = await fetch(new URL(pathname, this.base), {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${this.credential}`, 'content-type': 'application/json' },
    });
    if (res.ok || res.status >= 500) return res;
    const problem = (await res.json().catch(() => ({}))) as { code?: string; detail?: string };
    throw new Refused(
      res.status,
      problem.code ?? `HTTP_${res.status}`,
      `${pathname}: ${res.status} ${problem.code ?? ''} ${problem.detail ?? ''}`.trim(),
    );
  }

  /** Claims a job, saying whether this worker runs it inside the OS layer (the audit and the risk reports show it). */
  async claim(data: QueueJobData, osSandbox: 'bubblewrap' | 'off'): Promise<RunSpec | undefined> {
    const res = await this.post('/v1/worker/claims', { ...data, osSandbox });
    if (res.status === 204) return undefined;
    if (!res.ok) throw new Error(`claim ${data.jobId}: ${res.status}`);
    const spec: unknown = await res.json();
    if (!checkRunSpec.Check(spec))
      throw new Error(`claim ${data.jobId}: the API answered something that is not a run spec`);
    return spec;
  }

  /** The snapshot of a run this worker holds, as a stream (SnapshotCache checks it). */
  async snapshot(spec: RunSpec): Promise<Response> {
    const url = new URL(`/v1/worker/snapshots/${spec.snapshot.sha256}`, this.base);
    url.searchParams.set('jobId', spec.jobId);
    url.searchParams.set('attempt', String(spec.attempt));
    const res = await fetch(url, { headers: { authorization: `Bearer ${this.credential}` } });
    if (res.ok || res.status >= 500) return res;
    const problem = (await res.json().catch(() => ({}))) as { code?: string; detail?: string };
    throw new Refused(
      res.status,
      problem.code ?? `HTTP_${res.status}`,
      `snapshot: ${res.status} ${problem.detail ?? ''}`,
    );
  }

  async renew(jobId: string, attempt: number): Promise<void> {
    const res = await this.post('/v1/worker/leases', { jobId, attempt });
    if (!res.ok) throw new Error(`lease ${jobId}: ${res.status}`);
  }

  /** Hands an outcome over, retrying while the API is away (a restart): losing it would mean running the job again. */
  async outcome(jobId: string, attempt: number, outcome: RunOutcome, retryMs: number, log: Logger): Promise<void> {
    const deadline = Date.now() + retryMs;
    for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
      try {
        const res = await this.post('/v1/worker/outcomes', { jobId, attempt, outcome });
        if (res.ok) return;
      } catch (err) {
        if (err instanceof Refused) throw err;
        if (!(err instanceof TypeError)) throw err; // fetch failed: the API is away
      }
      if (Date.now() > deadline) throw new Error(`outcome ${jobId}: the API did not answer for ${retryMs} ms`);
      log.warn({ jobId, waitMs: wait }, 'API unreachable; will hand the outcome over again');
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

const TEMP_PREFIX = 'pds-worker-';

/**
 * This worker's temp root, named by its pid, so a worker that starts after one was SIGKILLed on this
 * machine removes what the dead one left (its spills and result files) and never a live worker's.
 */
function workerTempDir(log: Logger): string {
  const root = os.tmpdir();
  for (const entry of fs.readdirSync(root)) {
    const pid = entry.startsWith(TEMP_PREFIX) ? Number(entry.slice(TEMP_PREFIX.length)) : NaN;
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    fs.rmSync(path.join(root, entry), { recursive: true, force: true });
    log.info({ dir: path.join(root, entry) }, 'removed the temp folder of a worker that is gone');
  }
  const dir = path.join(root, `${TEMP_PREFIX}${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What one worker's jobs share. */
interface WorkerContext {
  opts: WorkerOptions;
  log: Logger;
  api: ApiClient;
  osMode: Awaited<ReturnType<typeof configureOsSandbox>>['mode'];
  snapshots: SnapshotCache;
  /** The runs in progress, by job id: a cancellation aborts one. */
  running: Map<string, AbortController>;
  tmpDir: string;
}

/** Keeps the lease while the query runs; a refused renewal (cancelled, taken over) stops the run. */
function keepLease(w: WorkerContext, spec: RunSpec, controller: AbortController): NodeJS.Timeout {
  const { api, log } = w;
  return setInterval(() => {
    api.renew(spec.jobId, spec.attempt).catch((err: unknown) => {
      if (err instanceof Refused) {
        log.warn({ jobId: spec.jobId, code: err.code }, 'lease refused; stopping the run');
        controller.abort(err);
      } else log.warn({ jobId: spec.jobId, err: (err as Error).message }, 'lease renewal failed; will try again');
    });
  }, spec.lease.renewEveryMs);
}

/** One queue entry: claimed from the API, run over its snapshot under a kept lease, its outcome posted. */
async function handleJob(job: Job<QueueJobData>, w: WorkerContext): Promise<void> {
  const { opts, log, api, osMode, snapshots, running, tmpDir } = w;
  if (!checkQueueJobData.Check(job.data)) {
    log.error({ queueJob: job.id }, 'a queue entry that is not a job; skipped');
    return;
  }
  const { jobId } = job.data;
  let spec: RunSpec | undefined;
  try {
    spec = await api.claim(job.data, osMode);
  } catch (err) {
    // a run leased to someone else, or a claim refused: nothing to run here now (the API requeues when a lease expires)
    if (err instanceof Refused) {
      log.info({ jobId, code: err.code }, 'claim refused');
      return;
    }
    throw err;
  }
  if (!spec) return;
  const controller = new AbortController();
  running.set(jobId, controller);
  const lease = keepLease(w, spec, controller);
  try {
    log.info({ jobId, attempt: spec.attempt }, 'job started');
    const held = await snapshots.hold(spec).catch((err: unknown) => {
      log.error({ jobId, err: (err as Error).message }, 'the snapshot could not be had');
      return undefined;
    });
    let outcome: RunOutcome = {
      ok: false,
      error: { code: 'ERR_SANDBOX_FAILURE', message: 'the worker could not get the snapshot' },
    };
    if (held)
      try {
        outcome = await executeRun(spec, {
          dataDir: opts.dataDir,
          snapshotFile: held.file,
          tmpDir,
          signal: controller.signal,
        });
      } finally {
        held.release();
      }
    clearInterval(lease);
    await api.outcome(jobId, spec.attempt, outcome, opts.outcomeRetryMs ?? 120_000, log);
    log.info({ jobId, ok: outcome.ok }, 'job done');
  } catch (err) {
    if (controller.signal.aborted) {
      log.info({ jobId }, 'job stopped');
      return;
    }
    if (err instanceof Refused) {
      log.error({ jobId, code: err.code }, 'outcome refused');
      return;
    }
    throw err;
  } finally {
    clearInterval(lease);
    running.delete(jobId);
  }
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const log = opts.logger;
  // a worker that cannot confine its runners stops here, naming why — unless SANDBOX_OS=off says so
  const osLayer = await configureOsSandbox(opts.sandboxOs);
  if (osLayer.mode === 'off')
    log.warn({ sandboxOs: 'off' }, 'the OS sandbox layer is OFF (SANDBOX_OS=off): runners start without bubblewrap');
  const api = new ApiClient(opts.apiUrl, opts.credential);
  const tmpDir = workerTempDir(log);
  const snapshots = new SnapshotCache({
    dataDir: opts.dataDir,
    maxBytes: opts.cacheBytes ?? 20 * 1024 ** 3,
    fetchSnapshot: (spec) => api.snapshot(spec),
    log,
  });
  const running = new Map<string, AbortController>();
  await warmRunners(opts.concurrency, { slotsDir: path.join(tmpDir, 'runners') });

  const subscriber = redisConnection(opts.redisUrl);
  subscriber.on('error', (err) => log.warn({ err }, 'redis (cancellations)'));
  await subscriber.subscribe(`${opts.prefix}:${CANCEL_CHANNEL}`);
  subscriber.on('message', (_channel, jobId: string) => running.get(jobId)?.abort(new Error('cancelled')));

  const w: WorkerContext = { opts, log, api, osMode: osLayer.mode, snapshots, running, tmpDir };
  const connection = redisConnection(opts.redisUrl);
  connection.on('error', (err) => log.warn({ err }, 'redis (queue)'));
  const worker = new Worker<QueueJobData>(JOB_QUEUE, (job: Job<QueueJobData>) => handleJob(job, w), {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: Math.max(1000, Math.floor((opts.lockDurationMs ?? 30_000) / 2)),
    maxStalledCount: 10,
  });
  worker.on('error', (err) => log.warn({ err }, 'worker'));
  worker.on('failed', (job, err) =>
    log.error({ jobId: job?.data.jobId, err: err.message }, 'job failed in the worker'),
  );
  await worker.waitUntilReady();
  log.info({ concurrency: opts.concurrency, queue: JOB_QUEUE }, 'worker ready');

  return {
    snapshots,
    async close() {
      await worker.close();
      for (const c of running.values()) c.abort(new Error('worker stopping'));
      subscriber.disconnect();
      connection.disconnect();
      disposeRunners();
      fs.rmSync(tmpDir, { recursive: true, force: true });
    },
  };
}
