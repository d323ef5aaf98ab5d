import type { Logger } from 'pino';
import { maybeCheckpoint, recordKeysInUse } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { ContractService } from '../contracts/index.ts';
import type { Policies } from '../policies/index.ts';
import {
  startBullmqScheduler,
  startEmbeddedScheduler,
  type ReportScheduler,
  type ReportService,
} from '../reports/index.ts';
import type { DestructionService, Housekeeping } from '../destruction/index.ts';
import type { State } from './host.ts';

/** One piece of housekeeping; it logs its own failure, so the next one still runs. */
export type Chore = () => Promise<unknown>;

/**
 * Housekeeping: contracts whose term has ended closed for good, a key rotated by `pds keys
 * rotate` recorded, signed checkpoints of the audit chain (every N entries and daily).
 */
export function housekeepingChores(
  { store, keys, policies }: State,
  contracts: ContractService,
  logger: Pick<Logger, 'error' | 'info'>,
): { expire: Chore; keysInUse: Chore; checkpoint: Chore } {
  const { checkpointEveryEntries, checkpointEveryHours } = policies.workflow.audit;
  const checkpoint = () =>
    Promise.resolve()
      .then(() =>
        maybeCheckpoint(store, keys.bureau, {
          everyEntries: checkpointEveryEntries,
          everyMs: checkpointEveryHours * 3_600_000,
        }),
      )
      .catch((err: unknown) => logger.error({ err }, 'audit checkpoint failed'));
  const expire = () =>
    Promise.resolve()
      .then(() => contracts.expireDue())
      .then((ids) => {
        if (ids.length > 0) logger.info({ contracts: ids }, 'contracts expired');
      })
      .catch((err: unknown) => logger.error({ err }, 'contract expiry failed'));
  const keysInUse = () =>
    Promise.resolve()
      .then(() =>
        recordKeysInUse(store, { bureau: keys.sets.bureau.current.kid, issuer: keys.sets.issuer.current.kid }),
      )
      .catch((err: unknown) => logger.error({ err }, 'recording the keys in use failed'));
  return { expire, keysInUse, checkpoint };
}

/**
 * The chores in turn every `everyMs`, one round at a time: a round still running when the timer
 * fires again is not doubled. `stop` waits for the round under way.
 */
export function startHousekeeping(chores: readonly Chore[], everyMs: number): { stop(): Promise<void> } {
  let round: Promise<void> | undefined;
  const timer = setInterval(() => {
    round ??= (async () => {
      for (const chore of chores) await chore();
    })().finally(() => {
      round = undefined;
    });
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await round;
    },
  };
}

/** Risk assessment reports for each ended period: by BullMQ's job scheduler when there is Redis. */
export async function startReportSchedule(
  config: Config,
  reports: ReportService,
  policies: Policies,
  logger: Pick<Logger, 'error' | 'info'>,
): Promise<ReportScheduler> {
  const turn = () =>
    reports
      .runSchedule((subject, err) => logger.error({ err, subject }, 'scheduled report failed'))
      .then((made) => {
        if (made > 0) logger.info({ made }, 'scheduled risk reports made');
      })
      .catch((err: unknown) => logger.error({ err }, 'report schedule failed'));
  const everyMs = policies.workflow.reports.scheduleEveryMinutes * 60_000;
  return config.redisUrl
    ? await startBullmqScheduler({
        redisUrl: config.redisUrl,
        prefix: config.queuePrefix,
        everyMs,
        turn,
        onError: (err) => logger.error({ err }, 'report scheduler'),
      })
    : startEmbeddedScheduler(turn, everyMs);
}

/**
 * Retention's schedule (policies/retention.yaml): a turn at start, then every
 * `housekeeping.everyMinutes`, in this process — the only one on this DATA_DIR (the store's file
 * lock), so no queue is needed to keep two from deleting at once.
 */
export function startRetention(
  housekeeping: Housekeeping,
  policies: Policies,
  logger: Pick<Logger, 'error' | 'info'>,
): ReportScheduler {
  const turn = () =>
    housekeeping
      .run(undefined, (item, err) =>
        logger.error({ err, kind: item.kind, id: item.subjectId }, 'retention deletion failed'),
      )
      .then((done) => {
        if (done.length > 0) logger.info({ records: done.map((d) => d.id) }, 'retention: data destroyed');
      })
      .catch((err: unknown) => logger.error({ err }, 'retention turn failed'));
  return startEmbeddedScheduler(turn, policies.retention.housekeeping.everyMinutes * 60_000);
}

/** Deletions a stopped process recorded but did not finish: their files go now, their records are sealed. */
export async function completeDestructions(
  destruction: DestructionService,
  logger: Pick<Logger, 'error' | 'info'>,
): Promise<void> {
  const done = await destruction.completePending((id, err) =>
    logger.error({ err, record: id }, 'a pending destruction could not be completed; it is retried at the next start'),
  );
  if (done.length > 0) logger.info({ records: done }, 'completed destructions left pending by a previous process');
}
