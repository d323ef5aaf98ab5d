export { EmbeddedExecutor, type Executor, type JobHandler } from './executor.ts';
export { JobService, type JobReason, type JobServiceDeps, type JobStatus, type JobView } from './service.ts';
export { APPROVALS_TO_RELEASE, OutputService, sha256, type ManifestDraft, type OutputFormat, type OutputView } from './outputs.ts';
export { signManifest, verifyManifest, MANIFEST_TYP, type Manifest } from './manifest.ts';
export { toCsv } from './csv.ts';
export { BullmqExecutor, JOB_QUEUE, CANCEL_CHANNEL, type UnfinishedJobs } from './bullmq.ts';
export { startWorker, type RunningWorker, type WorkerOptions } from './worker.ts';
export { executeRun, type RunOutcome, type RunSpec } from './runs.ts';
