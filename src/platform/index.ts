import fs from 'node:fs';
import type { Logger } from 'pino';
import { createTokenVerifier, type TokenVerifier } from '../auth/index.ts';
import type { Config } from '../config/index.ts';
import type {
  ApplicationService,
  ContractService,
  SnapshotBuilds,
  EffectivenessService,
  FeedbackService,
  WithdrawalService,
} from '../contracts/index.ts';
import { WorkerRegistry, type Executor, type JobService, type RunController } from '../jobs/index.ts';
import type { OutputReviewService, OutputService } from '../outputs/index.ts';
import type { RegisterService } from '../register/index.ts';
import { Housekeeping, type DestructionService } from '../destruction/index.ts';
import type { KeyRing } from '../keys/index.ts';
import type { Policies } from '../policies/index.ts';
import { ReportService } from '../reports/index.ts';
import { describeOsSandbox, disposeRunners, SchemaBinder, SqlParser, type OsSandboxStatus } from '../sandbox/index.ts';
import type { DataDirEncryption, Store } from '../store/index.ts';
import type { TemplateService } from '../templates/index.ts';
import { createExecutor, startExecutor } from './executor.ts';
import { checkHost, openState } from './host.ts';
import {
  completeDestructions,
  housekeepingChores,
  startHousekeeping,
  startReportSchedule,
  startRetention,
} from './schedules.ts';
import { contractServices, jobServices } from './services.ts';

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
  /** The public register of the bureau's measures (seed 003 第三十五条). */
  register: RegisterService;
  /** Signed destruction records of every deletion of snapshots and outputs (docs/architecture.md §19). */
  destruction: DestructionService;
  /** Retention (policies/retention.yaml): what is due, and its deletion with records. */
  housekeeping: Housekeeping;
  outputs: OutputService;
  outputReviews: OutputReviewService;
  reports: ReportService;
  /** The OS layer around this process's runners; `workers` when jobs run in `pds worker`s (each reports its own). */
  osSandbox: OsSandboxStatus | { mode: 'workers' };
  /** Whether DATA_DIR is encrypted at rest, checked at start-up (src/store/encryption.ts). */
  dataDirEncryption: DataDirEncryption;
  verifyToken: TokenVerifier;
  close(): Promise<void>;
}

/**
 * The platform composed, in start-up order: the host checked; policies, keys and the control
 * store opened; the SQL tools, the workers' register and the executor; the contract services, then
 * the job services over them; the executor started; housekeeping; the report schedule. `close`
 * stops them in the order that lets each finish what it is doing (fault-injection tests in
 * test/platform and test/store depend on both orders).
 */
export async function createPlatform(
  config: Config,
  logger: Pick<Logger, 'error' | 'warn' | 'info'>,
): Promise<Platform> {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const { dataDirEncryption, osSandbox } = await checkHost(config, logger);
  const state = await openState(config, logger);
  const { keys, policies, store } = state;
  const parser = await SqlParser.create();
  const binder = await SchemaBinder.create();
  const workers = new WorkerRegistry({ store, keys, now: () => new Date() });
  // the executor asks the store lazily: the controller that answers it is made below, with this executor
  let runs: RunController | undefined;
  const executor = createExecutor(config, workers, () => runs!.unfinished(), logger);
  const agreements = contractServices(config, state, logger);
  const { contracts, builds, destruction } = agreements;
  const work = jobServices(config, state, { parser, binder, workers, executor, contracts, destruction }, logger);
  runs = work.runs;
  await startExecutor(config, policies, executor, work.runs, logger);
  const chores = housekeepingChores(state, contracts, logger);
  await chores.keysInUse();
  // snapshots of approved contracts: those a stopped process left are taken up again now
  builds.kick();
  // housekeeping every few seconds, one chore after the other
  const choreTimer = startHousekeeping([chores.expire, chores.keysInUse, chores.checkpoint], 5000);
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
  const housekeeping = new Housekeeping({
    store,
    destruction,
    retention: policies.retention,
    dataDir: config.dataDir,
    outputFiles: (file) => work.outputs.dataFiles(file),
  });
  const retention = startRetention(housekeeping, policies, logger);
  const users = createTokenVerifier(keys, config.auth);
  return {
    config,
    keys,
    policies,
    store,
    parser,
    executor,
    ...agreements,
    ...work,
    workers,
    reports,
    housekeeping,
    osSandbox,
    dataDirEncryption,
    verifyToken: (token: string) => (WorkerRegistry.isCredential(token) ? workers.authenticate(token) : users(token)),
    async close() {
      await choreTimer.stop();
      await builds.close();
      await scheduler.stop();
      await retention.stop();
      await chores.checkpoint();
      await executor.stop();
      disposeRunners();
      parser.dispose();
      binder.dispose();
      await work.outputs.close();
      await store.close();
    },
  };
}
