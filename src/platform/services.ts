import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import {
  ApplicationService,
  ContractService,
  EffectivenessService,
  FeedbackService,
  SnapshotBuilds,
  WithdrawalService,
} from '../contracts/index.ts';
import {
  JobService,
  outputJobs,
  RunController,
  RunPlanner,
  type Executor,
  type WorkerRegistry,
} from '../jobs/index.ts';
import { OutputReviewService, OutputService } from '../outputs/index.ts';
import { RegisterService } from '../register/index.ts';
import { DestructionService } from '../destruction/index.ts';
import { prepareDummyThread, recordKeySalt } from '../masking/index.ts';
import type { SchemaBinder, SqlParser } from '../sandbox/index.ts';
import { TemplateService } from '../templates/index.ts';
import type { State } from './host.ts';

/** Applications, contracts and their snapshots, assessments, withdrawals and feedback. */
export interface ContractServices {
  applications: ApplicationService;
  contracts: ContractService;
  builds: SnapshotBuilds;
  effectiveness: EffectivenessService;
  withdrawals: WithdrawalService;
  feedback: FeedbackService;
  /** The public register of the bureau's measures (seed 003 第三十五条). */
  register: RegisterService;
  /** Signed destruction records of every deletion of snapshots and outputs (docs/architecture.md §19). */
  destruction: DestructionService;
}

/** From application to contract: the services that share the contract store and its snapshots. */
export function contractServices(
  config: Config,
  { store, keys, policies }: State,
  logger: Pick<Logger, 'error' | 'warn'>,
): ContractServices {
  const register = new RegisterService({ store, keys, policies });
  const destruction = new DestructionService({ store, keys, dataDir: config.dataDir });
  const contractDeps = {
    store,
    keys,
    policies,
    dataDir: config.dataDir,
    minFreeBytes: config.minFreeBytes,
    register,
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
  return {
    applications,
    contracts,
    builds,
    effectiveness: new EffectivenessService(contractDeps, contracts),
    withdrawals: new WithdrawalService(contractDeps, contracts),
    feedback: new FeedbackService(contractDeps),
    register,
    destruction,
  };
}

/** Jobs and what they make: the outputs and their review, the runs, the templates. */
export interface JobServices {
  outputs: OutputService;
  outputReviews: OutputReviewService;
  jobs: JobService;
  runs: RunController;
  templates: TemplateService;
}

/** What the job services run on beyond the state: the SQL tools, the workers, the executor, the contracts. */
export interface JobMachinery {
  parser: SqlParser;
  binder: SchemaBinder;
  workers: WorkerRegistry;
  executor: Executor;
  contracts: ContractService;
  destruction: DestructionService;
}

/** From submission to release; the contracts learn of the jobs here (a suspension cancels them). */
export function jobServices(
  config: Config,
  { store, keys, policies }: State,
  { parser, binder, workers, executor, contracts, destruction }: JobMachinery,
  logger: Pick<Logger, 'error'>,
): JobServices {
  const { dataDir, minFreeBytes } = config;
  const now = () => new Date();
  const outputs = new OutputService({
    store,
    keys,
    contracts,
    jobs: outputJobs,
    destruction,
    dataDir,
    now,
    minFreeBytes,
  });
  const limits = (({ maxSqlBytes: _m, ...run }) => run)(policies.sandbox.limits);
  const outputReviews = new OutputReviewService({
    store,
    contracts,
    outputs,
    jobs: outputJobs,
    destruction,
    dataDir,
    now,
    limits,
    minFreeBytes,
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
    dataDir,
    limits,
    minFreeBytes,
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
    dataDir,
    leaseMs: config.workerLeaseMs,
    cellKeySalt,
    onError,
    planner,
  });
  contracts.attachJobs(jobs);
  const templates = new TemplateService({ store, policies, contracts, jobs });
  return { outputs, outputReviews, jobs, runs, templates };
}
