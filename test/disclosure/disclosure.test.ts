import { describe, expect, it } from 'vitest';
import { applyDisclosureControl, identifiersIn, suppressSmallCells } from '../../src/disclosure/index.ts';
import { idNumberCheckChar, usccCheckChar } from '../../src/domain/index.ts';
import path from 'node:path';
import { loadPolicies } from '../../src/policies/index.ts';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { categorize } from '../../src/policies/index.ts';

/** n of the (n, k) dominance rule, as policies/disclosure.yaml sets it. */
/** A table with no sum or mean: the dominance rule has nothing to weigh. */
const NO_DOMINANCE = { columns: [], n: 2, k: 85 };
const AGG = { dominanceN: 2 };

const result = {
  columns: [
    { name: 'district', type: 'VARCHAR' },
    { name: 'n', type: 'BIGINT' },
    { name: '__pds_units', type: 'BIGINT' },
  ],
  rows: [
    ['云岩区', 120, 120],
    ['息烽县', 4, 4],
    ['开阳县', 12, 9],
    ['南明区', 10, 10],
  ],
};

describe('suppressSmallCells', () => {
  it('removes rows describing fewer than k units and drops the helper column', () => {
    const { result: safe, report } = suppressSmallCells(result, '__pds_units', 10);
    expect(safe.columns.map((c) => c.name)).toEqual(['district', 'n']);
    expect(safe.rows).toEqual([
      ['云岩区', 120],
      ['南明区', 10],
    ]);
    expect(report).toMatchObject({ check: 'min-units', params: { k: 10 }, rowsSuppressed: 2, cellsSuppressed: 4 });
  });

  it('counts distinct units, not rows: 12 visits by 9 people are suppressed', () => {
    const { result: safe } = suppressSmallCells(result, '__pds_units', 10);
    expect(safe.rows.find((r) => r[0] === '开阳县')).toBeUndefined();
  });
});

describe('applyDisclosureControl', () => {
  it('holds an output over the row cap for review', () => {
    const dc = applyDisclosureControl(result, {
      unitsColumn: '__pds_units',
      minUnits: 5,
      maxRows: 2,
      dominance: NO_DOMINANCE,
    });
    expect(dc.decision).toBe('hold');
    expect(dc.reasons[0]).toMatch(/^max-rows: .* held for review/);
    const cap = dc.checks.find((c) => c.check === 'max-rows');
    expect(cap).toMatchObject({ passed: false, params: { maxRows: 2 } });
    // the rows the English effect names, as a fact a reader says in its own words (issue 33)
    expect(cap!.facts!.rows).toBeGreaterThan(2);
    expect(cap!.effect).toContain(`${cap!.facts!.rows} rows exceed the cap of 2`);
  });

  it('explains every check it applied', () => {
    const dc = applyDisclosureControl(result, {
      unitsColumn: '__pds_units',
      minUnits: 10,
      maxRows: 100,
      dominance: NO_DOMINANCE,
    });
    expect(dc.decision).toBe('release');
    expect(dc.checks.map((c) => c.check)).toEqual([
      'min-units',
      'secondary-suppression',
      'dominance',
      'round-counts',
      'identifier-scan',
      'max-rows',
    ]);
    expect(dc.cellsSuppressed).toBe(4);
    for (const c of dc.checks) expect(c.effect.length).toBeGreaterThan(10);
  });
});

