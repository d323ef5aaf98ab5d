import type { JsonValue } from '../store/index.ts';
import type { CheckReport } from './report.ts';

/**
 * Secondary (complementary) suppression (docs/architecture.md §12): in an output with margins — ROLLUP, CUBE or
 * GROUPING SETS rows whose NULL keys mean "all" — a margin minus its released children gives back
 * a suppressed child when it is the only one suppressed. Then the smallest other child of that
 * margin is suppressed too, and so on until no margin gives any cell back.
 *
 * Children of a margin M, at each finer level P (a set of non-NULL keys strictly containing M's):
 * the rows of pattern P that agree with M on M's keys. An attacker may subtract at any level, so
 * every level of every released margin is checked.
 */
export function secondarySuppression(
  rows: JsonValue[][],
  keyPositions: number[],
  units: number[],
  suppressed: boolean[],
): { suppressed: boolean[]; report: CheckReport } {
  const out = [...suppressed];
  const pattern = (r: JsonValue[]) => keyPositions.map((p) => r[p] !== null && r[p] !== undefined);
  const patterns = rows.map(pattern);
  const isMargin = patterns.map((p) => p.some((x) => !x));
  let added = 0;
  if (keyPositions.length > 0 && isMargin.some(Boolean)) {
    for (let changed = true; changed;) {
      changed = false;
      for (let m = 0; m < rows.length; m++) {
        if (!isMargin[m] || out[m]) continue;
        const mp = patterns[m]!;
        // children of m grouped by their own pattern
        const levels = new Map<string, number[]>();
        for (let c = 0; c < rows.length; c++) {
          const cp = patterns[c]!;
          const finer = cp.every((x, i) => x || !mp[i]) && cp.some((x, i) => x && !mp[i]);
          if (!finer || !keyPositions.every((p, i) => !mp[i] || rows[c]![p] === rows[m]![p])) continue;
          const key = cp.map(Number).join('');
          levels.set(key, [...(levels.get(key) ?? []), c]);
        }
        for (const children of levels.values()) {
          const hidden = children.filter((c) => out[c]);
          if (hidden.length !== 1) continue;
          const candidates = children.filter((c) => !out[c]).sort((a, b) => units[a]! - units[b]!);
          if (candidates.length === 0) continue;
          out[candidates[0]!] = true;
          added++;
          changed = true;
        }
      }
    }
  }
  return {
    suppressed: out,
    report: {
      check: 'secondary-suppression',
      params: { margins: isMargin.filter(Boolean).length },
      passed: true,
      rowsSuppressed: added,
      effect: !isMargin.some(Boolean)
        ? 'no margins (totals) in this output'
        : added === 0
          ? 'no margin gives a suppressed row back'
          : `${added} more row(s) suppressed so that no margin gives a suppressed row back by subtraction`,
    },
  };
}
