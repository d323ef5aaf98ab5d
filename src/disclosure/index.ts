import type { JsonValue, ReadResult } from '../store/index.ts';

/**
 * Disclosure control on every output (DESIGN §4.8, §7). Each check reports what it did and with
 * which parameters; the report goes into the output's metadata and its signed manifest.
 */

export interface CheckReport {
  check: string;
  params: Record<string, number | string>;
  passed: boolean;
  /** What a failure means: `hold` for a reviewer's decision, `refuse` outright. */
  onFail?: 'hold' | 'refuse';
  /** What the check changed, in words a reviewer reads. */
  effect: string;
  rowsSuppressed?: number;
  cellsSuppressed?: number;
}

export interface DisclosureResult {
  columns: ReadResult['columns'];
  rows: JsonValue[][];
  checks: CheckReport[];
  cellsSuppressed: number;
  /**
   * `release`: every check passed; `hold`: a check asks for review (DESIGN §4.8: held outputs wait
   * for two bureau reviewers); `refuse`: the output must not leave at all.
   */
  decision: 'release' | 'hold' | 'refuse';
  /** The failed checks' effects, for the reviewer (hold) or the operator (refuse). */
  reasons: string[];
}

/**
 * Minimum distinct privacy units per released row: rows describing fewer than `k` people or
 * enterprises are removed whole (their existence is a disclosure too). The helper column
 * holding the unit count is dropped from what is released.
 */
export function suppressSmallCells(result: ReadResult, unitsColumn: string, k: number): { result: ReadResult; report: CheckReport } {
  const idx = result.columns.findIndex((c) => c.name === unitsColumn);
  if (idx < 0) throw new TypeError(`result has no ${unitsColumn} column`);
  const columns = result.columns.filter((_, i) => i !== idx);
  const kept: JsonValue[][] = [];
  let suppressed = 0;
  for (const row of result.rows) {
    const units = Number(row[idx]);
    if (units < k) { suppressed++; continue; }
    kept.push(row.filter((_, i) => i !== idx));
  }
  const cells = suppressed * columns.length;
  return {
    result: { columns, rows: kept },
    report: {
      check: 'min-units', params: { k }, passed: true, rowsSuppressed: suppressed, cellsSuppressed: cells,
      effect: suppressed === 0 ? `every row describes at least ${k} distinct units` : `${suppressed} row(s) describing fewer than ${k} distinct units removed`,
    },
  };
}

/** Aggregate-mode outputs are tables of statistics, not extracts (seed 003 第二十条): a longer one waits for review. */
export function checkRowCap(rows: number, maxRows: number): CheckReport {
  return {
    check: 'max-rows', params: { maxRows }, passed: rows <= maxRows, onFail: 'hold',
    effect: rows <= maxRows ? `${rows} row(s), within the cap` : `${rows} rows exceed the cap of ${maxRows}; the output is held for review`,
  };
}

/** Runs every check in order; the result says whether the output may be released. */
export function applyDisclosureControl(result: ReadResult, opts: { unitsColumn: string; minUnits: number; maxRows: number }): DisclosureResult {
  const { result: safe, report: minUnits } = suppressSmallCells(result, opts.unitsColumn, opts.minUnits);
  const cap = checkRowCap(safe.rows.length, opts.maxRows);
  const checks = [minUnits, cap];
  return { columns: safe.columns, rows: safe.rows, checks, cellsSuppressed: minUnits.cellsSuppressed ?? 0, ...decide(checks) };
}

/** A refusing failure wins over a holding one; no failure releases. */
export function decide(checks: CheckReport[]): Pick<DisclosureResult, 'decision' | 'reasons'> {
  const failed = checks.filter((c) => !c.passed);
  const reasons = failed.map((c) => `${c.check}: ${c.effect}`);
  if (failed.some((c) => (c.onFail ?? 'refuse') === 'refuse')) return { decision: 'refuse', reasons };
  return { decision: failed.length > 0 ? 'hold' : 'release', reasons };
}
