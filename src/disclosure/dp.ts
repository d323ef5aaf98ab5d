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

export function applyDp(result: ReadResult, plan: DpInput, params: { epsilon: number; delta: number }): DpResult {
  const at = (name: string) => result.columns.findIndex((c) => c.name === name);
  const nAt = at(DP_COUNT);
  const sumAt = new Map(plan.sumColumns.map((c) => [c, at(dpSumColumn(c))]));
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
