/**
 * The p-table of cell-key perturbation for counts (as ABS TableBuilder/SuperSTAR and ONS
 * Cantabular use, and sdcTools' `ptable` builds): for each original count, a distribution of the
 * noise added to it. Ours is bounded (|noise| ≤ D), unbiased (symmetric), keeps zero at zero, and
 * has the stated variance V for every count ≥ D; a count c < D gets the same shape truncated to
 * ±c, so it never turns negative (a smaller variance, stated per row). The cell key — the sum of
 * the contributing units' record keys, mod 1 — picks the noise from a row's cumulative
 * distribution, so the same set of units always gets the same noise.
 */

export interface PtableRow {
  /** The noise values, ascending. */
  values: number[];
  probabilities: number[];
  variance: number;
}

export interface Ptable {
  maxNoise: number;
  variance: number;
  /** Row i is for a count of i; the last row for every larger count. */
  rows: PtableRow[];
}

function row(bound: number, s: number): PtableRow {
  const values = Array.from({ length: 2 * bound + 1 }, (_, i) => i - bound);
  const weights = values.map((v) => Math.exp(-(v * v) / (2 * s * s)));
  const total = weights.reduce((a, b) => a + b, 0);
  const probabilities = weights.map((w) => w / total);
  const variance = values.reduce((a, v, i) => a + v * v * probabilities[i]!, 0);
  return { values, probabilities, variance };
}

/** The p-table for noise bounded by `maxNoise` with variance `variance` (≤ what the bound allows). */
export function buildPtable(maxNoise: number, variance: number): Ptable {
  if (!Number.isInteger(maxNoise) || maxNoise < 1) throw new TypeError('maxNoise must be a positive integer');
  const ceiling = row(maxNoise, 1e6).variance; // the flattest shape the bound allows
  if (!(variance > 0 && variance < ceiling))
    throw new TypeError(`variance must be in (0, ${ceiling.toFixed(3)}) for noise bounded by ${maxNoise}`);
  // the spread s of the discrete Gaussian shape that has the asked variance (variance grows with s)
  let lo = 1e-3;
  let hi = 1e3;
  for (let i = 0; i < 200; i++) {
    const mid = Math.sqrt(lo * hi);
    if (row(maxNoise, mid).variance < variance) lo = mid;
    else hi = mid;
  }
  const s = Math.sqrt(lo * hi);
  const rows = [{ values: [0], probabilities: [1], variance: 0 }];
  for (let c = 1; c <= maxNoise; c++) rows.push(row(Math.min(c, maxNoise), s));
  return { maxNoise, variance, rows };
}

/** The noise a row's distribution gives a cell key in [0, 1) (the inverse of its cumulative distribution). */
export function ptableNoise(table: Ptable, count: number, key: number): number {
  const r = table.rows[Math.min(Math.max(count, 0), table.rows.length - 1)]!;
  let acc = 0;
  for (let i = 0; i < r.values.length; i++) {
    acc += r.probabilities[i]!;
    if (key < acc) return r.values[i]!;
  }
  return r.values[r.values.length - 1]!;
}

/** Upper cumulative bounds of a row, as the engine's lookup compares them (the last is implied). */
export function thresholds(r: PtableRow): number[] {
  const out: number[] = [];
  let acc = 0;
  for (let i = 0; i < r.values.length - 1; i++) {
    acc += r.probabilities[i]!;
    out.push(acc);
  }
  return out;
}
