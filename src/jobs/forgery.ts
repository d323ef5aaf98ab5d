import { appendAudit, SYSTEM_ACTOR } from '../audit/index.ts';
import type { Tx } from '../store/index.ts';
import type { OutputService } from '../outputs/index.ts';
import { markReported, transition } from './job-store.ts';
import type { WorkerRegistry } from './workers.ts';

/**
 * What a caught forgery entails (docs/architecture.md §4), in the transaction that records the
 * spot check: the worker's credential revoked; the forged run failed, nothing of it released;
 * every output of the worker that no spot check verified withheld — a released one goes back to
 * held (no longer served, its manifest withdrawn), a held one stays held — each with a reason the
 * reviewers read, since the worker has shown it lies and nothing says when it began; and one audit
 * entry naming the worker, the run and both hashes.
 */

export interface Forgery {
  workerId: string;
  jobId: string;
  attempt: number;
  reasons: string[];
  workerSha256: string;
  apiSha256: string;
  at: string;
  /** Whether the forged run is still the job's current one (it fails only then). */
  current: boolean;
}

/** Records a forgery caught by a spot check; answers the outputs withheld. */
export async function recordForgery(
  tx: Tx,
  f: Forgery,
  deps: { workers: WorkerRegistry; outputs: Pick<OutputService, 'withholdUnverified'> },
): Promise<string[]> {
  const caught = `spot check: worker ${f.workerId}'s result for run ${f.attempt} of job ${f.jobId} differs from the API's own re-execution`;
  await deps.workers.revokeIn(tx, f.workerId, SYSTEM_ACTOR, caught);
  if (f.current) {
    await markReported(tx, f.jobId, f.attempt, f.at);
    await transition(
      tx,
      f.jobId,
      'failRun',
      {
        reasons: [
          {
            code: 'ERR_WORKER_OUTCOME_MISMATCH',
            message:
              "the worker's result differs from the API's own run of the query; nothing was released and the worker was revoked: submit the job again",
            layer: 'worker',
          },
        ],
        finishedAt: f.at,
      },
      { actor: SYSTEM_ACTOR, details: { reasons: ['ERR_WORKER_OUTCOME_MISMATCH'] } },
    );
  }
  const why = `produced by worker ${f.workerId}, caught forging job ${f.jobId} at ${f.at}; no spot check verified this output — reject it, or approve it only once the job has been run again and agrees`;
  const outputs = await deps.outputs.withholdUnverified(tx, f.workerId, why, { forgedJobId: f.jobId });
  await appendAudit(tx, {
    actor: SYSTEM_ACTOR,
    action: 'worker.spot_check.mismatched',
    objectType: 'worker',
    objectId: f.workerId,
    reason: caught,
    details: {
      jobId: f.jobId,
      attempt: f.attempt,
      reasons: f.reasons,
      workerSha256: f.workerSha256,
      apiSha256: f.apiSha256,
      outputsWithheld: outputs,
    },
  });
  return outputs;
}