describe('identifier scan and rounding', () => {
  const id = '520103199001011234';
  const validId = id.slice(0, 17) + idNumberCheckChar(id.slice(0, 17));
  const uscc17 = '91520103MA6DKXYW0';
  const validUscc = uscc17 + usccCheckChar(uscc17);

  it.each([
    [validId, 'id-number'],
    [`身份证 ${validId.toLowerCase()}`, 'id-number'],
    [validUscc, 'uscc'],
    ['13812345678', 'mobile'],
    ['4111111111111111', 'bank-card'],
    ['zhang.wei@example.cn', 'email'],
  ])('finds %s as %s', (text, kind) => {
    expect(identifiersIn(text)).toContain(kind);
  });

  it.each([
    [id.slice(0, 17) + (idNumberCheckChar(id.slice(0, 17)) === '0' ? '1' : '0')],
    ['4111111111111112'],
    ['云岩区'],
    ['2025-03'],
    ['123456'],
  ])('does not take %s for an identifier (wrong check character, Luhn, or just data)', (text) => {
    expect(identifiersIn(text)).toEqual([]);
  });

  it('does not take a large sum for a mobile number', () => {
    expect(identifiersIn(String(13812345678), true)).toEqual([]);
  });

  it('takes no number with a fraction, nor the fraction of a decimal in text, for a card number (issue 31)', () => {
    // 16 fraction digits that pass Luhn: an honest mean, not a card
    const fraction = '4111111111111111';
    expect(identifiersIn(`0.${fraction}`)).toEqual([]);
    expect(identifiersIn(`52341.${fraction}`)).toEqual([]);
    expect(identifiersIn(`${fraction}.5`)).toEqual([]);
    expect(identifiersIn(String(0.4111111111111111), true)).toEqual([]);
    expect(identifiersIn(String(4111111111111111.5), true)).toEqual([]);
    // the same digits whole are still one, in text and as an integer
    expect(identifiersIn(`card ${fraction} end`)).toEqual(['bank-card']);
    expect(identifiersIn(fraction, true)).toEqual(['bank-card']);
    // and Luhn still decides
    expect(identifiersIn('4111111111111112', true)).toEqual([]);
  });

  it('an honest mean with long decimals is released; a card-like statistic is refused under its own rule, which is no singling-out attempt', () => {
    const r = (v: number) => ({
      columns: [
        { name: 'district', type: 'VARCHAR' },
        { name: 'mean_income', type: 'DOUBLE' },
        { name: '__u', type: 'BIGINT' },
      ],
      rows: [['云岩区', v, 40]],
    });
    const honest = applyDisclosureControl(r(52341.4111111111111111), {
      unitsColumn: '__u',
      minUnits: 10,
      maxRows: 100,
      dominance: NO_DOMINANCE,
    });
    expect(honest.decision).toBe('release');
    const cardLike = applyDisclosureControl(r(4111111111111111), {
      unitsColumn: '__u',
      minUnits: 10,
      maxRows: 100,
      dominance: NO_DOMINANCE,
    });
    expect(cardLike.decision).toBe('refuse');
    const scan = cardLike.checks.find((c) => c.check === 'identifier-scan')!;
    expect(scan.rule).toBe('identifier-scan-number');
    const policy = loadPolicies(path.join(PACKAGE_ROOT, 'policies')).workflow.reports;
    expect(categorize({ code: 'ERR_DISCLOSURE_REFUSED', layer: 'disclosure', rule: scan.rule }, policy)).toBe('other');
    expect(categorize({ code: 'ERR_DISCLOSURE_REFUSED', layer: 'disclosure', rule: 'identifier-scan' }, policy)).toBe(
      'singling-out',
    );
  });

  it('an output with a valid ID number is refused, naming row and column but not the value', () => {
    const r = {
      columns: [
        { name: 'who', type: 'VARCHAR' },
        { name: '__u', type: 'BIGINT' },
      ],
      rows: [
        ['a', 20],
        [validId, 30],
      ],
    };
    const dc = applyDisclosureControl(r, { unitsColumn: '__u', minUnits: 10, maxRows: 100, dominance: NO_DOMINANCE });
    expect(dc.decision).toBe('refuse');
    const scan = dc.checks.find((c) => c.check === 'identifier-scan')!;
    expect(scan.effect).toMatch(/id-number found \(first in row 2, column who\)/);
    expect(scan.effect).not.toContain(validId);
  });

  it('rounds counts to a multiple of 5 after suppression, leaving other columns', () => {
    const r = {
      columns: [
        { name: 'd', type: 'VARCHAR' },
        { name: 'n', type: 'BIGINT' },
        { name: 'avg', type: 'DOUBLE' },
        { name: '__u', type: 'BIGINT' },
      ],
      rows: [
        ['a', 12, 1.5, 12],
        ['b', 3, 2.5, 3],
        ['c', 28, 3.25, 28],
      ],
    };
    const dc = applyDisclosureControl(r, {
      unitsColumn: '__u',
      minUnits: 10,
      maxRows: 100,
      dominance: NO_DOMINANCE,
      countColumns: [1],
      roundCountsTo: 5,
    });
    expect(dc.rows).toEqual([
      ['a', 10, 1.5],
      ['c', 30, 3.25],
    ]);
    expect(dc.checks.find((c) => c.check === 'round-counts')).toMatchObject({ params: { base: 5, columns: 'n' } });
  });
});

