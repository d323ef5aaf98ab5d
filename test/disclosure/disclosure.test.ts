import { describe, expect, it } from 'vitest';
import { applyDisclosureControl, suppressSmallCells } from '../../src/disclosure/index.ts';

const result = {
  columns: [{ name: 'district', type: 'VARCHAR' }, { name: 'n', type: 'BIGINT' }, { name: '__pds_units', type: 'BIGINT' }],
  rows: [['云岩区', 120, 120], ['息烽县', 4, 4], ['开阳县', 12, 9], ['南明区', 10, 10]],
};

describe('suppressSmallCells', () => {
  it('removes rows describing fewer than k units and drops the helper column', () => {
    const { result: safe, report } = suppressSmallCells(result, '__pds_units', 10);
    expect(safe.columns.map((c) => c.name)).toEqual(['district', 'n']);
    expect(safe.rows).toEqual([['云岩区', 120], ['南明区', 10]]);
    expect(report).toMatchObject({ check: 'min-units', params: { k: 10 }, rowsSuppressed: 2, cellsSuppressed: 4 });
  });

  it('counts distinct units, not rows: 12 visits by 9 people are suppressed', () => {
    const { result: safe } = suppressSmallCells(result, '__pds_units', 10);
    expect(safe.rows.find((r) => r[0] === '开阳县')).toBeUndefined();
  });
});

describe('applyDisclosureControl', () => {
  it('holds an output over the row cap for review', () => {
    const dc = applyDisclosureControl(result, { unitsColumn: '__pds_units', minUnits: 5, maxRows: 2 });
    expect(dc.decision).toBe('hold');
    expect(dc.reasons[0]).toMatch(/^max-rows: .* held for review/);
    expect(dc.checks.find((c) => c.check === 'max-rows')).toMatchObject({ passed: false });
  });

  it('explains every check it applied', () => {
    const dc = applyDisclosureControl(result, { unitsColumn: '__pds_units', minUnits: 10, maxRows: 100 });
    expect(dc.decision).toBe('release');
    expect(dc.checks.map((c) => c.check)).toEqual(['min-units', 'max-rows']);
    expect(dc.cellsSuppressed).toBe(4);
    for (const c of dc.checks) expect(c.effect.length).toBeGreaterThan(10);
  });
});
