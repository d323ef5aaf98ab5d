import type { JsonValue, ReadResult } from '../store/index.ts';
import { DP_COUNT, dpSumColumn, type DpPlan } from '../sandbox/index.ts';
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

/** How a dp query's ε is spent: one equal share per measure, and the noise each share buys. */
export function dpScales(plan: DpInput, params: { epsilon: number; delta: number }) {
  const shares = 1 + plan.sumColumns.length;
  const eps = fromDecimal(params.epsilon);
  const epsEach: Rational = { n: eps.n, d: eps.d * BigInt(shares) };
  const each = params.epsilon / shares;
  const countScale = plan.maxGroupsPerUnit / each;
  const sumSensitivity = new Map(
    plan.sumColumns.map((c) => {
      const b = plan.measures.find((m) => m.column === c)!.bounds!;
      return [c, BigInt(plan.maxGroupsPerUnit) * BigInt(Math.ceil(Math.max(Math.abs(b[0]), Math.abs(b[1]))))];
    }),
  );
  // P(a group of one unit shows) = P(1 + noise ≥ τ) ≤ exp(−(τ − 1)/scale) ≤ δ per group it can make
  const threshold = 1 + Math.ceil(countScale * Math.log(1 / params.delta));
  return { shares, epsEach, each, countScale, sumSensitivity, threshold };
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
  /** Groups whose noisy count falls below this are not shown. */
  threshold: number;
  measures: {
    name: string;
    kind: 'count' | 'sum' | 'avg';
    column: string | null;
    /** The discrete Laplace scale of a count or sum; null for a mean (a ratio of two noisy values). */
    noiseScale: number | null;
    variance: number | null;
    /** 95 % of releases are within this of the exact value; for a mean, in a group of `units` units. */
    error95: number | { units: number; error95: number }[];
  }[];
}

/**
 * What a dp query will cost and how exact it will be, before it is run or charged: the same
 * scales `applyDp` will use. A mean's error is bounded, for a group of n units, by the sum's plus
 * the largest bound times the count's, over n (first order; the released mean is noisy sum / noisy count).
 */
export function previewDp(plan: DpInput, params: { epsilon: number; delta: number }): DpPreview {
  const { countScale, sumSensitivity, each, threshold } = dpScales(plan, params);
  const count = discreteLaplaceError(countScale);
  const measures = plan.measures.map((m) => {
    const name = plan.outputColumns[m.position]!;
    if (m.kind === 'count')
      return {
        name,
        kind: m.kind,
        column: null,
        noiseScale: countScale,
        variance: count.variance,
        error95: count.error95,
      };
    const scale = Number(sumSensitivity.get(m.column!)!) / each;
    const sum = discreteLaplaceError(scale);
    if (m.kind === 'sum')
      return { name, kind: m.kind, column: m.column!, noiseScale: scale, variance: sum.variance, error95: sum.error95 };
    const top = Math.max(Math.abs(m.bounds![0]), Math.abs(m.bounds![1]));
    return {
      name,
      kind: m.kind,
      column: m.column!,
      noiseScale: null,
      variance: null,
      error95: [threshold, 100, 1000, 10_000]
        .filter((n, i, all) => all.indexOf(n) === i)
        .map((units) => ({ units, error95: +((sum.error95 + top * count.error95) / units).toPrecision(4) })),
    };
  });
  return { epsilon: params.epsilon, delta: params.delta * plan.maxGroupsPerUnit, threshold, measures };
}

export function applyDp(result: ReadResult, plan: DpInput, params: { epsilon: number; delta: number }): DpResult {
  const at = (name: string) => result.columns.findIndex((c) => c.name === name);
  const nAt = at(DP_COUNT);
  const sumAt = new Map(plan.sumColumns.map((c) => [c, at(dpSumColumn(c))]));
  const { shares, epsEach, each, countScale, sumSensitivity, threshold } = dpScales(plan, params);
  const rows: JsonValue[][] = [];
  let hidden = 0;
  for (const row of result.rows) {
    const noisyN = Number(BigInt(Number(row[nAt])) + laplaceNoise(epsEach, BigInt(plan.maxGroupsPerUnit)));
    if (noisyN < threshold) {
      hidden++;
      continue;
    }
    const noisySum = new Map(
      plan.sumColumns.map((c) => [
        c,
        Number(BigInt(Number(row[sumAt.get(c)!] ?? 0)) + laplaceNoise(epsEach, sumSensitivity.get(c)!)),
      ]),
    );
    const out: JsonValue[] = new Array(plan.outputColumns.length).fill(null);
    plan.keyColumns.forEach((p, i) => {
      out[p] = row[i] ?? null;
    });
    for (const m of plan.measures) {
      out[m.position] =
        m.kind === 'count'
          ? noisyN
          : m.kind === 'sum'
            ? noisySum.get(m.column!)!
            : noisySum.get(m.column!)! / Math.max(noisyN, 1);
    }
    rows.push(out);
  }
  const columns = plan.outputColumns.map((name, i) => {
    const m = plan.measures.find((x) => x.position === i);
    const k = plan.keyColumns.indexOf(i);
    return { name, type: m ? (m.kind === 'avg' ? 'DOUBLE' : 'BIGINT') : (result.columns[k]?.type ?? 'VARCHAR') };
  });
  const delta = params.delta * plan.maxGroupsPerUnit;
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
        countScale: +countScale.toFixed(4),
        sumScales:
          plan.sumColumns.map((c) => `${c}:${(Number(sumSensitivity.get(c)!) / each).toFixed(4)}`).join(',') || '-',
        threshold,
        maxGroupsPerUnit: plan.maxGroupsPerUnit,
      },
      effect: `every count and sum carries discrete Laplace noise for ε ${params.epsilon} split over ${shares} measure(s); ${hidden} group(s) below the noisy threshold ${threshold} not shown; each unit counts in at most ${plan.maxGroupsPerUnit} group(s), its sums clamped to their bounds`,
    },
  };
}
