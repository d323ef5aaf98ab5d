import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { resultSha256, riskFlags, secureRandom, spotCheckReasons } from '../../src/jobs/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';

/**
 * The spot check's decision and its hash (docs/architecture.md §4), as pure functions: which runs
 * the API re-executes (the policy's rate, drawn from an injected source; every flagged run), and
 * what counts as the same raw result.
 */

const policy = { rate: 0.1, firstRuns: 5, nearThreshold: 3 };

describe('which remote results are re-executed', () => {
  it('draws once per run against the policy rate: below it is sampled, at or above it is not', () => {
    const draws: number[] = [];
    const source = (x: number) => () => (draws.push(x), x);
    expect(spotCheckReasons(0.1, [], source(0.0999))).toEqual(['sampled']);
    expect(spotCheckReasons(0.1, [], source(0.1))).toEqual([]);
    expect(spotCheckReasons(0.1, [], source(0.73))).toEqual([]);
    expect(draws).toEqual([0.0999, 0.1, 0.73]);
  });

  it('rate 1 checks every run and rate 0 none, whatever the draw', () => {
    for (const x of [0, 0.5, 1 - 2 ** -48]) {
      expect(spotCheckReasons(1, [], () => x)).toEqual(['sampled']);
      expect(spotCheckReasons(0, [], () => x)).toEqual([]);
    }
  });

  it('a flagged run is checked whatever the draw, and says why', () => {
    expect(spotCheckReasons(0, ['near-threshold'], () => 0.5)).toEqual(['near-threshold']);
    expect(spotCheckReasons(0.6, ['new-credential'], () => 0.5)).toEqual(['sampled', 'new-credential']);
  });

  it('flags a credential with fewer than firstRuns verified results', () => {
    expect(riskFlags(policy, { verifiedRuns: 0 })).toEqual(['new-credential']);
    expect(riskFlags(policy, { verifiedRuns: 4 })).toEqual(['new-credential']);
    expect(riskFlags(policy, { verifiedRuns: 5 })).toEqual([]);
    expect(riskFlags({ ...policy, firstRuns: 0 }, { verifiedRuns: 0 })).toEqual([]);
  });

  it('flags an aggregate cell at k or just above it (k ≤ units < k + nearThreshold), not one below or well above', () => {
    const flags = (counts: number[]) => riskFlags(policy, { verifiedRuns: 9, units: { counts, minUnits: 10 } });
    expect(flags([10])).toEqual(['near-threshold']);
    expect(flags([250, 12])).toEqual(['near-threshold']);
    expect(flags([13, 250])).toEqual([]);
    expect(flags([9, 3])).toEqual([]); // suppressed anyway: nothing to gain by forging them
    expect(
      riskFlags({ ...policy, nearThreshold: 0 }, { verifiedRuns: 9, units: { counts: [10], minUnits: 10 } }),
    ).toEqual([]);
  });

  it('the policy shipped is valid and the production draw is the CSPRNG, in [0, 1)', () => {
    const shipped = loadPolicies(path.join(PACKAGE_ROOT, 'policies')).sandbox.spotCheck;
    expect(shipped.rate).toBeGreaterThan(0);
    expect(shipped.rate).toBeLessThanOrEqual(1);
    const draws = Array.from({ length: 200 }, secureRandom);
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(draws).size).toBe(200);
  });
});

describe('the canonical hash of a raw result', () => {
  const columns = [
    { name: 'district', type: 'VARCHAR' },
    { name: 'n', type: 'BIGINT' },
    { name: 'pds_units', type: 'BIGINT' },
  ];
  const rows = [
    ['东城区', 120, 118],
    ['西城区', 95, 90],
  ];

  it('ignores row order (a query without ORDER BY has none) and nothing else', () => {
    const h = resultSha256({ columns, rows });
    expect(resultSha256({ columns, rows: [rows[1]!, rows[0]!] })).toBe(h);
    // an inflated hidden unit count, a count, a type, a column name, a dropped or repeated row
    expect(resultSha256({ columns, rows: [['东城区', 120, 119], rows[1]!] })).not.toBe(h);
    expect(resultSha256({ columns, rows: [['东城区', 121, 118], rows[1]!] })).not.toBe(h);
    expect(resultSha256({ columns, rows: [['东城区', '120', 118], rows[1]!] })).not.toBe(h);
    expect(resultSha256({ columns: [columns[0]!, { name: 'n', type: 'INTEGER' }, columns[2]!], rows })).not.toBe(h);
    expect(resultSha256({ columns, rows: [rows[0]!] })).not.toBe(h);
    expect(resultSha256({ columns, rows: [...rows, rows[1]!] })).not.toBe(h);
  });

  it('is canonical inside a cell: object keys in any order hash alike', () => {
    const a = resultSha256({
      columns: [{ name: 's', type: 'STRUCT(a INTEGER, b INTEGER)' }],
      rows: [[{ a: 1, b: 2 }]],
    });
    const b = resultSha256({
      columns: [{ name: 's', type: 'STRUCT(a INTEGER, b INTEGER)' }],
      rows: [[{ b: 2, a: 1 }]],
    });
    expect(a).toBe(b);
  });
});
