export { EmbeddedExecutor, type Executor, type JobHandler } from './executor.ts';
export { JobService, sha256, type JobReason, type JobServiceDeps, type JobStatus, type JobView, type OutputView } from './service.ts';
export { signManifest, verifyManifest, MANIFEST_TYP, type Manifest } from './manifest.ts';
export { toCsv } from './csv.ts';
