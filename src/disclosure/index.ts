import type { JsonValue, ReadResult } from '../store/index.ts';
import { scanIdentifiers } from './identifiers.ts';
import { secondarySuppression } from './secondary.ts';
import { fingerprint, type Fingerprint } from './differencing.ts';
import type { Cell } from './earlier-answers.ts';
import type { CheckReport } from './report.ts';

export {
  candidates,
  checkDifferencing,
  fingerprint,
  missingUnits,
  trackerPairs,
  type Candidate,
  type EarlierOutput,
  type Fingerprint,
  type TrackerPair,
} from './differencing.ts';
export { applyDp, discreteLaplaceError, previewDp, type DpInput, type DpPreview, type DpResult } from './dp.ts';
export { secondarySuppression } from './secondary.ts';
export { answerFromEarlier, cellsFingerprint, type Answered, type Cell, type Statistics } from './earlier-answers.ts';
export { attackCost, AttackCostSchema, type AttackCost } from './attack-cost.ts';
export { buildPtable, ptableNoise, thresholds, type Ptable, type PtableRow } from './ptable.ts';

export type { CheckReport } from './report.ts';

export { scanIdentifiers, identifiersIn, type IdentifierFinding, type IdentifierKind } from './identifiers.ts';
export {
  bernoulli,
  bernoulliExpMinus,
  discreteGaussian,
  discreteLaplace,
  fromDecimal,
  laplaceNoise,
  rational,
  uniformBelow,
  type Rational,
} from './samplers.ts';

/**
 * Disclosure control on every output (docs/architecture.md §12–13). Each check reports what it did and with
 * which parameters; the report goes into the output's metadata and its signed manifest.
 */

export interface DisclosureResult {
  columns: ReadResult['columns'];
  rows: JsonValue[][];
  checks: CheckReport[];
  cellsSuppressed: number;
  /**
   * `release`: every check passed; `hold`: a check asks for review (docs/architecture.md §12: held outputs wait
   * for two bureau reviewers); `refuse`: the output must not leave at all.
   */
  decision: 'release' | 'hold' | 'refuse';
  /** The failed checks' effects, for the reviewer (hold) or the operator (refuse). */
  reasons: string[];
  /** Aggregate mode: group keys and units per released row, for differencing; never released. */
  fingerprint?: Fingerprint;
  /** Aggregate mode: every row the query made, suppressed ones too, for answers from earlier cells (earlier-answers.ts). */
  cells?: Cell[];
  /** dp mode: the ε this output spent (charged to the contract's ledger before the run). */
  epsilonSpent?: number;
}

/**
 * Minimum distinct privacy units per released row: rows describing fewer than `k` people or
 * enterprises are removed whole (their existence is a disclosure too). The helper column
 * holding the unit count is dropped from what is released.
 */
export function suppressSmallCells(
  result: ReadResult,
  unitsColumn: string,
  k: number,
  keyPositions: number[] = [],
): { result: ReadResult; report: CheckReport; units: number[]; kept: number[]; secondary: CheckReport } {
  const idx = result.columns.findIndex((c) => c.name === unitsColumn);
  if (idx < 0) throw new TypeError(`result has no ${unitsColumn} column`);
  const columns = result.columns.filter((_, i) => i !== idx);
  const allUnits = result.rows.map((row) => Number(row[idx]));
  const primary = allUnits.map((u) => u < k);
  const stripped = result.rows.map((row) => row.filter((_, i) => i !== idx));
  const keys = keyPositions.filter((p) => p !== idx).map((p) => (p > idx ? p - 1 : p));
  const { suppressed, report: secondary } = secondarySuppression(stripped, keys, allUnits, primary);
  const kept: JsonValue[][] = [];
  const keptUnits: number[] = [];
  const keptAt: number[] = [];
  stripped.forEach((row, i) => {
    if (!suppressed[i]) {
      kept.push(row);
      keptUnits.push(allUnits[i]!);
      keptAt.push(i);
    }
  });
  const count = primary.filter(Boolean).length;
  const cells = count * columns.length;
  return {
    result: { columns, rows: kept },
    units: keptUnits,
    kept: keptAt,
    secondary: { ...secondary, cellsSuppressed: (secondary.rowsSuppressed ?? 0) * columns.length },
    report: {
      check: 'min-units',
      params: { k },
      passed: true,
      rowsSuppressed: count,
      cellsSuppressed: cells,
      effect:
        count === 0
          ? `every row describes at least ${k} distinct units`
          : `${count} row(s) describing fewer than ${k} distinct units removed`,
    },
  };
}

