import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { applyDp, previewDp } from '../../src/disclosure/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { analyseQuery, functionAllowlist, sqlPolicy, type DpPlan } from '../../src/sandbox/index.ts';
import { exec, queryRows } from '../../src/store/index.ts';
import { duckWorld } from '../support/duck-world.ts';

/**
 * dp over linked data (issue 31): inner joins of tables of people on their person identifiers,
 * several statistics per query, person-level bounds across the whole query. The engine's exact
 * bounded aggregates are checked here; the noise on them by the release path (applyDp).
 */

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const policy = sqlPolicy(
  {
    people: ['district', 'gender', 'income', 'pds_unit'],
    visits: ['hospital', 'cost', 'pds_unit'],
    firms: ['industry', 'pds_unit'],
  },
  [],
  'pds_unit',
  functionAllowlist(policies.sqlAllowlist),
  ['people', 'firms'],
  { unitKinds: { people: 'id_number', visits: 'id_number', firms: 'uscc' } },
);

/** 200 people in two districts; p1 has 500 visits at H1, every other person one visit at H1 or H2. */
const DATA = `
  CREATE TABLE people AS SELECT 'p' || i AS pds_unit, CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END AS district,
    CASE WHEN i % 3 = 0 THEN '女' ELSE '男' END AS gender, 1000.0 + i AS income FROM range(1, 201) t(i);
  CREATE TABLE visits AS
    SELECT 'p1' AS pds_unit, 'H1' AS hospital, 100.0 AS cost FROM range(500)
    UNION ALL SELECT 'p' || i, CASE WHEN i % 4 = 0 THEN 'H2' ELSE 'H1' END, 10.0 * (i % 7) FROM range(2, 201) t(i);
  CREATE TABLE firms AS SELECT 'f' || i AS pds_unit, 'C' AS industry FROM range(1, 50) t(i);
`;

const DP = {
  bounds: { cost: [0, 200] as [number, number], income: [0, 5000] as [number, number] },
  maxGroupsPerUnit: 1,
  maxRowsPerUnit: 5,
};

