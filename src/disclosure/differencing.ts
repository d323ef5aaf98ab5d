import type { JsonValue } from '../store/index.ts';
import type { CheckReport } from './report.ts';
import { isqrt } from './samplers.ts';

/**
 * The differencing check (docs/architecture.md §12). Two cells whose sets of people differ by one
 * or two units give, subtracted, those people's own values — Denning's tracker. Perturbation makes
 * each such difference noisy; this check finds the pairs, whatever the columns are called, however
 * the cells are grouped and under whichever of the operator's contracts they were made, and holds
 * the output for review.
 *
 * It compares sets, not names. Each released or held row keeps a signature of the units behind it
 * — their number n and the power sums s1 = Σk, s2 = Σk² of their domain-wide 32-bit keys
 * (masking UNIT_KEY_COLUMN) — in the control store; it never leaves the domain. Signatures add: a
 * GROUP BY's rows are disjoint, so an output's total and its subtotals by one key column are
 * signatures too, which catches a district total against its district × gender cells, or a query
 * without GROUP BY against a grouped one. For two signatures with n differing by d ≤ 2, the
 * differences Δ1, Δ2 are those of the d missing units exactly when the smaller set is inside the
 * larger: d = 1 needs Δ2 = Δ1² (k = Δ1), d = 2 needs 2Δ2 − Δ1² to be a perfect square (k = (Δ1 ± √)/2).
 * Unrelated sets meet these equations with probability around 2⁻³², so the check holds honest
 * outputs only when they truly single people out.
 *
 * Outputs made before unit keys existed have no signatures; for them the earlier rule stands:
 * rows of one contract with the same group-key names and values whose unit counts differ by
 * fewer than k.
 */

export interface Fingerprint {
  keyColumns: string[];
  /** What each column measures apart from its people (earlier-answers.ts); outputs before issue 31 have none. */
  statistics?: { ids: (string | null)[]; rowKeys: number[] };
  rows: {
    key: string;
    units: number;
    /** The unit-set signature [n, s1, s2], sums as decimal strings. */
    sig?: [number, string, string];
    /** false: the row was suppressed (recorded since issue 31; earlier fingerprints hold shown rows only). */
    shown?: boolean;
    /** The row as released, when shown (since issue 31). */
    values?: JsonValue[];
  }[];
}

export function fingerprint(
  columns: { name: string }[],
  rows: JsonValue[][],
  units: number[],
  keyPositions: number[],
  signatures?: ([number, string, string] | undefined)[],
): Fingerprint {
  return {
    keyColumns: keyPositions.map((p) => columns[p]!.name),
    rows: rows.map((r, i) => {
      const sig = signatures?.[i];
      return {
        key: JSON.stringify(keyPositions.map((p) => r[p] ?? null)),
        units: units[i]!,
        ...(sig ? { sig } : {}),
      };
    }),
  };
}

/** A set of units as the check sees it: its signature and where it came from. */
export interface Candidate {
  /** Which output, and which row or subtotal of it. */
  outputId: string;
  label: string;
  n: number;
  s1: bigint;
  /** Σk² modulo 2^64: a cell whose people repeat over rows has it only so (sandbox/units.ts). */
  s2: bigint;
}

const MAX_KEY = 1n << 32n;
const S2_MODULUS = 1n << 64n;
const mod64 = (x: bigint) => ((x % S2_MODULUS) + S2_MODULUS) % S2_MODULUS;

/** Every row of an output with a signature, its total, and its subtotals by each key column (when it has two or more). */
export function candidates(outputId: string, fp: Fingerprint): Candidate[] {
  const rows = fp.rows.filter((r) => r.sig);
  if (rows.length === 0) return [];
  const out: Candidate[] = rows.map((r) => ({
    outputId,
    label: `row ${r.key}`,
    n: r.sig![0],
    s1: BigInt(r.sig![1]),
    s2: mod64(BigInt(r.sig![2])),
  }));
  const add = (label: string, members: typeof rows) => {
    if (members.length < 2) return;
    out.push({
      outputId,
      label,
      n: members.reduce((a, r) => a + r.sig![0], 0),
      s1: members.reduce((a, r) => a + BigInt(r.sig![1]), 0n),
      s2: mod64(members.reduce((a, r) => a + BigInt(r.sig![2]), 0n)),
    });
  };
  add('total', rows);
  if (fp.keyColumns.length >= 2) {
    fp.keyColumns.forEach((name, i) => {
      const groups = new Map<string, typeof rows>();
      for (const r of rows) {
        const v = JSON.stringify((JSON.parse(r.key) as JsonValue[])[i] ?? null);
        const members = groups.get(v);
        if (members) members.push(r);
        else groups.set(v, [r]);
      }
      for (const [v, members] of groups) add(`subtotal ${name} = ${v}`, members);
    });
  }
  return out;
}

/**
 * The keys of the units that `big` has and `small` lacks, when `small` is `big` less one or two
 * units; undefined otherwise (a different set, or a larger difference).
 */
