import type { JsonValue, ReadResult } from '../store/index.ts';
import { DP_COUNT, DP_ROWS, dpSquareColumn, dpSumColumn, type DpMeasure, type DpPlan } from '../sandbox/index.ts';
import type { CheckReport } from './report.ts';
import { fromDecimal, laplaceNoise, type Rational } from './samplers.ts';

/**
 * Differential privacy on a dp-mode result (docs/architecture.md §13): the engine returned, per group, the
 * number of units and their bounded integer sums; here each measure gets discrete Laplace noise
 * (exact sampler) for its share of the query's ε, and a group is shown only when its noisy count
 * passes a threshold chosen so that a group made by one person appears with probability ≤ δ.
 * Everything after the noise is post-processing: means are noisy sum / noisy count.
 */

/** The engine's plan for a dp query (sandbox/dp.ts): what it returned and how to shape the output. */
export type DpInput = DpPlan;

export interface DpResult {
  columns: ReadResult['columns'];
  rows: JsonValue[][];
  report: CheckReport;
  epsilon: number;
  delta: number;
}

/** How a dp query's ε is spent: one equal share per noisy total, and the noise each share buys. */
export function dpScales(plan: DpInput, params: { epsilon: number; delta: number }) {
  const countsRows = plan.countsRows ?? false;
  const squares = plan.squareColumns ?? [];
  const rowsPerUnit = BigInt(plan.maxRowsPerUnit ?? 1);
  // persons (when asked for, or when they are the rows), rows (when a person has several), each sum,
  // each sum of squares; groups are selected on whichever count is noised, persons first
  // with public keys nothing is selected: persons are noised only when asked for (or when they are the rows)
  const countsPersons = plan.publicKeys
    ? plan.measures.some((m) => m.kind === 'persons' || (!countsRows && m.kind !== 'sum'))
    : !countsRows || plan.measures.some((m) => m.kind === 'persons');
  const shares = (countsPersons ? 1 : 0) + (countsRows ? 1 : 0) + plan.sumColumns.length + squares.length;
  const eps = fromDecimal(params.epsilon);
  const epsEach: Rational = { n: eps.n, d: eps.d * BigInt(shares) };
  const each = params.epsilon / shares;
  const groups = BigInt(plan.maxGroupsPerUnit);
  const countScale = plan.maxGroupsPerUnit / each;
  const rowsSensitivity = groups * rowsPerUnit;
  const top = (c: string) => {
    const b = plan.measures.find((m) => m.column === c)!.bounds!;
    return Math.max(Math.abs(b[0]), Math.abs(b[1]));
  };
  const sumSensitivity = new Map(plan.sumColumns.map((c) => [c, groups * rowsPerUnit * BigInt(Math.ceil(top(c)))]));
  const squareSensitivity = new Map(squares.map((c) => [c, groups * rowsPerUnit * BigInt(Math.ceil(top(c) ** 2))]));
  // P(a group of one unit shows) = P(c + noise ≥ τ) ≤ exp(−(τ − c)/scale) ≤ δ per group it can make,
  // where one person alone makes a count of c = 1 person, or of at most maxRowsPerUnit rows
  const threshold = plan.publicKeys
    ? Number.NEGATIVE_INFINITY
    : countsPersons
      ? 1 + Math.ceil(countScale * Math.log(1 / params.delta))
      : Number(rowsPerUnit) + Math.ceil((Number(rowsSensitivity) / each) * Math.log(1 / params.delta));
  return {
    countsPersons,
    shares,
    epsEach,
    each,
    countScale,
    countsRows,
    rowsSensitivity,
    sumSensitivity,
    squareSensitivity,
    threshold,
  };
}

/** Variance and 95 % error (the smallest k with P(|X| ≤ k) ≥ 0.95) of discrete Laplace noise of scale s. */
export function discreteLaplaceError(s: number): { variance: number; error95: number } {
  const q = Math.exp(-1 / s);
  // P(|X| > k) = 2 q^(k+1) / (1 + q)
  return {
    variance: (2 * q) / (1 - q) ** 2,
    error95: Math.max(0, Math.ceil(s * Math.log(40 / (1 + q)) - 1)),
  };
}

export interface DpPreview {
  epsilon: number;
  delta: number;
  /** Groups whose noisy count of persons (of rows, when persons are not asked for) falls below this are not shown. */
  threshold: number;
  measures: {
    name: string;
    kind: DpMeasure['kind'];
    column: string | null;
    /** The discrete Laplace scale of a count or sum; null for a ratio (mean, variance, stddev). */
    noiseScale: number | null;
    variance: number | null;
    /** 95 % of releases are within this of the exact value; for a ratio, in a group of `units` persons. */
    error95: number | { units: number; error95: number }[];
  }[];
}

