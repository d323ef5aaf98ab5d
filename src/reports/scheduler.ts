import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export const REPORT_QUEUE = 'pds-reports';
const SCHEDULER_ID = 'risk-reports';

/** Runs the report schedule now and then; the schedule itself is idempotent, so extra turns cost only reads. */
export interface ReportScheduler {
  readonly kind: 'embedded' | 'bullmq';
  stop(): Promise<void>;
}

/** A timer in the API process: a turn at start (a period may have ended while it was down), then every `everyMs`. */
export function startEmbeddedScheduler(turn: () => Promise<unknown>, everyMs: number): ReportScheduler {
  let running: Promise<unknown> | undefined;
  const once = () => {
    running ??= turn().finally(() => {
      running = undefined;
    });
  };
  const first = setTimeout(once, 1000);
  const timer = setInterval(once, everyMs);
  first.unref();
  timer.unref();
  return {
    kind: 'embedded',
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * A BullMQ job scheduler (a repeatable job): with several API processes on one Redis, each turn
 * is taken by one of them. The turn still runs in an API process, the store's only writer
 * (docs/architecture.md §2). When Redis is away, turns are missed and made up at the next one.
 */
export async function startBullmqScheduler(opts: {
  redisUrl: URL;
  prefix: string;
  everyMs: number;
  turn: () => Promise<unknown>;
  onError?: (err: unknown) => void;
  retryMs?: number;
}): Promise<ReportScheduler> {
  const producer = new Redis(opts.redisUrl.toString(), { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  const consumer = new Redis(opts.redisUrl.toString(), { maxRetriesPerRequest: null });
  for (const c of [producer, consumer]) c.on('error', (err) => opts.onError?.(err));
  const queue = new Queue(REPORT_QUEUE, { connection: producer, prefix: opts.prefix });
  queue.on('error', (err) => opts.onError?.(err));
  // registered in the background and again until it takes: an API starting while Redis is away
  // still starts, and the schedule begins once Redis is back
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const register = async (): Promise<void> => {
    try {
      await queue.waitUntilReady();
      // with `every`, the first turn comes at once: a period may have ended while no API was up
      await queue.upsertJobScheduler(
        SCHEDULER_ID,
        { every: opts.everyMs },
        {
          name: SCHEDULER_ID,
          opts: { removeOnComplete: 100, removeOnFail: 100 },
        },
      );
    } catch (err) {
      opts.onError?.(err);
      if (!stopped) {
        retry = setTimeout(() => {
          void register();
        }, opts.retryMs ?? 5000);
        retry.unref();
      }
    }
  };
  const registered = register();
  const worker = new Worker(
    REPORT_QUEUE,
    async () => {
      await opts.turn();
    },
    { connection: consumer, prefix: opts.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => opts.onError?.(err));
  await Promise.race([registered, new Promise((r) => setTimeout(r, 2000).unref())]);
  return {
    kind: 'bullmq',
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await worker.close();
      await queue.close();
      producer.disconnect();
      consumer.disconnect();
    },
  };
}
