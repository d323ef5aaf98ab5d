import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { createTokenVerifier, type TokenVerifier } from '../auth/index.ts';
import type { Config } from '../config/index.ts';
import {
  ApplicationService,
  ContractService,
  SnapshotBuilds,
  EffectivenessService,
  FeedbackService,
  WithdrawalService,
} from '../contracts/index.ts';
import {
  BullmqExecutor,
  EmbeddedExecutor,
  JobService,
  OutputReviewService,
  OutputService,
  RunController,
  RunPlanner,
  WorkerRegistry,
  type Executor,
} from '../jobs/index.ts';
import { DestructionService, Housekeeping } from '../destruction/index.ts';
import { loadKeyRing, type KeyRing } from '../keys/index.ts';
import { loadPolicies, sizeBytes, type Policies } from '../policies/index.ts';
import { domainVersions } from '../domain/index.ts';
import { maybeCheckpoint, recordKeysInUse } from '../audit/index.ts';
import { prepareDummyThread, recordKeySalt } from '../masking/index.ts';
import { ReportService, startBullmqScheduler, startEmbeddedScheduler, type ReportScheduler } from '../reports/index.ts';
import {
  configureOsSandbox,
  describeOsSandbox,
  disposeRunners,
  SchemaBinder,
  SqlParser,
  warmRunners,
  type OsSandboxStatus,
} from '../sandbox/index.ts';
import {
  assertIntact,
  checkDataDirEncryption,
  checkIntegrity,
  dataDirNotEncrypted,
  Store,
  type DataDirEncryption,
} from '../store/index.ts';
import { TemplateService } from '../templates/index.ts';

/**
 * Everything one domain runs on, wired once at start-up: configuration, keys, policies, the
 * control store, the executor and the services. The API and the CLI receive a Platform; nothing
 * below it reads the environment.
 */
export interface Platform {
  config: Config;
  keys: KeyRing;
  policies: Policies;
  store: Store;
  parser: SqlParser;
  executor: Executor & { idle?: () => Promise<void> };
  applications: ApplicationService;
  contracts: ContractService;
  builds: SnapshotBuilds;
  effectiveness: EffectivenessService;
  jobs: JobService;
  /** The bureau's published query templates, run as ordinary jobs. */
  templates: TemplateService;
  /** Claims, leases, outcomes and the release decision: the controller side of every run. */
  runs: RunController;
  /** Registered workers and their credentials. */
  workers: WorkerRegistry;
  withdrawals: WithdrawalService;
  feedback: FeedbackService;
  outputs: OutputService;
  outputReviews: OutputReviewService;
  reports: ReportService;
  /** Signed destruction records of every deletion of snapshots and outputs (docs/architecture.md §18). */
  destruction: DestructionService;
  /** Retention (policies/retention.yaml): what is due, and its deletion with records. */
  housekeeping: Housekeeping;
  /** The OS layer around this process's runners; `workers` when jobs run in `pds worker`s (each reports its own). */
  osSandbox: OsSandboxStatus | { mode: 'workers' };
  /** Whether DATA_DIR is encrypted at rest, checked at start-up (src/store/encryption.ts). */
  dataDirEncryption: DataDirEncryption;
  verifyToken: TokenVerifier;
  close(): Promise<void>;
}

/**
 * What a killed process leaves behind: job temp folders (results, spills) and half-built
 * snapshots. Nothing in them is a record: a job left running is run again from the store, and a
 * decision whose snapshot was not sealed never committed.
 */
function clearLeftovers(dataDir: string, logger: Pick<Logger, 'info'>): void {
  const removed: string[] = [];
  const tmp = path.join(dataDir, 'tmp');
  for (const entry of fs.existsSync(tmp) ? fs.readdirSync(tmp) : []) {
    fs.rmSync(path.join(tmp, entry), { recursive: true, force: true });
    removed.push(`tmp/${entry}`);
  }
  const snapshots = path.join(dataDir, 'snapshots');
  for (const entry of fs.existsSync(snapshots) ? fs.readdirSync(snapshots) : []) {
    if (!/\.building(\.wal)?$/.test(entry)) continue;
    fs.rmSync(path.join(snapshots, entry), { force: true });
    removed.push(`snapshots/${entry}`);
  }
  if (removed.length > 0) logger.info({ removed }, 'cleared what an earlier process left behind');
}