describe('dominance through the rewrite', () => {
  it('suppresses a sum whose two largest firms exceed 85% of it, keeps a spread one, and drops the measuring columns', async () => {
    const { SqlParser, analyseQuery, functionAllowlist, sqlPolicy, unitsColumnName } =
      await import('../../src/sandbox/index.ts');
    const { loadPolicies } = await import('../../src/policies/index.ts');
    const { PACKAGE_ROOT } = await import('../../src/config/index.ts');
    const { openInstance, exec, withConnection, readResult } = await import('../../src/store/index.ts');
    const policies = loadPolicies(`${PACKAGE_ROOT}/policies`);
    const parser = await SqlParser.create();
    const policy = sqlPolicy(
      { firms: ['industry', 'capital', 'pds_unit'] },
      [],
      'pds_unit',
      functionAllowlist(policies.sqlAllowlist),
      ['firms'],
    );
    const units = unitsColumnName();
    const a = await analyseQuery(
      parser,
      'SELECT industry, count(*) AS n, sum(capital) AS capital FROM firms GROUP BY industry ORDER BY industry',
      'aggregate',
      policy,
      { ...AGG, unitsColumn: units },
    );
    parser.dispose();
    const instance = await openInstance(':memory:');
    const result = await withConnection(instance, async (c) => {
      // industry A: two giants and ten small firms; industry B: twelve equal firms
      await exec(
        c,
        `CREATE TABLE firms AS SELECT CASE WHEN i < 12 THEN 'A' ELSE 'B' END AS industry,
        CASE WHEN i < 2 THEN 10000.0 WHEN i < 12 THEN 10.0 ELSE 50.0 END AS capital, 'u' || i AS pds_unit FROM range(24) t(i)`,
      );
      return readResult(await c.runAndReadAll(a.sql));
    });
    instance.closeSync();
    const dc = applyDisclosureControl(result, {
      unitsColumn: units,
      minUnits: 10,
      maxRows: 100,
      countColumns: a.countColumns,
      dominance: { columns: a.dominance!, n: 2, k: 85 },
    });
    expect(dc.columns.map((c) => c.name)).toEqual(['industry', 'n', 'capital']);
    expect(dc.rows).toEqual([
      ['A', 12, null],
      ['B', 12, 600],
    ]);
    expect(dc.checks.find((c) => c.check === 'dominance')).toMatchObject({
      params: { n: 2, k: 85, basis: 'units' },
      cellsSuppressed: 1,
    });
  });
});

describe('secondary suppression', () => {
  it('suppresses a second child when a margin would give a suppressed one back, at every level', async () => {
    const { secondarySuppression } = await import('../../src/disclosure/index.ts');
    const rows = [
      ['A', 'M', 12],
      ['A', 'F', 3],
      ['A', null, 15],
      ['B', 'M', 20],
      ['B', 'F', 25],
      ['B', null, 45],
      [null, null, 60],
    ];
    const units = rows.map((r) => Number(r[2]));
    const { suppressed, report } = secondarySuppression(
      rows,
      [0, 1],
      units,
      units.map((u) => u < 10),
    );
    expect(rows.filter((_, i) => suppressed[i]).map((r) => `${r[0]}/${r[1]}`)).toEqual(['A/M', 'A/F']);
    expect(report).toMatchObject({ rowsSuppressed: 1, params: { margins: 3 } });
  });

  it('leaves outputs without margins alone', async () => {
    const { secondarySuppression } = await import('../../src/disclosure/index.ts');
    const rows = [
      ['A', 12],
      ['B', 3],
    ];
    expect(secondarySuppression(rows, [0], [12, 3], [false, true]).suppressed).toEqual([false, true]);
  });

  it('works end to end: a ROLLUP output keeps no margin that gives a small group back', async () => {
    const r = {
      columns: [
        { name: 'd', type: 'VARCHAR' },
        { name: 'g', type: 'VARCHAR' },
        { name: 'n', type: 'BIGINT' },
        { name: '__u', type: 'BIGINT' },
      ],
      rows: [
        ['A', 'M', 12, 12],
        ['A', 'F', 3, 3],
        ['A', null, 15, 15],
        [null, null, 15, 15],
      ],
    };
    const dc = applyDisclosureControl(r, {
      unitsColumn: '__u',
      minUnits: 10,
      maxRows: 100,
      dominance: NO_DOMINANCE,
      keyColumns: [0, 1],
    });
    expect(dc.rows).toEqual([
      ['A', null, 15],
      [null, null, 15],
    ]);
  });
});
