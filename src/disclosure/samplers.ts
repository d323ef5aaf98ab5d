import { randomBytes } from 'node:crypto';

/**
 * Exact samplers for differential privacy (Canonne, Kamath, Steinke, "The Discrete Gaussian for
 * Differential Privacy", NeurIPS 2020, Algorithms 1–3). Every probability is a rational number
 * and every coin comes from the operating system's CSPRNG: no floating point anywhere, so there is
 * no Mironov-style leak through the low bits of a double, and no seed an operator could learn.
 *
 * Speed without giving up exactness: while numerators and denominators fit in 32 bits (they do for
 * every scale this system uses), the same algorithms run on integer-valued JavaScript numbers —
 * exact below 2^53, and every product formed here stays below it — with coins drawn from 32-bit
 * words of a CSPRNG buffer read 8 KiB at a time; anything larger continues in BigInt, from the
 * very step where it outgrew the fast path, so the distribution is the same either way.
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

// --- the CSPRNG, read in batches: one call into OpenSSL per 8 KiB instead of one per coin
const POOL_BYTES = 8192;
let pool = Buffer.alloc(0);
let at = 0;
let coins = 0;
let coinsLeft = 0;

function word32(): number {
  if (at + 4 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    at = 0;
  }
  const w = pool.readUInt32LE(at);
  at += 4;
  return w;
}

function takeBytes(n: number): Buffer {
  if (at + n > pool.length) {
    pool = n > POOL_BYTES ? randomBytes(n) : randomBytes(POOL_BYTES);
    at = 0;
  }
  const out = pool.subarray(at, at + n);
  at += n;
  return out;
}

/** One fair coin, from the bits of a 32-bit word. */
function coin(): boolean {
  if (coinsLeft === 0) {
    coins = word32();
    coinsLeft = 32;
  }
  const c = coins & 1;
  coins >>>= 1;
  coinsLeft--;
  return c === 1;
}

const TWO32 = 2 ** 32;
const BIG_TWO32 = 2n ** 32n;

/** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32, by rejection from 32-bit words (no modulo bias). */
function uniform32(n: number): number {
  if (n === 1) return 0;
  if (n === 2) return coin() ? 1 : 0;
  const limit = TWO32 - (TWO32 % n);
  for (;;) {
    const w = word32();
    if (w < limit) return w % n;
  }
}

/** Bernoulli(n/d) for 0 ≤ n, 1 ≤ d ≤ 2^32. */
function bernoulli32(n: number, d: number): boolean {
  return n >= d || uniform32(d) < n;
}

/** Bernoulli(exp(−n/d)) for 0 ≤ n < 2^53, 1 ≤ d ≤ 2^32 (Algorithm 1 on numbers). */
function bernoulliExpMinus32(n: number, d: number): boolean {
  if (n <= d) {
    // γ ∈ [0, 1]: K ← 1; while Bernoulli(γ/K) do K ← K + 1; return K odd
    let k = 1;
    for (;;) {
      const dk = d * k;
      // past 32 bits the same loop goes on in BigInt, from this K
      if (dk > TWO32) return bernoulliExpMinusFrom(BigInt(n), BigInt(d), BigInt(k));
      if (!bernoulli32(n, dk)) return k % 2 === 1;
      k++;
    }
  }
  const whole = Math.floor(n / d);
  for (let i = 0; i < whole; i++) if (!bernoulliExpMinus32(1, 1)) return false;
  return bernoulliExpMinus32(n - whole * d, d);
}

/** Uniform integer in [0, n), by rejection from whole random bytes (no modulo bias). */
export function uniformBelow(n: bigint): bigint {
  if (n <= 0n) throw new RangeError('uniformBelow needs n > 0');
  if (n <= BIG_TWO32) return BigInt(uniform32(Number(n)));
  const bits = (n - 1n).toString(2).length;
  const bytes = Math.ceil(bits / 8);
  const excess = BigInt(bytes * 8 - bits);
  for (;;) {
    let v = 0n;
    for (const b of takeBytes(bytes)) v = (v << 8n) | BigInt(b);
    v >>= excess;
    if (v < n) return v;
  }
}

/** Bernoulli(n/d). */
export function bernoulli(p: Rational): boolean {
  if (p.n >= p.d) return true;
  if (p.d <= BIG_TWO32) return bernoulli32(Number(p.n), Number(p.d));
  return uniformBelow(p.d) < p.n;
}

/** The γ ∈ [0, 1] loop of Algorithm 1 in BigInt, starting at K = k. */
function bernoulliExpMinusFrom(n: bigint, d: bigint, k: bigint): boolean {
  while (bernoulli({ n, d: d * k })) k++;
  return k % 2n === 1n;
}

/** Bernoulli(exp(−γ)) for rational γ ≥ 0 (Algorithm 1). */
export function bernoulliExpMinus(g: Rational): boolean {
  if (g.d <= BIG_TWO32 && g.n < 2n ** 53n) return bernoulliExpMinus32(Number(g.n), Number(g.d));
  if (g.n <= g.d) return bernoulliExpMinusFrom(g.n, g.d, 1n);
  const whole = g.n / g.d;
  for (let i = 0n; i < whole; i++) if (!bernoulliExpMinus({ n: 1n, d: 1n })) return false;
  return bernoulliExpMinus({ n: g.n - whole * g.d, d: g.d });
}

/** Algorithm 2 on numbers, for s, t ≤ 2^32; u + t·v goes on in BigInt should v ever pass 2^20. */
function discreteLaplace32(s: number, t: number): bigint {
  for (;;) {
    const u = uniform32(t);
    if (!bernoulliExpMinus32(u, t)) continue;
    let v = 0;
    let big: bigint | undefined;
    while (bernoulliExpMinus32(1, 1)) {
      if (big !== undefined) big++;
      else if (++v === 2 ** 20) big = BigInt(v); // probability e^(−2^20), kept exact all the same
    }
    const negative = coin();
    if (big !== undefined) {
      const y = (BigInt(u) + BigInt(t) * big) / BigInt(s);
      if (negative && y === 0n) continue;
      return negative ? -y : y;
    }
    const y = Math.floor((u + t * v) / s);
    if (negative && y === 0) continue;
    return BigInt(negative ? -y : y);
  }
}

/**
 * Discrete Laplace with scale t/s: P(Y = y) ∝ exp(−|y|·s/t), for integers s, t ≥ 1 (Algorithm 2).
 * For ε-DP with sensitivity Δ: s/t = ε/Δ.
 */
export function discreteLaplace(s: bigint, t: bigint): bigint {
  if (s < 1n || t < 1n) throw new RangeError('discreteLaplace needs integers s, t ≥ 1');
  if (s <= BIG_TWO32 && t <= BIG_TWO32) return discreteLaplace32(Number(s), Number(t));
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