/**
 * What start-up asks of the host before anything opens: DATA_DIR encrypted at rest (seed 000
 * 第三十九条: refused when required, otherwise said; issue 35), and runners confined by the OS
 * layer (stop here, naming why — unless SANDBOX_OS=off says so).
 */
async function checkHost(
  config: Config,
  logger: Pick<Logger, 'warn'>,
): Promise<{ dataDirEncryption: DataDirEncryption; osSandbox: OsSandboxStatus | { mode: 'workers' } }> {
  const dataDirEncryption = checkDataDirEncryption(config.dataDir);
  if (dataDirEncryption.state !== 'encrypted') {
    if (config.requireEncryptedDataDir) throw dataDirNotEncrypted(config.dataDir, dataDirEncryption);
    logger.warn(
      { dataDir: config.dataDir, dataDirEncryption },
      'DATA_DIR is not known to be encrypted at rest: see docs/operations.md "Encryption at rest" (REQUIRE_ENCRYPTED_DATA_DIR=true refuses to start)',
    );
  }
  const osSandbox = config.redisUrl ? { mode: 'workers' as const } : await configureOsSandbox(config.sandboxOs);
  if (osSandbox.mode === 'off')
    logger.warn({ sandboxOs: 'off' }, 'the OS sandbox layer is OFF (SANDBOX_OS=off): runners start without bubblewrap');
  return { dataDirEncryption, osSandbox };
}

