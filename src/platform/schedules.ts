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
