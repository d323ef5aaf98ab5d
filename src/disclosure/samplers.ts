import { randomBytes } from 'node:crypto';

/**
 * Exact samplers for differential privacy (Canonne, Kamath, Steinke, "The Discrete Gaussian for
 * Differential Privacy", NeurIPS 2020, Algorithms 1–3). Every probability is a rational number in
 * BigInt arithmetic and every coin comes from the operating system's CSPRNG: no floating point
 * anywhere, so there is no Mironov-style leak through the low bits of a double, and no seed an
 * operator could learn.
 */

/** A non-negative rational n/d, d > 0. */
export interface Rational {
  n: bigint;
  d: bigint;
}

export function rational(n: bigint | number, d: bigint | number = 1n): Rational {
  const nn = BigInt(n);
  const dd = BigInt(d);
  if (dd <= 0n || nn < 0n) throw new RangeError(`not a non-negative rational: ${nn}/${dd}`);
  return { n: nn, d: dd };
}

/** A decimal such as 0.5 or 1.25 as an exact rational (the parameters people write). */
export function fromDecimal(x: number): Rational {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`not a non-negative finite number: ${x}`);
  const [int, frac = ''] = x.toString().includes('e') ? [x.toFixed(12)] : x.toString().split('.');
  const d = 10n ** BigInt(frac.length);
  return { n: BigInt(int!) * d + BigInt(frac || '0'), d };
}

/** Uniform integer in [0, n), by rejection from whole random bytes (no modulo bias). */
export function uniformBelow(n: bigint): bigint {
  if (n <= 0n) throw new RangeError('uniformBelow needs n > 0');
  if (n === 1n) return 0n;
  const bits = (n - 1n).toString(2).length;
  const bytes = Math.ceil(bits / 8);
  const excess = BigInt(bytes * 8 - bits);
  for (;;) {
    let v = 0n;
    for (const b of randomBytes(bytes)) v = (v << 8n) | BigInt(b);
    v >>= excess;
    if (v < n) return v;
  }
}

/** Bernoulli(n/d). */
export function bernoulli(p: Rational): boolean {
  if (p.n >= p.d) return true;
  return uniformBelow(p.d) < p.n;
}

/** Bernoulli(exp(−γ)) for rational γ ≥ 0 (Algorithm 1). */
export function bernoulliExpMinus(g: Rational): boolean {
  if (g.n <= g.d) {
    // γ ∈ [0, 1]: K ← 1; while Bernoulli(γ/K) do K ← K + 1; return K odd
    let k = 1n;
    while (bernoulli({ n: g.n, d: g.d * k })) k++;
    return k % 2n === 1n;
  }
  const whole = g.n / g.d;
  for (let i = 0n; i < whole; i++) if (!bernoulliExpMinus({ n: 1n, d: 1n })) return false;
  return bernoulliExpMinus({ n: g.n - whole * g.d, d: g.d });
}

/**
 * Discrete Laplace with scale t/s: P(Y = y) ∝ exp(−|y|·s/t), for integers s, t ≥ 1 (Algorithm 2).
 * For ε-DP with sensitivity Δ: s/t = ε/Δ.
 */
export function discreteLaplace(s: bigint, t: bigint): bigint {
  if (s < 1n || t < 1n) throw new RangeError('discreteLaplace needs integers s, t ≥ 1');
  for (;;) {
    const u = uniformBelow(t);
    if (!bernoulliExpMinus({ n: u, d: t })) continue;
    let v = 0n;
    while (bernoulliExpMinus({ n: 1n, d: 1n })) v++;
    const y = (u + t * v) / s;
    const negative = bernoulli({ n: 1n, d: 2n });
    if (negative && y === 0n) continue;
    return negative ? -y : y;
  }
}

/** Discrete Gaussian: P(Y = y) ∝ exp(−y²/(2σ²)), for rational σ² > 0 (Algorithm 3). */
export function discreteGaussian(sigma2: Rational): bigint {
  if (sigma2.n <= 0n) throw new RangeError('discreteGaussian needs σ² > 0');
  const t = isqrt(sigma2.n / sigma2.d) + 1n; // ⌊σ⌋ + 1
  for (;;) {
    const y = discreteLaplace(1n, t);
    const abs = y < 0n ? -y : y;
    // exponent (|y| − σ²/t)² / (2σ²), exactly: (|y|·t·d − n)² / (2·n·d·t²)
    const num = abs * t * sigma2.d - sigma2.n;
    if (bernoulliExpMinus({ n: num * num, d: 2n * sigma2.n * sigma2.d * t * t })) return y;
  }
}

/** The integer square root of a non-negative BigInt (floor). */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/** Discrete Laplace noise for ε-DP with integer sensitivity Δ: scale Δ/ε. */
export function laplaceNoise(epsilon: Rational, sensitivity: bigint): bigint {
  return discreteLaplace(epsilon.n, epsilon.d * sensitivity);
}
