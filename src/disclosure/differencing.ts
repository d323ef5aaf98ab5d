import type { JsonValue } from '../store/index.ts';
import type { CheckReport } from './report.ts';

/**
 * The differencing check (docs/architecture.md §12; Google Ads Data Hub checks the same): two outputs of one
 * contract whose groups match but differ by fewer than k units together describe a group smaller
 * than k — e.g. two counts whose filters differ by one person. Such an output is held for review,
 * naming the earlier output it pairs with. Each released or held output keeps a fingerprint (its
 * group keys and the units behind each row) in the control store; it never leaves the domain.
 */

export interface Fingerprint {
  keyColumns: string[];
  rows: { key: string; units: number }[];
}

export function fingerprint(
  columns: { name: string }[],
  rows: JsonValue[][],
  units: number[],
  keyPositions: number[],
): Fingerprint {
  return {
    keyColumns: keyPositions.map((p) => columns[p]!.name),
    rows: rows.map((r, i) => ({ key: JSON.stringify(keyPositions.map((p) => r[p] ?? null)), units: units[i]! })),
  };
}

export function checkDifferencing(
  current: Fingerprint,
  earlier: { outputId: string; fingerprint: Fingerprint }[],
  k: number,
): CheckReport & { pairedWith?: string } {
  const sameShape = earlier.filter(
    (e) => JSON.stringify(e.fingerprint.keyColumns) === JSON.stringify(current.keyColumns),
  );
  for (const e of sameShape) {
    const before = new Map(e.fingerprint.rows.map((r) => [r.key, r.units]));
    const close = current.rows.filter((r) => {
      const u = before.get(r.key);
      return u !== undefined && u !== r.units && Math.abs(u - r.units) < k;
    });
    if (close.length > 0) {
      return {
        check: 'differencing',
        params: { k, compared: sameShape.length },
        passed: false,
        onFail: 'hold',
        pairedWith: e.outputId,
        effect: `${close.length} row(s) differ from output ${e.outputId} by fewer than ${k} units: together the two would describe fewer than ${k} people; held for review`,
      };
    }
  }
  return {
    check: 'differencing',
    params: { k, compared: sameShape.length },
    passed: true,
    effect:
      sameShape.length === 0
        ? 'no earlier output of this contract has the same groups'
        : `no group differs by fewer than ${k} units from the ${sameShape.length} earlier output(s) with the same groups`,
  };
}