/**
 * What a dp query will cost and how exact it will be, before it is run or charged: the same
 * scales `applyDp` will use. A ratio's error is bounded to first order, for a group of n persons
 * (each with at least one row): a mean's by the sum's plus the largest bound times the count's,
 * over n; a variance's by the squares' plus twice the bound times the sum's plus twice the bound
 * squared times the count's, over n; a standard deviation's by the square root of the variance's.
 */
export function previewDp(plan: DpInput, params: { epsilon: number; delta: number }): DpPreview {
  const { countScale, countsRows, rowsSensitivity, sumSensitivity, squareSensitivity, each, threshold } = dpScales(
    plan,
    params,
  );
  const persons = discreteLaplaceError(countScale);
  const rows = countsRows ? discreteLaplaceError(Number(rowsSensitivity) / each) : persons;
  const sizes = [threshold, 100, 1000, 10_000].filter((n, i, all) => n > 0 && all.indexOf(n) === i);
  const measures = plan.measures.map((m) => {
    const name = plan.outputColumns[m.position]!;
    if (m.kind === 'count' || m.kind === 'persons') {
      const e = m.kind === 'count' ? rows : persons;
      const scale = m.kind === 'count' && countsRows ? Number(rowsSensitivity) / each : countScale;
      return { name, kind: m.kind, column: null, noiseScale: scale, variance: e.variance, error95: e.error95 };
    }
    const scale = Number(sumSensitivity.get(m.column!)!) / each;
    const sum = discreteLaplaceError(scale);
    if (m.kind === 'sum')
      return { name, kind: m.kind, column: m.column!, noiseScale: scale, variance: sum.variance, error95: sum.error95 };
    const top = Math.max(Math.abs(m.bounds![0]), Math.abs(m.bounds![1]));
    const perSize = (f: (units: number) => number) =>
      sizes.map((units) => ({ units, error95: +f(units).toPrecision(4) }));
    if (m.kind === 'avg')
      return {
        name,
        kind: m.kind,
        column: m.column!,
        noiseScale: null,
        variance: null,
        error95: perSize((units) => (sum.error95 + top * rows.error95) / units),
      };
    const squares = discreteLaplaceError(Number(squareSensitivity.get(m.column!)!) / each);
    const varianceError = (units: number) =>
      (squares.error95 + 2 * top * sum.error95 + 2 * top * top * rows.error95) / Math.max(units - 1, 1);
    return {
      name,
      kind: m.kind,
      column: m.column!,
      noiseScale: null,
      variance: null,
      error95: perSize((units) => (m.kind === 'variance' ? varianceError(units) : Math.sqrt(varianceError(units)))),
    };
  });
  return {
    epsilon: params.epsilon,
    delta: plan.publicKeys ? 0 : params.delta * plan.maxGroupsPerUnit,
    // 0: every combination of public codes is shown
    threshold: plan.publicKeys ? 0 : threshold,
    measures,
  };
}

/**
 * The groups a release is made of: the engine's rows, or — with public code lists — every
 * combination of codes, each with its totals from the engine or zeros (a code no one has is shown
 * as noise around zero; a value outside the lists is not shown at all).
 */
function groupsOf(
  result: ReadResult,
  plan: DpInput,
  sumAt: Map<string, number>,
  squareAt: Map<string, number>,
  nAt: number,
  rAt: number,
): JsonValue[][] {
  if (!plan.publicKeys) return result.rows;
  const keys = plan.keyColumns.length;
  const found = new Map(result.rows.map((r) => [JSON.stringify(r.slice(0, keys)), r]));
  const width = result.columns.length;
  const combos = plan.publicKeys.reduce<string[][]>(
    (all, codes) => all.flatMap((a) => codes.map((c) => [...a, c])),
    [[]],
  );
  return combos.map((combo) => {
    const row = found.get(JSON.stringify(combo));
    if (row) return row;
    const zero: JsonValue[] = new Array(width).fill(0);
    combo.forEach((c, i) => (zero[i] = c));
    for (const i of [nAt, rAt, ...sumAt.values(), ...squareAt.values()]) if (i >= 0) zero[i] = 0;
    return zero;
  });
}

/** One measure's released value, from the group's noisy totals. */
function measured(
  m: DpInput['measures'][number],
  t: {
    noisyRows: number;
    noisyPersons: number;
    noisySum: Map<string, number>;
    noisySquares: Map<string, number>;
    n: number;
  },
): number {
  const { noisyRows, noisyPersons, noisySum, noisySquares, n } = t;
  const s = m.column ? noisySum.get(m.column)! : 0;
  switch (m.kind) {
    case 'count':
      return noisyRows;
    case 'persons':
      return noisyPersons;
    case 'sum':
      return s;
    case 'avg':
      return s / n;
    default: {
      // post-processing of the noisy moments, kept within what bounded values allow
      const [lo, hi] = m.bounds!;
      const spread = ((hi - lo) / 2) ** 2;
      const denominator = m.population ? n : Math.max(n - 1, 1);
      const variance = Math.min(Math.max((noisySquares.get(m.column!)! - (s * s) / n) / denominator, 0), spread);
      return m.kind === 'variance' ? variance : Math.sqrt(variance);
    }
  }
}

