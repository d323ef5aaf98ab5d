/**
 * The executor interface (docs/architecture.md §3). An executor decides *where and when* a job runs; the job
 * service decides *what* running it means. Both implementations drive the same state machine:
 *
 *   queued ──► running ──► released | held | rejected | failed
 *      └──────────┴──────► cancelled
 *
 * Every step is idempotent: running a job that is no longer `queued` does nothing, so a job
 * delivered twice (after a crash, a retry or a reconcile) still ends in one output at most.
 */
export type JobHandler = (jobId: string, signal: AbortSignal) => Promise<void>;

export interface Executor {
  readonly kind: 'embedded' | 'bullmq';
  /** Starts taking jobs; `handler` runs one job to a terminal state. */
  start(handler: JobHandler): Promise<void>;
  /** Hands a queued job to the executor, at once or after `delayMs` (retries); enqueuing a job twice runs it once. */
  enqueue(jobId: string, opts?: { delayMs?: number }): Promise<void>;
  /** Interrupts a job running here; true when it was running. */
  cancel(jobId: string): boolean;
  /** Stops starting new jobs (running ones go on); for maintenance. */
  pause(): void;
  /** Starts taking jobs again after `pause`. */
  resume(): void;
  /** Jobs waiting and running, for health and tests. */
  stats(): { waiting: number; running: number };
  /** Stops taking jobs and waits for running ones to end (they are interrupted). */
  stop(): Promise<void>;
}

/**
 * The default executor: no services, jobs run on this machine. Each job's query runs in its own
 * runner process (see sandbox), so `concurrency` bounds the number of runner processes.
 */
export class EmbeddedExecutor implements Executor {
  readonly kind = 'embedded' as const;
  private handler: JobHandler | undefined;
  private readonly waiting: string[] = [];
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private stopped = false;
  private paused = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly onError: (jobId: string, err: unknown) => void,
  ) {}

  async start(handler: JobHandler): Promise<void> {
    this.handler = handler;
    this.pump();
  }

  async enqueue(jobId: string, opts: { delayMs?: number } = {}): Promise<void> {
    if (opts.delayMs) {
      // a process that stops meanwhile loses nothing: the job is `queued` in the store and recovered at start-up
      setTimeout(() => {
        void this.enqueue(jobId);
      }, opts.delayMs).unref();
      return;
    }
    if (this.waiting.includes(jobId) || this.running.has(jobId)) return;
    this.waiting.push(jobId);
    this.pump();
  }

  cancel(jobId: string): boolean {
    const i = this.waiting.indexOf(jobId);
    if (i >= 0) this.waiting.splice(i, 1);
    const run = this.running.get(jobId);
    run?.controller.abort(new Error('cancelled'));
    this.settle();
    return run !== undefined;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  stats(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.running.size };
  }

  /** Resolves when nothing is waiting or running (tests and the demo use it). */
  idle(): Promise<void> {
    if (this.waiting.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    for (const r of this.running.values()) r.controller.abort(new Error('executor stopping'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private settle(): void {
    if (this.waiting.length > 0 || this.running.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private pump(): void {
    while (
      !this.stopped &&
      !this.paused &&
      this.handler &&
      this.running.size < this.concurrency &&
      this.waiting.length > 0
    ) {
      const jobId = this.waiting.shift()!;
      const controller = new AbortController();
      const done = this.handler(jobId, controller.signal)
        .catch((err: unknown) => this.onError(jobId, err))
        .finally(() => {
          this.running.delete(jobId);
          this.pump();
          this.settle();
        });
      this.running.set(jobId, { controller, done });
    }
  }
}
