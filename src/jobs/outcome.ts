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

const signed = (bits: number): [bigint, bigint] => [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n];
const unsigned = (bits: number): [bigint, bigint] => [0n, (1n << BigInt(bits)) - 1n];
const INTEGER_RANGE: Record<string, [bigint, bigint]> = {
  TINYINT: signed(8),
  SMALLINT: signed(16),
  INTEGER: signed(32),
  BIGINT: signed(64),
  HUGEINT: signed(128),
  UTINYINT: unsigned(8),
  USMALLINT: unsigned(16),
  UINTEGER: unsigned(32),
  UBIGINT: unsigned(64),
  UHUGEINT: unsigned(128),
};

/** Whether a JSON cell is what the engine renders for a value of DuckDB type `type`. */
export function cellFits(type: string, v: unknown): boolean {
  if (v === null) return true;
  if (type.endsWith('[]')) return Array.isArray(v) && v.every((x) => cellFits(type.slice(0, -2), x));
  if (/^(STRUCT|MAP|UNION)\(/.test(type)) return typeof v === 'object';
  if (typeof v === 'object') return false;
  if (INTEGER.has(type)) {
    const n =
      typeof v === 'number' && Number.isInteger(v)
        ? BigInt(v)
        : typeof v === 'string' && /^-?\d{1,40}$/.test(v)
          ? BigInt(v)
          : undefined;
    const [lo, hi] = INTEGER_RANGE[type]!;
    // a value past its type's range is no value the engine renders: a refused outcome, not our fault
    return n !== undefined && n >= lo && n <= hi;
  }
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
    const { code, layer, facts } = outcome.error;
    if (!(RUN_ERROR_CODES as readonly string[]).includes(code)) invalid(`a run cannot end with ${code}`);
    // the worker's own words never reach anyone: the reason is written here, from a code and facts
    return {
      failure: {
        code: code as JobReason['code'],
        message: runReason(code as (typeof RUN_ERROR_CODES)[number], facts ?? {}, plan, limits, layer),
        ...(layer ? { layer } : {}),
      },
    };
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

/**
 * What an operator reads of a run that ended without a result (issue 32): the API's own words for
 * the code, with the facts the protocol allows — which limit, which column (only one the query
 * reads or returns), which type. A worker's message is free text and is never shown.
 */
export function runReason(
  code: (typeof RUN_ERROR_CODES)[number],
  facts: RunFacts,
  plan: Pick<RunPlan, 'readsColumns' | 'expected'>,
  limits: Pick<RunLimits, 'maxResultBytes' | 'maxResultRows'>,
  layer?: string,
): string {
  const known = new Set([...(plan.readsColumns ?? []), ...(plan.expected ?? []).map((c) => c.name)]);
  const column = facts.column && known.has(facts.column) ? facts.column : undefined;
  switch (code) {
    case 'ERR_SQL_RUNTIME': {
      const what = facts.type
        ? `a value could not be converted to ${facts.type}${column ? ` (casting column ${column})` : ''}`
        : column
          ? `a value of column ${column} could not be converted`
          : undefined;
      return `a runtime error while running the query${what ? `: ${what}` : ''} (the value itself is withheld: it may be data)`;
    }
    case 'ERR_LIMIT_EXCEEDED':
      switch (facts.limit) {
        case 'memory':
          return 'the job exceeded its memory or temporary storage limit';
        case 'time':
          return 'the job was interrupted at its wall-clock limit';
        case 'bytes':
          return `the result is larger than ${limits.maxResultBytes} bytes`;
        case 'rows':
          return `the result has more than ${limits.maxResultRows} rows`;
        default:
          return 'the job went past a limit of its sandbox';
      }
    case 'ERR_SQL_INVALID':
      return 'the engine could not run the query as it was bound';
    case 'ERR_SQL_NOT_SELECT':
      return 'the engine refused a statement that is not a read-only SELECT';
    case 'ERR_SANDBOX_DENIED':
      return layer === 'os'
        ? 'refused by the OS sandbox: the job reached for something outside the contract’s snapshot'
        : 'the sandbox refused an access outside the contract’s snapshot';
    case 'ERR_SANDBOX_FAILURE':
      return 'the sandbox failed while running the job (an infrastructure fault)';
    case 'ERR_SNAPSHOT_MISMATCH':
      return 'the snapshot the executor holds is not the one the contract pins';
  }
}

type RunFacts = NonNullable<Extract<RunOutcome, { ok: false }>['error']['facts']>;
