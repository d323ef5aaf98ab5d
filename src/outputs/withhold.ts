import { SYSTEM_ACTOR } from '../audit/index.ts';
import type { Tx } from '../store/index.ts';
import type { OutputJobs } from './jobs.ts';
import { moveOutput } from './states.ts';

/**
 * Withholding a worker's unverified outputs once it was caught forging a run (docs/architecture.md
 * §4): a released one goes back to held (no longer served, its manifest withdrawn), a held one
 * stays held, each with a reason the reviewers read, earlier votes void (they were cast on trust).
 */

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
  f: { workerId: string; forgedJobId: string },
  jobs: OutputJobs,
): Promise<void> {
  const heldBecause = [...(o.held_because ? (JSON.parse(o.held_because) as string[]) : []), why];
  const votes = await tx.one<{ n: number }>('SELECT count(*)::INTEGER AS n FROM output_reviews WHERE output_id = $1', [
    o.id,
  ]);
  await tx.run('DELETE FROM output_reviews WHERE output_id = $1', [o.id], 'output_reviews');
  await moveOutput(tx, jobs, 'withhold', {
    outputId: o.id,
    jobId: o.job_id,
    sets: { held_because: JSON.stringify(heldBecause), manifest_jws: null, released_at: null, released_by: null },
    audit: {
      actor: SYSTEM_ACTOR,
      reason: why,
      details: { was: o.status, worker: f.workerId, forgedJobId: f.forgedJobId, votesVoided: votes?.n ?? 0 },
    },
  });
}

/** Withholds every released or held output `workerId` ran that no spot check verified; answers their ids. */
export async function withholdUnverified(
  tx: Tx,
  jobs: OutputJobs,
  workerId: string,
  why: string,
  context: { forgedJobId: string },
): Promise<string[]> {
  const outputs = await unverifiedOutputs(tx, workerId);
  for (const o of outputs) await withhold(tx, o, why, { workerId, ...context }, jobs);
  return outputs.map((o) => o.id);
}
