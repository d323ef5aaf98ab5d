export { EmbeddedExecutor, type Executor, type JobHandler } from './executor.ts';
export { JobService, type JobServiceDeps, type JobView, type SubmitInput } from './service.ts';
export { RunController, EMBEDDED, type Executant, type RunControllerDeps } from './controller.ts';
export { reasonOf, transition, type JobReason, type JobStatus } from './job-store.ts';
export {
  contractSchema,
  contractSqlPolicy,
  perturbationSpec,
  planRun,
  RunPlanner,
  type PlanInput,
  type RunPlan,
  type SnapshotTerms,
} from './plan.ts';
export { checkOutcome } from './outcome.ts';
export { decideRelease, releaseTerms, type ReleaseDecision, type ReleaseInput, type ReleaseTerms } from './release.ts';
export { outputJobs } from './output-jobs.ts';
export { WorkerRegistry, WORKER_ORG, type WorkerView } from './workers.ts';
export { BullmqExecutor, type UnfinishedJobs } from './bullmq.ts';
export {
  resultSha256,
  riskFlags,
  secureRandom,
  spotCheckReasons,
  SpotChecker,
  type RiskFacts,
  type SpotCheckReason,
  type SpotCheckVerdict,
} from './spot-check.ts';
