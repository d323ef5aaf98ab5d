import { appendAudit, type Actor } from '../audit/index.ts';
import type { Tx } from '../store/index.ts';
import type { OutputJobMove, OutputJobReason, OutputJobs } from './jobs.ts';

/**
 * The output state machine (docs/architecture.md §7, whose diagram test/outputs/states.test.ts
 * checks against this table). An output is recorded `released` or `held` by the release decision;
 * every later change of its status is one of these moves, made by `moveOutput` with its job's
 * move and its audit entry in the same transaction.
 */
export type OutputStatus = 'released' | 'held' | 'rejected' | 'changes-requested';

export const OUTPUT_MOVES = {
  /** Two different bureau reviewers approved: signed and released. */
  approve: { from: ['held'], to: 'released', job: 'approve', by: 'bureau reviewers', action: 'output.released' },
  /** A reviewer rejected it with a reason: its data deleted. */
  reject: { from: ['held'], to: 'rejected', job: 'rejectHeld', by: 'bureau reviewers', action: 'output.rejected' },
  /** Reviewers asked for changes: its data deleted, the operator may revise the job. */
  requestChanges: {
    from: ['held'],
    to: 'changes-requested',
    job: 'returnForChanges',
    by: 'bureau reviewers',
    action: 'output.changes_requested',
  },
  /** Its worker was caught forging another run: held for two reviewers again (§4). */
  withhold: { from: ['released', 'held'], to: 'held', job: 'withhold', by: 'a spot check', action: 'output.withheld' },
} as const satisfies Record<
  string,
  { from: readonly OutputStatus[]; to: OutputStatus; job: OutputJobMove; by: string; action: string }
>;
export type OutputMove = keyof typeof OUTPUT_MOVES;

export interface OutputMoveInput {
  outputId: string;
  jobId: string;
  /** Columns of `outputs` the move sets beside its status. */
  sets?: Record<string, string | null>;
  /** The job's reasons and end, for a move that ends it. */
  job?: { reasons?: OutputJobReason[]; finishedAt?: string };
  audit: { actor: Actor; requestId?: string | undefined; reason?: string; details?: Record<string, unknown> };
}

/**
 * Makes `move` on an output and the matching move on its job (a job not in the state the job move
 * leaves is left alone: a held output's job is held already when it is withheld), with the
 * output's audit entry; answers false, changing nothing, when the output is in none of `from`.
 */
export async function moveOutput(tx: Tx, jobs: OutputJobs, move: OutputMove, input: OutputMoveInput): Promise<boolean> {
  const { from, to, job, action } = OUTPUT_MOVES[move];
  const sets = Object.entries(input.sets ?? {});
  const params: (string | null)[] = [input.outputId, to, ...from, ...sets.map(([, v]) => v)];
  const fromMarks = from.map((_, i) => `$${i + 3}`).join(', ');
  const setSql = sets.map(([column], i) => `, ${column} = $${i + 3 + from.length}`).join('');
  // its count, not RETURNING (src/store: a failed commit of one aborts the process)
  const moved = await tx.one<{ Count: number }>(
    `UPDATE outputs SET status = $2${setSql} WHERE id = $1 AND status IN (${fromMarks})`,
    params,
    'outputs',
  );
  if (!moved?.Count) return false;
  await jobs.move(tx, input.jobId, job, input.job ?? {}, {
    actor: input.audit.actor,
    ...(move === 'withhold' ? { action: 'job.withheld', reason: input.audit.reason } : {}),
  });
  await appendAudit(tx, { ...input.audit, action, objectType: 'output', objectId: input.outputId });
  return true;
}
