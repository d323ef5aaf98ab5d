import { PdsError } from '../errors/index.ts';
import { RUN_ERROR_CODES, type RunLimits, type RunOutcome } from '../protocol/index.ts';
import type { ReadResult } from '../store/index.ts';
import type { JobReason } from './job-store.ts';
import type { RunPlan } from './plan.ts';

/**
 * Checks what an executor handed back against what the API handed out (docs/architecture.md,
 * "The run protocol"): the columns and types the API bound the SQL to, the row cap, and error
 * codes a run can end with. Anything else is refused as ERR_WORKER_OUTCOME_INVALID. What a
 * result means (units, keys, counts) is never read from it: that is in the API's plan.
 */

const INTEGER = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
  'UHUGEINT',
]);

/** Whether a JSON cell is what the engine renders for a value of DuckDB type `type`. */
export function cellFits(type: string, v: unknown): boolean {
  if (v === null) return true;
  if (type.endsWith('[]')) return Array.isArray(v) && v.every((x) => cellFits(type.slice(0, -2), x));
  if (/^(STRUCT|MAP|UNION)\(/.test(type)) return typeof v === 'object';
  if (typeof v === 'object') return false;
  if (INTEGER.has(type))
    return (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v));
  if (type.startsWith('DECIMAL'))
    return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v));
  if (type === 'DOUBLE' || type === 'FLOAT')
    return typeof v === 'number' || v === 'NaN' || v === 'Infinity' || v === '-Infinity';
  if (type === 'BOOLEAN') return typeof v === 'boolean';
  return typeof v === 'string';
}

function invalid(why: string): never {
  throw new PdsError('ERR_WORKER_OUTCOME_INVALID', why);
}

/** The raw result of a valid successful outcome, or the reason of a valid failed one; throws on anything else. */
export function checkOutcome(
  plan: RunPlan,
  limits: RunLimits,
  outcome: RunOutcome,
): { result: ReadResult } | { failure: JobReason } {
  if (!outcome.ok) {
    const { code, message, layer } = outcome.error;
    if (!(RUN_ERROR_CODES as readonly string[]).includes(code)) invalid(`a run cannot end with ${code}`);
    return { failure: { code: code as JobReason['code'], message, ...(layer ? { layer } : {}) } };
  }
  const { columns, rows } = outcome;
  if (rows.length > limits.maxResultRows)
    invalid(`${rows.length} rows handed back; the run's cap is ${limits.maxResultRows}`);
  if (plan.expected) {
    const want = plan.expected;
    if (
      columns.length !== want.length ||
      columns.some((c, i) => c.name !== want[i]!.name || c.type !== want[i]!.type)
    ) {
      invalid(
        `the columns handed back (${columns.map((c) => `${c.name} ${c.type}`).join(', ')}) are not the ones the query binds to (${want.map((c) => `${c.name} ${c.type}`).join(', ')})`,
      );
    }
  }
  rows.forEach((row, r) => {
    if (row.length !== columns.length)
      invalid(`row ${r + 1} has ${row.length} cells; the result has ${columns.length} columns`);
    row.forEach((v, i) => {
      if (!cellFits(columns[i]!.type, v))
        invalid(`row ${r + 1}, column ${columns[i]!.name}: not a ${columns[i]!.type} value`);
    });
  });
  return { result: { columns, rows: rows as ReadResult['rows'] } };
}