/** Risk assessment reports for each ended period: by BullMQ's job scheduler when there is Redis. */
async function startReportSchedule(
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
function startRetention(housekeeping: Housekeeping, policies: Policies, logger: Pick<Logger, 'error' | 'info'>) {
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
async function completeDestructions(destruction: DestructionService, logger: Pick<Logger, 'error' | 'info'>) {
  const done = await destruction.completePending((id, err) =>
    logger.error({ err, record: id }, 'a pending destruction could not be completed; it is retried at the next start'),
  );
  if (done.length > 0) logger.info({ records: done }, 'completed destructions left pending by a previous process');
}

export async function createPlatform(
  config: Config,
  logger: Pick<Logger, 'error' | 'warn' | 'info'>,
): Promise<Platform> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const { dataDirEncryption, osSandbox } = await checkHost(config, logger);
  const policies = loadPolicies(config.policiesDir);
  const keys = await loadKeyRing(config.dataDir, logger);
  const store = await Store.open(config.dataDir, { minFreeBytes: config.minFreeBytes });
  store.onReopen((reason) =>
    logger.warn({ reason }, 'the control store was reopened from its file after a failed commit'),
  );
  // an index that disagrees with its table, or an audit head behind its log: refuse to serve from it
  try {
    assertIntact(store.file, await checkIntegrity(store));
  } catch (err) {
    await store.close();
    throw err;
  }
  // the store's file lock makes this the only API on this DATA_DIR: what a crash left is ours to clear
  clearLeftovers(config.dataDir, logger);
  // a damaged domain database stops start-up with its name, not every catalog request later
  await domainVersions(config.dataDir);
  const parser = await SqlParser.create();
  const binder = await SchemaBinder.create();
  const workers = new WorkerRegistry({ store, keys, now: () => new Date() });
  // the store is read lazily: the controller that answers it is made below, with this executor
  let runsRef: RunController | undefined;
  const executor: Executor = config.redisUrl
    ? new BullmqExecutor({
        redisUrl: config.redisUrl,
        prefix: config.queuePrefix,
        reconcileMs: config.reconcileMs,
        jobs: { unfinished: () => runsRef!.unfinished() },
        ticketFor: (jobId) => workers.ticket(jobId),
        onError: (err) => logger.error({ err }, 'bullmq executor'),
      })
    : new EmbeddedExecutor(config.executorConcurrency, (jobId, err) =>
        logger.error({ jobId, err }, 'job handler failed'),
      );
  const destruction = new DestructionService({ store, keys, dataDir: config.dataDir });
  const contractDeps = {
    store,
    keys,
    policies,
    dataDir: config.dataDir,
    minFreeBytes: config.minFreeBytes,
    destruction,
  };
  const contracts = new ContractService(contractDeps);
  const builds = new SnapshotBuilds({
    ...contractDeps,
    maxAttempts: config.snapshotBuildAttempts,
    onError: (contractId, err) => logger.error({ contractId, err }, 'snapshot build failed'),
  });
  contracts.attachBuilds(builds);
  prepareDummyThread(); // the bundle exists before the first dummy-data request
  const applications = new ApplicationService(contractDeps, contracts, builds);
  const gaps = applications.calendarGaps();
  if (gaps.length > 0)
    logger.warn(
      { years: gaps },
      'the working-day calendar has no holidays for these years: review deadlines count every weekday; update chinese-days or fill calendar.holidays and calendar.makeupWorkdays in policies/workflow.yaml from the State Council notice',
    );
  const effectiveness = new EffectivenessService(contractDeps, contracts);
  const withdrawals = new WithdrawalService(contractDeps, contracts);
  const feedback = new FeedbackService(contractDeps);
  const outputs = new OutputService({
    store,
    keys,
    contracts,
    dataDir: config.dataDir,
    now: () => new Date(),
    minFreeBytes: config.minFreeBytes,
    destruction,
  });
  const runLimits = (({ maxSqlBytes: _m, ...run }) => run)(policies.sandbox.limits);
  const outputReviews = new OutputReviewService({
    store,
    contracts,
    outputs,
    destruction,
    dataDir: config.dataDir,
    now: () => new Date(),
    limits: runLimits,
    minFreeBytes: config.minFreeBytes,
  });
  const onError = (jobId: string, err: unknown) => logger.error({ jobId, err }, 'job outcome failed');
  const cellKeySalt = (contractId: string) => recordKeySalt(keys.derive('cell-key', contractId, 8));
  // validation analyses as a claim does: the same planner, over the same policies and keys
  const planner = new RunPlanner({ parser, binder, policies, cellKeySalt });
  const jobs = new JobService({
    store,
    policies,
    contracts,
    executor,
    planner,
    onError,
    dataDir: config.dataDir,
    limits: runLimits,
    minFreeBytes: config.minFreeBytes,
  });
  const runs = new RunController({
    store,
    policies,
    contracts,
    executor,
    outputs,
    workers,
    parser,
    binder,
    dataDir: config.dataDir,
    leaseMs: config.workerLeaseMs,
    cellKeySalt,
    onError,
    planner,
  });
  runsRef = runs;
  contracts.attachJobs(jobs);
  const templates = new TemplateService({ store, policies, contracts, jobs });
  if (executor.kind === 'embedded') {
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
  } else {
    // jobs left running may still run in a worker: the executor's reconciliation decides, not a blanket requeue
    await executor.start(() => Promise.resolve());
  }
  // housekeeping every few seconds: contracts whose term has ended closed for good, a key
  // rotated by `pds keys rotate` recorded, signed checkpoints of the audit chain (every N entries
  // and daily)
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
  await keysInUse();
  // snapshots of approved contracts: those a stopped process left are taken up again now
  builds.kick();
  let housekeeping: Promise<unknown> | undefined;
  const housekeepingTimer = setInterval(() => {
    housekeeping ??= expire()
      .then(keysInUse)
      .then(checkpoint)
      .finally(() => {
        housekeeping = undefined;
      });
  }, 5000);
  housekeepingTimer.unref();
  // risk assessment reports for each ended period: by BullMQ's job scheduler when there is Redis
  const reports = new ReportService({
    store,
    keys,
    policies,
    osSandbox: describeOsSandbox(osSandbox),
    dataDirEncryption,
  });
  const scheduler = await startReportSchedule(config, reports, policies, logger);
  await completeDestructions(destruction, logger);
  const retained = new Housekeeping({
    store,
    destruction,
    retention: policies.retention,
    dataDir: config.dataDir,
    outputFiles: (file) => outputs.dataFiles(file),
  });
  const retention = startRetention(retained, policies, logger);
  return {
    config,
    keys,
    policies,
    store,
    parser,
    executor,
    applications,
    contracts,
    builds,
    effectiveness,
    withdrawals,
    feedback,
    jobs,
    templates,
    runs,
    workers,
    outputs,
    outputReviews,
    reports,
    destruction,
    housekeeping: retained,
    osSandbox,
    dataDirEncryption,
    verifyToken: (() => {
      const users = createTokenVerifier(keys, config.auth);
      return (token: string) => (WorkerRegistry.isCredential(token) ? workers.authenticate(token) : users(token));
    })(),
    async close() {
      clearInterval(housekeepingTimer);
      await housekeeping;
      await builds.close();
      await scheduler.stop();
      await retention.stop();
      await checkpoint();
      await executor.stop();
      disposeRunners();
      parser.dispose();
      binder.dispose();
      await outputs.close();
      await store.close();
    },
  };
}
