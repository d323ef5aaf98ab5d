import { describe, expect, it } from 'vitest';
import {
  bernoulli,
  bernoulliExpMinus,
  discreteGaussian,
  discreteLaplace,
  fromDecimal,
  laplaceNoise,
  rational,
  uniformBelow,
} from '../../src/disclosure/samplers.ts';

/**
 * Statistical tests of the exact samplers against their exact distributions. Each bound is five
 * standard errors (or a chi-square at p ≈ 1e-6): a correct sampler fails about once in a million
 * runs; a wrong one (scale off by 10%, a sign bias, a missing rejection) fails every time.
 */

const N = 40_000;

/** Exact moments and pmf of an integer distribution given by unnormalized weights on [-R, R]. */
function exact(weight: (y: number) => number, R = 200) {
  let z = 0;
  const w = new Map<number, number>();
  for (let y = -R; y <= R; y++) {
    const v = weight(y);
    w.set(y, v);
    z += v;
  }
  const pmf = (y: number) => (w.get(y) ?? 0) / z;
  let m2 = 0;
  let m4 = 0;
  for (let y = -R; y <= R; y++) {
    m2 += pmf(y) * y * y;
    m4 += pmf(y) * y ** 4;
  }
  const tail = (k: number) => {
    let p = 0;
    for (let y = -R; y <= R; y++) if (Math.abs(y) >= k) p += pmf(y);
    return p;
  };
  return { pmf, variance: m2, m4, tail };
}

function checkAgainst(draws: number[], dist: ReturnType<typeof exact>, bins: number, tailAt: number): void {
  const n = draws.length;
  const mean = draws.reduce((a, b) => a + b, 0) / n;
  expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(dist.variance / n));
  const variance = draws.reduce((a, b) => a + b * b, 0) / n;
  expect(Math.abs(variance - dist.variance)).toBeLessThan(5 * Math.sqrt((dist.m4 - dist.variance ** 2) / n));
  const tailHat = draws.filter((y) => Math.abs(y) >= tailAt).length / n;
  const p = dist.tail(tailAt);
  expect(Math.abs(tailHat - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n) + 1e-9);
  // chi-square over -bins..bins, tails pooled
  const counts = new Map<number, number>();
  for (const y of draws) {
    const k = Math.max(-bins - 1, Math.min(bins + 1, y));
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  let chi = 0;
  for (let k = -bins - 1; k <= bins + 1; k++) {
    const e = (Math.abs(k) > bins ? dist.tail(bins + 1) / 2 : dist.pmf(k)) * n;
    chi += ((counts.get(k) ?? 0) - e) ** 2 / e;
  }
  // df = 2·bins + 2; the 1 − 1e-6 quantile is below df + 12·√df for these sizes
  const df = 2 * bins + 2;
  expect(chi).toBeLessThan(df + 12 * Math.sqrt(df));
}

describe('exact samplers', () => {
  it('uniformBelow and bernoulli are unbiased', () => {
    const draws = Array.from({ length: N }, () => Number(uniformBelow(7n)));
    for (let v = 0; v < 7; v++) {
      const f = draws.filter((d) => d === v).length / N;
      expect(Math.abs(f - 1 / 7)).toBeLessThan(5 * Math.sqrt(((1 / 7) * (6 / 7)) / N));
    }
    const hits = Array.from({ length: N }, () => bernoulli(rational(1, 3))).filter(Boolean).length / N;
    expect(Math.abs(hits - 1 / 3)).toBeLessThan(5 * Math.sqrt(2 / 9 / N));
  });

  it.each([
    [1, 2],
    [3, 2],
    [7, 3],
  ])('Bernoulli(exp(−%i/%i)) has the right mean', (n, d) => {
    const p = Math.exp(-n / d);
    const hits = Array.from({ length: N }, () => bernoulliExpMinus(rational(n, d))).filter(Boolean).length / N;
    expect(Math.abs(hits - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N));
  });

  it.each([
    [1n, 2n],
    [2n, 7n],
    [1n, 1n],
  ])('discrete Laplace with s=%i, t=%i matches its distribution', (s, t) => {
    const scale = Number(t) / Number(s);
    const dist = exact((y) => Math.exp(-Math.abs(y) / scale));
    checkAgainst(
      Array.from({ length: N }, () => Number(discreteLaplace(s, t))),
      dist,
      Math.ceil(3 * scale),
      Math.ceil(2 * scale),
    );
  });

  it.each([
    [4, 1],
    [5, 2],
    [1, 4],
  ])('discrete Gaussian with σ² = %i/%i matches its distribution', (n, d) => {
    const s2 = n / d;
    const dist = exact((y) => Math.exp(-(y * y) / (2 * s2)));
    checkAgainst(
      Array.from({ length: N }, () => Number(discreteGaussian(rational(n, d)))),
      dist,
      Math.max(2, Math.ceil(2.5 * Math.sqrt(s2))),
      Math.max(1, Math.ceil(1.5 * Math.sqrt(s2))),
    );
  });

  it('Laplace noise for ε and sensitivity Δ has scale Δ/ε; decimals are exact rationals', () => {
    expect(fromDecimal(0.25)).toEqual({ n: 25n, d: 100n });
    expect(fromDecimal(1)).toEqual({ n: 1n, d: 1n });
    const dist = exact((y) => Math.exp((-Math.abs(y) * 0.5) / 3));
    checkAgainst(
      Array.from({ length: N }, () => Number(laplaceNoise(fromDecimal(0.5), 3n))),
      dist,
      12,
      8,
    );
  });
});