describe('dp over joins', () => {
  const w = duckWorld(DATA);

  const run = async (sql: string, conn = w.conn) => {
    const a = await analyseQuery(w.parser, sql, 'dp', policy, { dp: DP });
    return { plan: a.dp!, rows: await queryRows(conn, a.sql), sql: a.sql };
  };

  const JOIN =
    'SELECT p.district, m.hospital, count(*) AS visits, count(DISTINCT p.pds_unit) AS patients, sum(m.cost) AS cost, avg(m.cost) AS mean_cost, stddev(m.cost) AS sd FROM people p JOIN visits m ON p.pds_unit = m.pds_unit GROUP BY p.district, m.hospital';

  it('answers a join with keys from both sides and five statistics, each person bounded', async () => {
    const { plan, rows } = await run(JOIN);
    expect(plan.measures.map((m) => m.kind)).toEqual(['count', 'persons', 'sum', 'avg', 'stddev']);
    expect(plan).toMatchObject({ countsRows: true, maxRowsPerUnit: 5, sumColumns: ['cost'], squareColumns: ['cost'] });
    const b1 = rows.find((r) => r.district === 'B' && r.hospital === 'H1')!;
    // p1 (district B, H1) counts 5 rows, not 500; every other person of B at H1 one
    const othersB1 = (
      await queryRows(
        w.conn,
        "SELECT count(*) AS n FROM people p JOIN visits m USING (pds_unit) WHERE p.district = 'B' AND m.hospital = 'H1' AND p.pds_unit <> 'p1'",
      )
    )[0]!.n;
    expect(Number(b1.__dp_r)).toBe(Number(othersB1) + 5);
    expect(Number(b1.__dp_n)).toBe(Number(othersB1) + 1);
  });

  it('a person with 500 visits moves each total by at most its bound', async () => {
    const without = await w.instance.connect();
    try {
      await exec(
        without,
        DATA.replace(
          "'p1' AS pds_unit, 'H1' AS hospital, 100.0 AS cost FROM range(500)",
          "'p1' AS pds_unit, 'H1' AS hospital, 100.0 AS cost FROM range(0)",
        ).replace(/CREATE TABLE/g, 'CREATE TEMP TABLE'),
      );
      const a = (await run(JOIN)).rows;
      const b = (await run(JOIN, without)).rows;
      const key = (r: Record<string, unknown>) => `${String(r.district)}/${String(r.hospital)}`;
      const other = new Map(b.map((r) => [key(r), r]));
      for (const r of a) {
        const o = other.get(key(r)) ?? { __dp_n: 0, __dp_r: 0, __dp_s_cost: 0, __dp_q_cost: 0 };
        expect(Math.abs(Number(r.__dp_n) - Number(o.__dp_n))).toBeLessThanOrEqual(1);
        expect(Math.abs(Number(r.__dp_r) - Number(o.__dp_r))).toBeLessThanOrEqual(5);
        expect(Math.abs(Number(r.__dp_s_cost) - Number(o.__dp_s_cost))).toBeLessThanOrEqual(5 * 200);
        expect(Math.abs(Number(r.__dp_q_cost) - Number(o.__dp_q_cost))).toBeLessThanOrEqual(5 * 200 * 200);
      }
    } finally {
      without.closeSync();
    }
  });

  it('counts rows as persons, with one ε share, where every table has one row a person', async () => {
    const { plan, rows } = await run(
      "SELECT p.gender, count(*) AS n, avg(p.income) AS income FROM people p WHERE p.district = 'A' GROUP BY p.gender",
    );
    expect(plan.countsRows).toBe(false);
    for (const r of rows) expect(Number(r.__dp_r)).toBe(Number(r.__dp_n));
    const preview = previewDp(plan, { epsilon: 1, delta: 1e-6 });
    expect(preview.measures[0]!.noiseScale).toBe(2); // persons and income: two shares of ε = 1
  });

  it('refuses what it cannot bound: joins on other columns, outer joins, tables of other units, DISTINCT of non-persons', async () => {
    for (const [sql, why] of [
      ['SELECT count(*) FROM people p JOIN visits m ON p.district = m.hospital', /person identifiers/],
      ['SELECT count(*) FROM people p LEFT JOIN visits m ON p.pds_unit = m.pds_unit', /inner joins/],
      ['SELECT count(*) FROM people p JOIN firms f ON p.pds_unit = f.pds_unit', /one kind of person/],
      ['SELECT count(DISTINCT m.hospital) FROM people p JOIN visits m ON p.pds_unit = m.pds_unit', /count\(DISTINCT/],
      ['SELECT count(*) FROM people p JOIN visits m ON p.pds_unit = m.pds_unit OR p.income > 5', /person identifiers/],
      [
        'SELECT m.hospital, count(*) FROM people p JOIN visits m ON p.pds_unit = m.pds_unit WHERE length(m.hospital) > 1 GROUP BY 1',
        /comparisons, BETWEEN/,
      ],
    ] as [string, RegExp][]) {
      await expect(analyseQuery(w.parser, sql, 'dp', policy, { dp: DP }), sql).rejects.toThrow(why);
    }
  });

  it('the release adds noise of the previewed scales and shows no group of fewer persons than the threshold', async () => {
    const { plan, rows } = await run(JOIN);
    const result = {
      columns: Object.keys(rows[0]!).map((name) => ({ name, type: 'BIGINT' })),
      rows: rows.map((r) => Object.values(r) as never[]),
    };
    const preview = previewDp(plan as DpPlan, { epsilon: 1, delta: 1e-6 });
    const released = applyDp(result, plan, { epsilon: 1, delta: 1e-6 });
    expect(released.columns.map((c) => c.name)).toEqual([
      'district',
      'hospital',
      'visits',
      'patients',
      'cost',
      'mean_cost',
      'sd',
    ]);
    // persons, rows, the sum and the squares: four shares
    expect(released.report.params.epsilonPerMeasure).toBe(0.25);
    expect(preview.measures.find((m) => m.kind === 'count')!.noiseScale).toBe(20); // 5 rows × 1 group / 0.25
    for (const r of released.rows) {
      const exact = rows.find((x) => x.district === r[0] && x.hospital === r[1])!;
      expect(Number(exact.__dp_n)).toBeGreaterThan(0);
      expect(r[6] as number).toBeGreaterThanOrEqual(0);
      expect(r[6] as number).toBeLessThanOrEqual(100);
    }
    expect(released.report.params.threshold).toBe(preview.threshold);
  });

  it('partition selection never shows a key that only one person has', async () => {
    const { plan, rows } = await run(JOIN);
    const columns = Object.keys(rows[0]!).map((name) => ({ name, type: 'BIGINT' }));
    // a hospital only p1 visited: one person, five counted rows
    const lonely = { ...rows[0]!, hospital: 'H9', __dp_n: 1, __dp_r: 5, __dp_s_cost: 1000, __dp_q_cost: 200000 };
    const result = { columns, rows: [Object.values(lonely) as never[]] };
    let shown = 0;
    for (let i = 0; i < 3000; i++) shown += applyDp(result, plan, { epsilon: 1, delta: 1e-6 }).rows.length;
    expect(shown).toBe(0);
  });

  it('ranks a person’s groups only where it can be in several: keys from a table of one row a person need no ranking', async () => {
    expect((await run(JOIN)).sql).toContain('row_number()');
    const byDistrict = await run(
      'SELECT p.district, count(*) AS visits FROM people p JOIN visits m ON p.pds_unit = m.pds_unit GROUP BY p.district',
    );
    expect(byDistrict.sql).not.toContain('row_number()');
    // p1's 500 visits still count 5
    const b = byDistrict.rows.find((r) => r.district === 'B')!;
    const others = (
      await queryRows(
        w.conn,
        "SELECT count(*) AS n FROM people p JOIN visits m USING (pds_unit) WHERE p.district = 'B' AND p.pds_unit <> 'p1'",
      )
    )[0]!.n;
    expect(Number(b.__dp_r)).toBe(Number(others) + 5);
  });

  it('public code lists: every code is a group, shown whatever the data, with no threshold; values outside the list are not shown', async () => {
    const coded = sqlPolicy(policy.tables, [], 'pds_unit', policy.functions, ['people', 'firms'], {
      unitKinds: { people: 'id_number', visits: 'id_number' },
      publicCodes: { 'people.district': ['A', 'C'] },
    });
    const a = await analyseQuery(
      w.parser,
      'SELECT p.district, count(*) AS visits FROM people p JOIN visits m ON p.pds_unit = m.pds_unit GROUP BY p.district',
      'dp',
      coded,
      { dp: DP },
    );
    expect(a.dp!.publicKeys).toEqual([['A', 'C']]);
    const rows = await queryRows(w.conn, a.sql);
    const result = {
      columns: Object.keys(rows[0]!).map((name) => ({ name, type: 'BIGINT' })),
      rows: rows.map((r) => Object.values(r) as never[]),
    };
    const released = applyDp(result, a.dp!, { epsilon: 1, delta: 1e-6 });
    // A (in the list), C (no one: noise around zero); B is outside the list
    expect(released.rows.map((r) => r[0])).toEqual(['A', 'C']);
    expect(released.delta).toBe(0);
    expect(previewDp(a.dp!, { epsilon: 1, delta: 1e-6 }).threshold).toBe(0);
    // a key without a list (the hospital) is selected by threshold as before
    const mixed = await analyseQuery(w.parser, JOIN, 'dp', coded, { dp: DP });
    expect(mixed.dp!.publicKeys).toBeUndefined();
  });
});
