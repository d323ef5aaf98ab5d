import { appendAudit, SYSTEM_ACTOR } from '../audit/index.ts';
import type { Tx } from '../store/index.ts';
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

/** Released or held outputs whose run `workerId` executed and no spot check verified. */
async function unverifiedOutputs(
  tx: Tx,
  workerId: string,
): Promise<{ id: string; job_id: string; status: 'released' | 'held'; held_because: string | null }[]> {
  return tx.all(
    `SELECT o.id, o.job_id, o.status, o.held_because FROM outputs o
       JOIN jobs j ON j.id = o.job_id
       JOIN job_runs r ON r.job_id = j.id AND r.attempt = j.attempts
       LEFT JOIN spot_checks s ON s.job_id = r.job_id AND s.attempt = r.attempt AND s.result = 'matched'
      WHERE r.executor = $1 AND s.job_id IS NULL AND o.status IN ('released', 'held')
      ORDER BY o.created_at`,
    [workerId],
  );
}

/** Withholds one output: held for two reviewers again, earlier votes void (they were cast on trust). */
async function withhold(
  tx: Tx,
  o: Awaited<ReturnType<typeof unverifiedOutputs>>[number],
  why: string,
  f: Forgery,
): Promise<void> {
  const heldBecause = [...(o.held_because ? (JSON.parse(o.held_because) as string[]) : []), why];
  await tx.run(
    `UPDATE outputs SET status = 'held', held_because = $2, manifest_jws = NULL, released_at = NULL, released_by = NULL
      WHERE id = $1`,
    [o.id, JSON.stringify(heldBecause)],
    'outputs',
  );
  const votes = await tx.one<{ n: number }>('SELECT count(*)::INTEGER AS n FROM output_reviews WHERE output_id = $1', [
    o.id,
  ]);
  await tx.run('DELETE FROM output_reviews WHERE output_id = $1', [o.id], 'output_reviews');
  if (o.status === 'released')
    await transition(
      tx,
      o.job_id,
      ['released'],
      'held',
      {},
      { actor: SYSTEM_ACTOR, action: 'job.withheld', reason: why },
    );
  await appendAudit(tx, {
    actor: SYSTEM_ACTOR,
    action: 'output.withheld',
    objectType: 'output',
    objectId: o.id,
    reason: why,
    details: { was: o.status, worker: f.workerId, forgedJobId: f.jobId, votesVoided: votes?.n ?? 0 },
  });
}

/** Records a forgery caught by a spot check; answers the outputs withheld. */
export async function recordForgery(tx: Tx, f: Forgery, deps: { workers: WorkerRegistry }): Promise<string[]> {
  const caught = `spot check: worker ${f.workerId}'s result for run ${f.attempt} of job ${f.jobId} differs from the API's own re-execution`;
  await deps.workers.revokeIn(tx, f.workerId, SYSTEM_ACTOR, caught);
  if (f.current) {
    await markReported(tx, f.jobId, f.attempt, f.at);
    await transition(
      tx,
      f.jobId,
      ['running'],
      'failed',
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
  const outputs = await unverifiedOutputs(tx, f.workerId);
  for (const o of outputs) await withhold(tx, o, why, f);
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
      outputsWithheld: outputs.map((o) => o.id),
    },
  });
  return outputs.map((o) => o.id);
}
