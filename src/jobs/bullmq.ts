import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CANCEL_CHANNEL, JOB_QUEUE, type QueueJobData } from '../protocol/index.ts';
import type { Executor, JobHandler } from './executor.ts';

/**
 * The BullMQ executor, API side (docs/architecture.md §2, §4). The API only puts jobs on the
 * `pds-jobs` queue, each with its claim ticket; `pds worker` processes on any machine take them,
 * claim each from the API (the contract is checked and the SQL analysed then), execute what they
 * are handed where the snapshot is, and post the raw result back. The control store is
 * the truth, Redis only the transport: every few seconds the executor makes sure each `queued`
 * job (and each `running` job Redis no longer knows) is on the queue, so a Redis that restarts
 * empty loses nothing.
 */

/** What the executor needs from the store to reconcile. */
export interface UnfinishedJobs {
  unfinished(): Promise<{ id: string; status: 'queued' | 'running'; leaseExpiresAt: string | null }[]>;
}

/** A connection for the API's producer side: fails fast while Redis is away (reconciliation catches up). */
function producerConnection(url: URL): Redis {
  return new Redis(url.toString(), { maxRetriesPerRequest: 1, enableOfflineQueue: false });
}

export class BullmqExecutor implements Executor {
  readonly kind = 'bullmq' as const;
  private readonly connection: Redis;
  private readonly publisher: Redis;
  private readonly queue: Queue<QueueJobData>;
  private timer: NodeJS.Timeout | undefined;
  private counts = { waiting: 0, running: 0 };
  private stopped = false;
  private reconciling: Promise<void> | undefined;

  constructor(
    private readonly opts: {
      redisUrl: URL;
      /** Key prefix in Redis, shared with the workers. */
      prefix: string;
      jobs: UnfinishedJobs;
      /** The claim ticket of a job, carried on the queue with it (docs/architecture.md, "Workers"). */
      ticketFor: (jobId: string) => string;
      /** How often the store and the queue are reconciled. */
      reconcileMs?: number;
      onError?: (err: unknown) => void;
    },
  ) {
    this.connection = producerConnection(opts.redisUrl);
    this.publisher = producerConnection(opts.redisUrl);
    for (const c of [this.connection, this.publisher]) c.on('error', (err) => opts.onError?.(err));
    this.queue = new Queue<QueueJobData>(JOB_QUEUE, { connection: this.connection, prefix: opts.prefix });
    this.queue.on('error', (err) => opts.onError?.(err));
  }

  async start(_handler: JobHandler): Promise<void> {
    // jobs run in workers; this side only keeps the queue true to the store
    await this.reconcile();
    this.timer = setInterval(() => {
      void this.reconcile();
    }, this.opts.reconcileMs ?? 5000);
    this.timer.unref();
  }

  async enqueue(jobId: string, opts: { delayMs?: number } = {}): Promise<void> {
    // the job id dedupes: enqueuing twice (reconcile, a retry of the API) adds it once; a delayed
    // retry gets its own id, since the run it follows may still be on the queue as active
    const id = opts.delayMs ? `${jobId}.retry.${Date.now()}` : jobId;
    await this.queue.add(
      'run',
      { jobId, ticket: this.opts.ticketFor(jobId) },
      {
        jobId: id,
        delay: opts.delayMs,
        removeOnComplete: true,
        removeOnFail: true,
        attempts: 1,
      },
    );
  }

  cancel(jobId: string): boolean {
    void this.publisher
      .publish(`${this.opts.prefix}:${CANCEL_CHANNEL}`, jobId)
      .catch((err: unknown) => this.opts.onError?.(err));
    void this.queue.remove(jobId).catch(() => undefined);
    return false;
  }

  pause(): void {
    void this.queue.pause();
  }

  resume(): void {
    void this.queue.resume();
  }

  stats(): { waiting: number; running: number } {
    return this.counts;
  }

  /** Makes the queue hold every unfinished job of the store (see the class comment). */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce()
      .catch((err: unknown) => this.opts.onError?.(err))
      .finally(() => {
        this.reconciling = undefined;
      });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    if (this.stopped) return;
    const onQueue = new Set<string>();
    for (const j of await this.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'])) {
      if (j?.data?.jobId) onQueue.add(j.data.jobId);
    }
    const now = new Date().toISOString();
    for (const j of await this.opts.jobs.unfinished()) {
      if (onQueue.has(j.id)) continue;
      // a running job whose worker was lost goes back on the queue once its lease has expired
      if (j.status === 'queued' || !j.leaseExpiresAt || j.leaseExpiresAt <= now) await this.enqueue(j.id);
    }
    const c = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    this.counts = { waiting: (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0), running: c.active ?? 0 };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.reconciling;
    await this.queue.close();
    this.connection.disconnect();
    this.publisher.disconnect();
  }
}
