import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { buildPtable, ptableNoise, thresholds } from '../../src/disclosure/index.ts';
import { perturbationSpec } from '../../src/jobs/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';

/**
 * The count p-table (docs/architecture.md §12): per row, unbiased, bounded, of the stated
 * variance — exactly from its probabilities, and statistically when driven by uniform cell keys as
 * the engine drives it.
 */

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const { maxNoise, variance } = policies.disclosure.perturbation.counts;
const table = buildPtable(maxNoise, variance);

describe('the count p-table', () => {
  it('has, in every row, mean 0, |noise| ≤ min(count, D), and the full variance from D on; zero stays zero', () => {
    expect(table.rows[0]).toEqual({ values: [0], probabilities: [1], variance: 0 });
    table.rows.forEach((r, c) => {
      const mean = r.values.reduce((a, v, i) => a + v * r.probabilities[i]!, 0);
      expect(Math.abs(mean)).toBeLessThan(1e-12);
      expect(Math.max(...r.values.map(Math.abs))).toBeLessThanOrEqual(Math.min(c, maxNoise));
      expect(r.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    });
    expect(table.rows.at(-1)!.variance).toBeCloseTo(variance, 6);
    // no count turns negative: a count c never gets noise below −c
    for (let c = 0; c < 10; c++)
      for (const k of [0, 0.01, 0.5, 0.999]) expect(c + ptableNoise(table, c, k)).toBeGreaterThanOrEqual(0);
  });

  it('driven by uniform cell keys: unbiased with the stated variance (200,000 draws per row)', () => {
    // the engine's cell keys are sums of keyed hashes mod 2^32: uniform; so are these
    const uniform = () => Math.random();
    for (const c of [1, 2, maxNoise, 50, 10_000]) {
      const r = table.rows[Math.min(c, table.rows.length - 1)]!;
      let sum = 0;
      let sq = 0;
      const n = 200_000;
      for (let i = 0; i < n; i++) {
        const v = ptableNoise(table, c, uniform());
        sum += v;
        sq += v * v;
      }
      const mean = sum / n;
      const v = sq / n - mean * mean;
      // four standard errors
      expect(Math.abs(mean)).toBeLessThan(4 * Math.sqrt(r.variance / n) + 1e-9);
      expect(Math.abs(v - r.variance)).toBeLessThan(4 * r.variance * Math.sqrt(2 / n) + 0.01);
    }
  });

  it('is what the engine is handed: the same values and cumulative bounds', () => {
    const spec = perturbationSpec(policies, 1n);
    expect(spec.counts.map((r) => r.values)).toEqual(table.rows.map((r) => r.values));
    expect(spec.counts.map((r) => r.thresholds)).toEqual(table.rows.map((r) => thresholds(r)));
    expect(spec.magnitudes).toEqual({
      ...policies.disclosure.perturbation.magnitudes,
      topN: policies.disclosure.dominance.n,
    });
  });

  it('refuses a variance the bound cannot carry', () => {
    expect(() => buildPtable(1, 5)).toThrow(TypeError);
    expect(() => buildPtable(0, 0.5)).toThrow(TypeError);
  });
});