/** Aggregate-mode outputs are tables of statistics, not extracts (seed 003 第二十条): a longer one waits for review. */
export function checkRowCap(rows: number, maxRows: number): CheckReport {
  return {
    check: 'max-rows',
    params: { maxRows },
    passed: rows <= maxRows,
    onFail: 'hold',
    ...(rows <= maxRows ? {} : { facts: { rows } }),
    effect:
      rows <= maxRows
        ? `${rows} row(s), within the cap`
        : `${rows} rows exceed the cap of ${maxRows}; the output is held for review`,
  };
}

/**
 * Rounds raw counts to a multiple of `base` (ties up), so that two outputs cannot be subtracted
 * to the exact size of a small group (OpenSAFELY rounds the same way).
 */
export function roundCounts(
  result: ReadResult,
  positions: number[],
  base: number,
): { result: ReadResult; report: CheckReport } {
  const targets = positions.filter((p) => p < result.columns.length);
  let changed = 0;
  const rows = result.rows.map((row) =>
    row.map((v, i) => {
      if (!targets.includes(i) || typeof v !== 'number' || base <= 1) return v;
      const r = Math.floor(v / base + 0.5) * base;
      if (r !== v) changed++;
      return r;
    }),
  );
  const names = targets.map((p) => result.columns[p]!.name);
  return {
    result: { columns: result.columns, rows },
    report: {
      check: 'round-counts',
      params: { base, columns: names.join(',') },
      passed: true,
      effect:
        targets.length === 0
          ? 'no count column to round'
          : `${changed} count cell(s) in ${names.join(', ')} rounded to a multiple of ${base}`,
    },
  };
}

export interface DisclosureOptions {
  unitsColumn: string;
  minUnits: number;
  maxRows: number;
  /** Output positions of raw counts (before the units column is dropped). */
  countColumns?: number[];
  /** Output positions of the group keys (before the units column is dropped). */
  keyColumns?: number[];
  /** Sums and means with their hidden dominance columns, and the (n, k) rule (policies/disclosure.yaml). */
  dominance: {
    columns: { column: number; total: string; top: string; basis: 'units' | 'rows' }[];
    n: number;
    k: number;
  };
  roundCountsTo?: number;
  /** The hidden columns of each row's unit-set signature (differencing.ts); dropped before anything else. */
  signature?: { n: string; s1: string; s2: string };
}

/** Takes the signature columns out of a result: the rest, and each row's signature. */
function takeSignatures(
  result: ReadResult,
  sig: DisclosureOptions['signature'],
): { result: ReadResult; signatures: ([number, string, string] | undefined)[] } {
  if (!sig) return { result, signatures: [] };
  const at = [sig.n, sig.s1, sig.s2].map((name) => result.columns.findIndex((c) => c.name === name));
  if (at.some((i) => i < 0)) return { result, signatures: [] };
  const hidden = new Set(at);
  return {
    result: {
      columns: result.columns.filter((_, i) => !hidden.has(i)),
      rows: result.rows.map((r) => r.filter((_, i) => !hidden.has(i))),
    },
    signatures: result.rows.map((r) => {
      const [n, s1, s2] = at.map((i) => r[i]);
      return n === null || s1 === null || s2 === null || n === undefined
        ? undefined
        : [Number(n), String(s1), String(s2)];
    }),
  };
}

/**
 * The (n, k) dominance rule for sums and means (docs/architecture.md §13): a cell is unsafe when its n largest
 * contributors make up more than k% of its total — one firm's capital, one patient's costs. Unsafe
 * cells are suppressed (set to null); the hidden measuring columns are dropped.
 */
