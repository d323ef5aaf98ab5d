import { appendAudit, SYSTEM_ACTOR } from '../audit/index.ts';
import { PdsError } from '../errors/index.ts';
import type { Tx } from '../store/index.ts';

/**
 * The ε ledger of a dp contract (docs/architecture.md §13): every query is charged before it runs, inside a
 * store write transaction, so concurrent jobs are serialized and the sum of charges can never pass
 * the contract's budget for its term. ε is kept in millionths: sums are exact. A job is charged
 * once, however often it is retried.
 */

export const MICRO = 1_000_000;

export function toMicro(epsilon: number): number {
  return Math.round(epsilon * MICRO);
}

export async function spentMicro(tx: Pick<Tx, 'one'>, contractId: string): Promise<number> {
  const row = await tx.one<{ s: number | null }>(
    'SELECT sum(epsilon_micro) AS s FROM privacy_ledger WHERE contract_id = $1',
    [contractId],
  );
  return Number(row?.s ?? 0);
}

/** A contract's ε account: null figures when it is not a dp contract. */
export interface Budget {
  contractId: string;
  mode: string;
  epsilon: number | null;
  spent: number | null;
  remaining: number | null;
  epsilonPerQuery: number | null;
  queriesLeft: number | null;
  charges: { jobId: string; epsilon: number; chargedAt: string }[];
}

/** The account of a contract: its budget for the term, spent, left, the charge of one query, the latest charges. */
export async function account(
  reader: Pick<Tx, 'one' | 'all'>,
  contractId: string,
  mode: string,
  budget: { epsilon: number; epsilonPerQuery: number } | null,
): Promise<Budget> {
  if (!budget)
    return {
      contractId,
      mode,
      epsilon: null,
      spent: null,
      remaining: null,
      epsilonPerQuery: null,
      queriesLeft: null,
      charges: [],
    };
  const spent = await spentMicro(reader, contractId);
  const remaining = Math.max(0, toMicro(budget.epsilon) - spent);
  const charges = await reader.all<{ job_id: string; epsilon_micro: number; charged_at: string }>(
    'SELECT job_id, epsilon_micro, charged_at FROM privacy_ledger WHERE contract_id = $1 ORDER BY charged_at DESC LIMIT 100',
    [contractId],
  );
  return {
    contractId,
    mode,
    epsilon: budget.epsilon,
    spent: spent / MICRO,
    remaining: remaining / MICRO,
    epsilonPerQuery: budget.epsilonPerQuery,
    queriesLeft: Math.floor(remaining / toMicro(budget.epsilonPerQuery)),
    charges: charges.map((c) => ({
      jobId: c.job_id,
      epsilon: Number(c.epsilon_micro) / MICRO,
      chargedAt: c.charged_at,
    })),
  };
}

/** Refuses with ERR_BUDGET_EXHAUSTED when `epsilon` more would pass the budget; answers what is spent (in millionths). */
export async function assertBudget(
  reader: Pick<Tx, 'one'>,
  contractId: string,
  epsilon: number,
  budget: number,
): Promise<number> {
  const spent = await spentMicro(reader, contractId);
  if (spent + toMicro(epsilon) > toMicro(budget)) {
    throw new PdsError(
      'ERR_BUDGET_EXHAUSTED',
      `contract ${contractId} has spent ε ${spent / MICRO} of ${budget}; this query needs ${epsilon}`,
      {
        extra: { epsilonSpent: spent / MICRO, epsilonBudget: budget, epsilonRequested: epsilon },
      },
    );
  }
  return spent;
}

/** Charges `epsilon` for a job, or refuses with ERR_BUDGET_EXHAUSTED; idempotent per job. */
export async function charge(
  tx: Tx,
  input: { contractId: string; jobId: string; epsilon: number; delta: number; budget: number; at: string },
): Promise<void> {
  if (await tx.one('SELECT 1 AS x FROM privacy_ledger WHERE job_id = $1', [input.jobId])) return;
  const spent = await assertBudget(tx, input.contractId, input.epsilon, input.budget);
  const want = toMicro(input.epsilon);
  await tx.run(
    'INSERT INTO privacy_ledger (job_id, contract_id, epsilon_micro, delta, charged_at) VALUES ($1, $2, $3, $4, $5)',
    [input.jobId, input.contractId, want, input.delta, input.at],
    'privacy_ledger',
  );
  await appendAudit(tx, {
    actor: SYSTEM_ACTOR,
    action: 'privacy.charged',
    objectType: 'contract',
    objectId: input.contractId,
    details: { jobId: input.jobId, epsilon: input.epsilon, delta: input.delta, spentAfter: (spent + want) / MICRO },
  });
}

/**
 * Gives back a job's charge when it ends before its run read any data (refused or failed at the
 * claim). Once the engine has read the data, the charge stays, whatever the outcome: a failure,
 * a refusal or even a cancellation can depend on one person's row (docs/architecture.md §12).
 */
export async function refund(tx: Tx, jobId: string, why: string): Promise<void> {
  const row = await tx.one<{ contract_id: string; epsilon_micro: number }>(
    'SELECT contract_id, epsilon_micro FROM privacy_ledger WHERE job_id = $1',
    [jobId],
  );
  if (!row) return;
  await tx.run('DELETE FROM privacy_ledger WHERE job_id = $1', [jobId], 'privacy_ledger');
  await appendAudit(tx, {
    actor: SYSTEM_ACTOR,
    action: 'privacy.refunded',
    objectType: 'contract',
    objectId: row.contract_id,
    reason: why,
    details: { jobId, epsilon: Number(row.epsilon_micro) / MICRO },
  });
}