/** The released columns: counts and sums BIGINT, other measures DOUBLE, keys as the query typed them. */
function dpColumns(result: ReadResult, plan: DpInput): ReadResult['columns'] {
  return plan.outputColumns.map((name, i) => {
    const m = plan.measures.find((x) => x.position === i);
    const k = plan.keyColumns.indexOf(i);
    return {
      name,
      type: m
        ? m.kind === 'count' || m.kind === 'persons' || m.kind === 'sum'
          ? 'BIGINT'
          : 'DOUBLE'
        : (result.columns[k]?.type ?? 'VARCHAR'),
    };
  });
}

export function applyDp(result: ReadResult, plan: DpInput, params: { epsilon: number; delta: number }): DpResult {
  const at = (name: string) => result.columns.findIndex((c) => c.name === name);
  const value = (row: JsonValue[], i: number) => BigInt(Number(row[i] ?? 0));
  const nAt = at(DP_COUNT);
  const rAt = at(DP_ROWS);
  const sumAt = new Map(plan.sumColumns.map((c) => [c, at(dpSumColumn(c))]));
  const squares = plan.squareColumns ?? [];
  const squareAt = new Map(squares.map((c) => [c, at(dpSquareColumn(c))]));
  const {
    countsPersons,
    shares,
    epsEach,
    each,
    countScale,
    countsRows,
    rowsSensitivity,
    sumSensitivity,
    squareSensitivity,
    threshold,
  } = dpScales(plan, params);
  const rows: JsonValue[][] = [];
  let hidden = 0;
  for (const row of groupsOf(result, plan, sumAt, squareAt, nAt, rAt)) {
    const noisyPersons = countsPersons
      ? Number(value(row, nAt) + laplaceNoise(epsEach, BigInt(plan.maxGroupsPerUnit)))
      : Number.NaN;
    const noisyRows = countsRows ? Number(value(row, rAt) + laplaceNoise(epsEach, rowsSensitivity)) : noisyPersons;
    if ((countsPersons ? noisyPersons : noisyRows) < threshold) {
      hidden++;
      continue;
    }
    const noisy = (positions: Map<string, number>, sensitivity: Map<string, bigint>) =>
      new Map([...positions].map(([c, i]) => [c, Number(value(row, i) + laplaceNoise(epsEach, sensitivity.get(c)!))]));
    const noisySum = noisy(sumAt, sumSensitivity);
    const noisySquares = noisy(squareAt, squareSensitivity);
    const out: JsonValue[] = new Array(plan.outputColumns.length).fill(null);
    plan.keyColumns.forEach((p, i) => {
      out[p] = row[i] ?? null;
    });
    const n = Math.max(noisyRows, 1);
    for (const m of plan.measures)
      out[m.position] = measured(m, { noisyRows, noisyPersons, noisySum, noisySquares, n });
    rows.push(out);
  }
  const columns = dpColumns(result, plan);
  // public code lists select nothing by the data: pure ε
  const delta = plan.publicKeys ? 0 : params.delta * plan.maxGroupsPerUnit;
  const scaleOf = (sensitivity: Map<string, bigint>) =>
    [...sensitivity].map(([c, v]) => `${c}:${(Number(v) / each).toFixed(4)}`).join(',') || '-';
  return {
    columns,
    rows,
    epsilon: params.epsilon,
    delta,
    report: {
      check: 'differential-privacy',
      passed: true,
      params: {
        mechanism: 'discrete-laplace (exact, CSPRNG)',
        epsilon: params.epsilon,
        delta,
        epsilonPerMeasure: +each.toFixed(6),
        countScale: countsPersons ? +countScale.toFixed(4) : '-',
        rowsScale: countsRows ? +(Number(rowsSensitivity) / each).toFixed(4) : '-',
        sumScales: scaleOf(sumSensitivity),
        squareScales: scaleOf(squareSensitivity),
        // 0: every combination of the keys' public codes is shown
        threshold: plan.publicKeys ? 0 : threshold,
        maxGroupsPerUnit: plan.maxGroupsPerUnit,
        maxRowsPerUnit: plan.maxRowsPerUnit ?? 1,
      },
      effect: `every count and sum carries discrete Laplace noise for ε ${params.epsilon} split over ${shares} noisy total(s); ${plan.publicKeys ? `every combination of the keys' public codes shown (${rows.length})` : `${hidden} group(s) below the noisy threshold ${threshold} of ${countsPersons ? 'persons' : 'rows'} not shown`}; each person counts in at most ${plan.maxGroupsPerUnit} group(s), with at most ${plan.maxRowsPerUnit ?? 1} row(s) in each, its values clamped to their bounds`,
    },
  };
}
