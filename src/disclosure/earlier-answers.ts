import type { JsonValue } from '../store/index.ts';
import { missingUnits, type Candidate, type EarlierOutput, type Fingerprint } from './differencing.ts';
import type { CheckReport } from './report.ts';

/**
 * Answers from earlier cells (docs/architecture.md §12, issue 31). A cell whose people are the
 * same as an earlier cell's, or that set with one or two people more or fewer, is answered as the
 * earlier cell was: shown or suppressed as it was, and each statistic the two share (one identity,
 * sandbox/statistic-ids.ts) with the earlier value. A set and the set less one person so never give
 * two values of one statistic to subtract, nor one shown and one suppressed — and, unlike a hold,
 * nothing the operator sees says whether the sets were equal or one apart: both get the earlier
 * answer. Statistics the earlier cell did not have are the cell's own. Which cells were answered
 * so is recorded for the bureau (the output's audit entry), never in what the operator sees.
 */

/** One row as disclosure control left it: shown with its released values, or suppressed with its keys only. */
export interface Cell {
  units: number;
  shown: boolean;
  row: JsonValue[];
  sig?: [number, string, string];
}

/** The identities of an output's columns (null for group keys) and its keys that select rows. */
export interface Statistics {
  ids: (string | null)[];
  rowKeys: number[];
}

const S2_MODULUS = 1n << 64n;
const mod64 = (x: bigint) => ((x % S2_MODULUS) + S2_MODULUS) % S2_MODULUS;

interface Anchor {
  outputId: string;
  statistics?: Statistics;
  shown: boolean;
  values?: JsonValue[];
  candidate: Candidate;
}

const candidateOf = (outputId: string, sig: [number, string, string]): Candidate => ({
  outputId,
  label: 'row',
  n: sig[0],
  s1: BigInt(sig[1]),
  s2: mod64(BigInt(sig[2])),
});

/** Whether two sets are equal or one is the other less one or two people. */
function near(a: Candidate, b: Candidate): number | undefined {
  if (a.n === b.n) return a.s1 === b.s1 && a.s2 === b.s2 ? 0 : undefined;
  const [big, small] = a.n > b.n ? [a, b] : [b, a];
  return missingUnits(big, small)?.length;
}

/** An earlier output's rows as anchors, by their number of people; kept per fingerprint (it never changes). */
const anchorIndexes = new WeakMap<Fingerprint, Map<number, Anchor[]>>();
function anchorsOf(e: EarlierOutput): Map<number, Anchor[]> {
  const known = anchorIndexes.get(e.fingerprint);
  if (known) return known;
  const index = new Map<number, Anchor[]>();
  for (const r of e.fingerprint.rows) {
    if (!r.sig) continue;
    const anchor: Anchor = {
      outputId: e.outputId,
      ...(e.fingerprint.statistics ? { statistics: e.fingerprint.statistics } : {}),
      shown: r.shown !== false,
      ...(r.values ? { values: r.values } : {}),
      candidate: candidateOf(e.outputId, r.sig),
    };
    const list = index.get(r.sig[0]);
    if (list) list.push(anchor);
    else index.set(r.sig[0], [anchor]);
  }
  anchorIndexes.set(e.fingerprint, index);
  return index;
}

const rowKey = (row: JsonValue[], positions: number[]) => JSON.stringify(positions.map((p) => row[p] ?? null));

export interface Answered {
  cells: Cell[];
  /** How many cells took an earlier cell's answer (for the bureau's record only). */
  answered: number;
  /** The earlier outputs those answers came from. */
  from: string[];
  report: CheckReport;
}

/**
 * The cells of an output after answers from earlier cells. `earlier` is newest first (as the store
 * reads it); the oldest of the nearest earlier cells answers, so a chain of neighbours keeps one answer.
 */
export function answerFromEarlier(
  cells: Cell[],
  keyPositions: number[],
  statistics: Statistics | undefined,
  earlier: EarlierOutput[],
): Answered {
  // oldest first, so that among equally near cells the oldest answers
  const indexes = [...earlier].reverse().map((e) => anchorsOf(e));
  const anchorsWith = (n: number) => indexes.flatMap((index) => index.get(n) ?? []);
  let answered = 0;
  const from = new Set<string>();
  const out = cells.map((cell): Cell => {
    if (!cell.sig) return cell;
    const mine = candidateOf('this output', cell.sig);
    let best: { anchor: Anchor; d: number } | undefined;
    for (const n of [mine.n, mine.n - 1, mine.n + 1, mine.n - 2, mine.n + 2]) {
      for (const anchor of anchorsWith(n)) {
        const d = near(mine, anchor.candidate);
        if (d !== undefined && (!best || d < best.d)) best = { anchor, d };
      }
      if (best?.d === 0) break;
    }
    if (!best) return cell;
    const { anchor } = best;
    answered++;
    from.add(anchor.outputId);
    if (!anchor.shown)
      return { ...cell, shown: false, row: cell.row.map((v, c) => (keyPositions.includes(c) ? v : null)) };
    const row = cell.row.map((v, c) => {
      if (keyPositions.includes(c)) return v; // a group key: the cell's own
      const id = statistics?.ids[c];
      if (id === undefined || id === null) return cell.shown ? v : null;
      const there = anchor.statistics?.ids.indexOf(id) ?? -1;
      const sameRows =
        anchor.values !== undefined &&
        rowKey(cell.row, statistics!.rowKeys) === rowKey(anchor.values, anchor.statistics!.rowKeys);
      if (there >= 0 && sameRows) return anchor.values![there] ?? null;
      return cell.shown ? v : null;
    });
    return { ...cell, shown: true, row };
  });
  return {
    cells: out,
    answered,
    from: [...from],
    report: {
      check: 'earlier-answers',
      params: { compared: earlier.length },
      passed: true,
      // the same words whatever happened: which cells were answered so is the bureau's to see
      effect:
        'a cell whose people are the same as, or within two people of, an earlier cell of yours is answered as that cell was (shown or suppressed, and each statistic both have with its earlier value)',
    },
  };
}

/** The fingerprint of an output from its cells: every row, with what was shown of it. */
export function cellsFingerprint(
  columns: { name: string }[],
  cells: Cell[],
  keyPositions: number[],
  statistics: Statistics | undefined,
): Fingerprint {
  return {
    keyColumns: keyPositions.map((p) => columns[p]!.name),
    ...(statistics ? { statistics } : {}),
    rows: cells.map((c) => ({
      key: JSON.stringify(keyPositions.map((p) => c.row[p] ?? null)),
      units: c.units,
      shown: c.shown,
      ...(c.shown ? { values: c.row } : {}),
      ...(c.sig ? { sig: c.sig } : {}),
    })),
  };
}