export function missingUnits(big: Candidate, small: Candidate): bigint[] | undefined {
  const d = big.n - small.n;
  const d1 = big.s1 - small.s1;
  // Σk² is compared modulo 2^64: k² < 2^62 and (a − b)² < 2^62 are found whole; unrelated sets
  // pass with probability ~2^-64 (one unit) and ~2^-33 (two), as before ~2^-32
  const d2 = mod64(big.s2 - small.s2);
  if (d === 1) return d1 >= 0n && d1 < MAX_KEY && d2 === d1 * d1 ? [d1] : undefined;
  if (d === 2) {
    const disc = mod64(2n * d2 - d1 * d1); // (a − b)²
    if (d1 < 0n || disc <= 0n) return undefined;
    const root = isqrt(disc);
    if (root * root !== disc || (d1 + root) % 2n !== 0n) return undefined;
    const a = (d1 + root) / 2n;
    const b = (d1 - root) / 2n;
    return a < MAX_KEY && b >= 0n ? [a, b] : undefined;
  }
  return undefined;
}

/** A pair of candidates one or two units apart: the tracker found. */
export interface TrackerPair {
  big: Candidate;
  small: Candidate;
  units: bigint[];
}

/** Pairs between `current` and `pool` (and within `current`) whose sets differ by one or two units. */
export function trackerPairs(current: Candidate[], pool: Candidate[]): TrackerPair[] {
  const byN = new Map<number, Candidate[]>();
  for (const list of [pool, current])
    for (const c of list) {
      const same = byN.get(c.n);
      if (same) same.push(c);
      else byN.set(c.n, [c]);
    }
  const found: TrackerPair[] = [];
  for (const c of current) {
    for (const d of [1, 2]) {
      for (const other of byN.get(c.n - d) ?? []) {
        const units = missingUnits(c, other);
        if (units) found.push({ big: c, small: other, units });
      }
      for (const other of byN.get(c.n + d) ?? []) {
        // a pair within the current output is found from its larger side
        if (other.outputId === c.outputId) continue;
        const units = missingUnits(other, c);
        if (units) found.push({ big: other, small: c, units });
      }
    }
  }
  return found;
}

/** An earlier output as the check compares with it; `candidates` when the caller kept them (they never change). */
export interface EarlierOutput {
  outputId: string;
  sameContract?: boolean;
  fingerprint: Fingerprint;
  candidates?: Candidate[];
}

/**
 * The differencing check on an output whose cells were answered from earlier ones
 * (earlier-answers.ts). Pairs of sets one or two people apart — rows, totals, subtotals, across
 * outputs and contracts — are counted for the bureau (`pairs`, `pairedWith`: the output's audit
 * entry and the risk reports' tracker patterns), never held: a hold only when one person differs
 * would itself say that the person is in the cell. Outputs made before unit keys have no
 * signatures; for their rows the earlier rule stands — rows of one contract with the same
 * group-key names and values whose unit counts differ by fewer than k are held.
 */
export function checkDifferencing(
  current: Fingerprint,
  earlier: EarlierOutput[],
  k: number,
  currentId = 'this output',
): CheckReport & { pairedWith?: string; pairs: number } {
  const mine = candidates(currentId, current);
  const pool = earlier.flatMap((e) => e.candidates ?? candidates(e.outputId, e.fingerprint));
  const pairs = mine.length > 0 ? trackerPairs(mine, pool) : [];
  const first = pairs[0];
  const pairedWith = first ? (first.big.outputId === currentId ? first.small : first.big).outputId : undefined;
  const params = { k, compared: earlier.length };
  // the earlier rule, within one contract, only where a side has no signature: same group names
  // and values, unit counts closer than k (a group smaller than k told by subtraction)
  const legacy = earlier.filter(
    (e) => e.sameContract !== false && JSON.stringify(e.fingerprint.keyColumns) === JSON.stringify(current.keyColumns),
  );
  const unsigned = current.rows.filter((r) => r.shown !== false);
  for (const e of legacy) {
    const before = new Map(
      e.fingerprint.rows.filter((r) => r.shown !== false).map((r) => [r.key, { units: r.units, signed: !!r.sig }]),
    );
    const close = unsigned.filter((r) => {
      const b = before.get(r.key);
      return b !== undefined && !(b.signed && r.sig) && b.units !== r.units && Math.abs(b.units - r.units) < k;
    });
    if (close.length > 0) {
      return {
        check: 'differencing',
        params: { ...params, method: 'group-names' },
        passed: false,
        onFail: 'hold',
        pairedWith: e.outputId,
        pairs: pairs.length,
        // the paired output is named to whoever sees the hold already (effect); never on a pass
        facts: { pairedWith: e.outputId, rows: close.length },
        effect: `${close.length} row(s) differ from output ${e.outputId}, made before unit-set signatures, by fewer than ${k} units: together the two would describe fewer than ${k} people; held for review`,
      };
    }
  }
  return {
    check: 'differencing',
    params: { ...params, method: mine.length > 0 ? 'unit-sets' : 'group-names' },
    passed: true,
    pairs: pairs.length,
    ...(pairedWith ? { pairedWith } : {}),
    // the same words whether or not a pair was found: that is the bureau's to see, not the operator's
    effect:
      'cells one or two people apart from another cell of yours are answered as the earlier cell was (earlier-answers); such pairs are recorded for the bureau',
  };
}