export function applyDominance(
  result: ReadResult,
  rule: NonNullable<DisclosureOptions['dominance']>,
): { result: ReadResult; report: CheckReport } {
  const hidden = new Set(rule.columns.flatMap((d) => [d.total, d.top]));
  const at = (name: string) => result.columns.findIndex((c) => c.name === name);
  let suppressed = 0;
  const rows = result.rows.map((row) => {
    const out = [...row];
    for (const d of rule.columns) {
      const total = Number(row[at(d.total)] ?? 0);
      const top = (row[at(d.top)] as number[] | null) ?? [];
      const largest = top.slice(0, rule.n).reduce((a, b) => a + Number(b), 0);
      if (total > 0 && largest > (rule.k / 100) * total && out[d.column] !== null) {
        out[d.column] = null;
        suppressed++;
      }
    }
    return out.filter((_, i) => !hidden.has(result.columns[i]!.name));
  });
  const basis = [...new Set(rule.columns.map((d) => d.basis))].join(',') || 'units';
  return {
    result: { columns: result.columns.filter((c) => !hidden.has(c.name)), rows },
    report: {
      check: 'dominance',
      params: { n: rule.n, k: rule.k, basis },
      passed: true,
      cellsSuppressed: suppressed,
      effect:
        rule.columns.length === 0
          ? 'no sum or mean to check'
          : suppressed === 0
            ? `in no sum or mean do the top ${rule.n} contributors exceed ${rule.k}%`
            : `${suppressed} sum/mean cell(s) where the top ${rule.n} contributors exceed ${rule.k}% of the total suppressed`,
    },
  };
}

/** Runs every check in order; the result says whether the output may be released. */
export function applyDisclosureControl(input: ReadResult, opts: DisclosureOptions): DisclosureResult {
  const { result: unsigned, signatures } = takeSignatures(input, opts.signature);
  const { result, report: dominance } = applyDominance(unsigned, opts.dominance);
  const {
    result: safe,
    report: minUnits,
    units,
    kept,
    secondary,
  } = suppressSmallCells(result, opts.unitsColumn, opts.minUnits, opts.keyColumns);
  const unitsAt = result.columns.findIndex((c) => c.name === opts.unitsColumn);
  const shift = (positions: number[] | undefined) =>
    (positions ?? []).filter((p) => p !== unitsAt).map((p) => (p > unitsAt ? p - 1 : p));
  const counts = shift(opts.countColumns);
  const { result: rounded, report: rounding } = roundCounts(safe, counts, opts.roundCountsTo ?? 1);
  const { report: identifiers } = scanIdentifiers(rounded.columns, rounded.rows);
  const cap = checkRowCap(rounded.rows.length, opts.maxRows);
  const checks = [minUnits, secondary, dominance, rounding, identifiers, cap];
  // every row, suppressed or shown: a suppressed row keeps only its group keys
  const keys = shift(opts.keyColumns);
  const shownAt = new Map(kept.map((i, j) => [i, j]));
  const cells: Cell[] = result.rows.map((raw, i) => {
    const j = shownAt.get(i);
    const stripped = raw.filter((_, c) => c !== unitsAt);
    return {
      units: Number(raw[unitsAt]),
      shown: j !== undefined,
      row: j !== undefined ? rounded.rows[j]! : stripped.map((v, c) => (keys.includes(c) ? v : null)),
      ...(signatures[i] ? { sig: signatures[i] } : {}),
    };
  });
  return {
    columns: rounded.columns,
    rows: rounded.rows,
    checks,
    ...decide(checks),
    cellsSuppressed:
      (minUnits.cellsSuppressed ?? 0) + (secondary.cellsSuppressed ?? 0) + (dominance.cellsSuppressed ?? 0),
    fingerprint: fingerprint(
      safe.columns,
      safe.rows,
      units,
      keys,
      kept.map((i) => signatures[i]),
    ),
    cells,
  };
}

/** A refusing failure wins over a holding one; no failure releases. */
export function decide(checks: CheckReport[]): Pick<DisclosureResult, 'decision' | 'reasons'> {
  const failed = checks.filter((c) => !c.passed);
  const reasons = failed.map((c) => `${c.check}: ${c.effect}`);
  if (failed.some((c) => (c.onFail ?? 'refuse') === 'refuse')) return { decision: 'refuse', reasons };
  return { decision: failed.length > 0 ? 'hold' : 'release', reasons };
}
