/**
 * How a held output is reviewed (docs/architecture.md §15, "Reviews without blindness"): two bureau
 * users vote independently — neither sees the other's vote until both have voted — and the two
 * votes are then consolidated. Release needs both to approve; otherwise the more cautious vote
 * decides (reject over request-changes), so no single reviewer can release and none is overruled
 * towards disclosure. Modelled on OpenSAFELY Airlock's independent review then consolidation.
 */
import type { Principal } from '../auth/index.ts';
import type { Tx } from '../store/index.ts';

export type Vote = 'approve' | 'reject' | 'request-changes';
export type ReviewOutcome = 'released' | 'rejected' | 'changes-requested';

export interface Ballot {
  reviewer: string;
  decision: Vote;
  reason: string | null;
  reviewedAt: string;
}

/** Independent votes consolidated into an outcome: two bureau users (docs/architecture.md §9: no single insider). */
export const VOTES_TO_CONSOLIDATE = 2;

/** The outcome once enough votes are in; undefined while the output waits for more. */
export function consolidate(ballots: readonly Ballot[]): ReviewOutcome | undefined {
  if (ballots.length < VOTES_TO_CONSOLIDATE) return undefined;
  if (ballots.some((b) => b.decision === 'reject')) return 'rejected';
  if (ballots.some((b) => b.decision === 'request-changes')) return 'changes-requested';
  return 'released';
}

/**
 * The ballots a principal may read: all of them once the review is consolidated (the output is no
 * longer held); before that a bureau user sees only their own, and others see none.
 */
export function ballotsFor(p: Principal, ballots: readonly Ballot[], consolidated: boolean): Ballot[] {
  if (consolidated) return [...ballots];
  return ballots.filter((b) => b.reviewer === p.sub && p.roles.includes('bureau'));
}

/** The votes on an output, in the order they were cast. */
export async function loadBallots(reader: Pick<Tx, 'all'>, id: string): Promise<Ballot[]> {
  const rows = await reader.all<Record<string, string | null>>(
    'SELECT * FROM output_reviews WHERE output_id = $1 ORDER BY reviewed_at',
    [id],
  );
  return rows.map((r) => ({
    reviewer: String(r.reviewer),
    decision: r.decision as Vote,
    reason: (r.reason as string | null) ?? null,
    reviewedAt: String(r.reviewed_at),
  }));
}
