import type { WorkflowPolicy } from './schemas.ts';

/** The kinds a refusal is counted under in reports (src/reports): the policy's lists decide which is which. */
export type RefusalCategory = 'escape' | 'singling-out' | 'limit' | 'error' | 'other';

/** Which kind of refusal a job's reason is, by the workflow policy's `reports` lists. */
export function categorize(
  reason: { code: string; layer?: string; rule?: string },
  policy: WorkflowPolicy['reports'],
): RefusalCategory {
  if (
    policy.escapeAttempts.codes.includes(reason.code) ||
    (reason.rule && policy.escapeAttempts.rules.includes(reason.rule))
  )
    return 'escape';
  if (reason.rule && policy.singlingOut.rules.includes(reason.rule)) return 'singling-out';
  if (reason.code === 'ERR_LIMIT_EXCEEDED') return 'limit';
  if (['ERR_SQL_SYNTAX', 'ERR_SQL_INVALID', 'ERR_SQL_RUNTIME'].includes(reason.code)) return 'error';
  return 'other';
}
