/**
 * Outputs (docs/architecture.md §1, §7): what a job's run leaves for its operator — the output,
 * its files in every format and its signed manifest, the bureau's reviews of a held one and their
 * consolidation, a job's thread, and a reviewed query's replay on dummy data. The only writer of
 * the `outputs` and `output_reviews` tables; it moves a job only through `OutputJobs`, handed in.
 */
export { APPROVALS_TO_RELEASE, OutputService, type ManifestDraft, type OutputView } from './outputs.ts';
export { OutputReviewService, type ReviewPacket } from './output-review.ts';
export { formatOfFile, OUTPUT_FORMATS, verifyOutputFile, type OutputCheck, type OutputFormat } from './formats.ts';
export { signManifest, verifyManifest, MANIFEST_TYP, type Manifest } from './manifest.ts';
export { toCsv } from './csv.ts';
export { addComment, listComments, type Comment } from './thread.ts';
export { runOnDummyData, type DummyRun } from './dummy-run.ts';
export {
  type JobOfOutput,
  type OutputJobMove,
  type OutputJobReason,
  type OutputJobs,
  type RanPlan,
  type ReleaseDecision,
} from './jobs.ts';
