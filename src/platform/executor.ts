import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import {
  BullmqExecutor,
  EmbeddedExecutor,
  type Executor,
  type RunController,
  type WorkerRegistry,
} from '../jobs/index.ts';
import { sizeBytes, type Policies } from '../policies/index.ts';
import { warmRunners } from '../sandbox/index.ts';

/**
 * BullMQ with `pds worker`s when there is Redis, else runners in this process. The BullMQ
 * executor reconciles its queue with the jobs the store holds unfinished, asked through
 * `unfinished` only once it has started.
 */
export function createExecutor(
  config: Config,
  workers: WorkerRegistry,
  unfinished: () => ReturnType<RunController['unfinished']>,
  logger: Pick<Logger, 'error'>,
): Executor {
  return config.redisUrl
    ? new BullmqExecutor({
        redisUrl: config.redisUrl,
        prefix: config.queuePrefix,
        reconcileMs: config.reconcileMs,
        jobs: { unfinished },
        ticketFor: (jobId) => workers.ticket(jobId),
        onError: (err) => logger.error({ err }, 'bullmq executor'),
      })
    : new EmbeddedExecutor(config.executorConcurrency, (jobId, err) =>
        logger.error({ jobId, err }, 'job handler failed'),
      );
}

/**
 * The executor started. Embedded: spare runners warmed, then the jobs a previous process left
 * running queued again. BullMQ: jobs left running may still run in a worker — the executor's
 * reconciliation decides, not a blanket requeue.
 */
export async function startExecutor(
  config: Config,
  policies: Policies,
  executor: Executor,
  runs: RunController,
  logger: Pick<Logger, 'info'>,
): Promise<void> {
  if (executor.kind !== 'embedded') {
    await executor.start(() => Promise.resolve());
    return;
  }
  await warmRunners(config.executorConcurrency, {
    limits: {
      dataBytes: sizeBytes(policies.sandbox.process.memory),
      fileSizeBytes: sizeBytes(policies.sandbox.process.fileSize),
    },
    // on the snapshots' filesystem, so a spare's slot can hold a hard link of the job's snapshot
    slotsDir: path.join(config.dataDir, 'tmp', 'runners'),
  });
  await executor.start((jobId, signal) => runs.runHere(jobId, signal));
  const requeued = await runs.recover();
  if (requeued > 0) logger.info({ requeued }, 'requeued jobs left running by a previous process');
}
