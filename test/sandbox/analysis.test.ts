import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { analyseQuery, functionAllowlist, SqlParser, sqlPolicy, UNITS_COLUMN } from '../../src/sandbox/index.ts';
import { queryRows } from '../../src/store/index.ts';
import { duckWorld } from '../support/duck-world.ts';

/** n of the (n, k) dominance rule, as policies/disclosure.yaml sets it. */
const AGG = { dominanceN: 2 };

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const policy = sqlPolicy(
  { people: ['district', 'income', 'pds_unit'], visits: ['hospital', 'cost', 'pds_unit'] },
  [],
  'pds_unit',
  functionAllowlist(policies.sqlAllowlist),
);

/**
 * People p1…p12 in two districts (A: p1–p10, B: p11–p12); p1 earns 900, everyone else 100.
 * Visits: p1 three at H1, p2 one at H1, p11 one at H2.
 */
const DATA = `
  CREATE TABLE people AS SELECT 'p' || i AS pds_unit, CASE WHEN i <= 10 THEN 'A' ELSE 'B' END AS district,
    CASE WHEN i = 1 THEN 900 ELSE 100 END AS income FROM range(1, 13) t(i);
  CREATE TABLE visits AS SELECT * FROM (VALUES ('p1', 'H1', 10.0), ('p1', 'H1', 20.0), ('p1', 'H1', 30.0), ('p2', 'H1', 5.0), ('p11', 'H2', 7.0)) v(pds_unit, hospital, cost);
`;

describe('the units rewrite', () => {
  const w = duckWorld(DATA);

  /** Runs the rewritten query; returns rows as objects, units under `units`. */
  async function units(sql: string): Promise<Record<string, unknown>[]> {
    const a = await analyseQuery(w.parser, sql, 'aggregate', policy, AGG);
    const rows = await queryRows(w.conn, a.sql);
    return rows.map((r) => {
      const { [UNITS_COLUMN]: u, ...rest } = r;
      return { ...rest, units: Number(u) };
    });
  }

  it('counts the distinct people behind each group, and keeps the query’s own columns first', async () => {
    expect(await units('SELECT district, count(*) AS n FROM people GROUP BY district ORDER BY district')).toEqual([
      { district: 'A', n: 10, units: 10 },
      { district: 'B', n: 2, units: 2 },
    ]);
  });

  it('counts only the people who gave a value to each aggregate: a targeted sum counts one', async () => {
    const rows = await units(
      'SELECT district, count(*) AS n, sum(CASE WHEN income > 500 THEN income END) AS top FROM people GROUP BY district ORDER BY district',
    );
    expect(rows[0]).toMatchObject({ district: 'A', n: 10, top: 900, units: 1 });
    // no one in B gave a value: 0, so a NULL beside a suppressed row cannot tell them apart
    expect(rows[1]).toMatchObject({ district: 'B', top: null, units: 0 });
    const filtered = await units(
      "SELECT district, avg(income) FILTER (WHERE pds_unit = 'p1') AS a FROM people GROUP BY 1 ORDER BY 1",
    );
    expect(filtered[0]).toMatchObject({ a: 900, units: 1 });
  });

  it('takes the smallest count over the tables a join reads', async () => {
    const rows = await units(
      'SELECT p.district, count(*) AS visits FROM people p JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY 1 ORDER BY 1',
    );
    expect(rows).toEqual([
      { district: 'A', visits: 4, units: 2 },
      { district: 'B', visits: 1, units: 1 },
    ]);
  });

  it('carries units through a per-person subquery, a CTE also used in IN, and a UNION ALL', async () => {
    const perPerson = await units(
      'WITH v AS (SELECT pds_unit, count(*) AS k FROM visits GROUP BY pds_unit) SELECT k, count(*) AS people FROM v GROUP BY k ORDER BY k',
    );
    expect(perPerson).toEqual([
      { k: 1, people: 2, units: 2 },
      { k: 3, people: 1, units: 1 },
    ]);
    const inAndFrom = await units(
      'WITH v AS (SELECT pds_unit FROM visits) SELECT count(*) AS n FROM v WHERE pds_unit IN (SELECT * FROM v)',
    );
    expect(inAndFrom).toEqual([{ n: 5, units: 3 }]);
    const union = await units(
      'SELECT count(*) AS n FROM (SELECT pds_unit FROM people UNION ALL SELECT pds_unit FROM visits)',
    );
    // twelve people, three visitors: the smaller side decides
    expect(union).toEqual([{ n: 17, units: 3 }]);
  });

  it('counts without DISTINCT only where each person is on one row, with the same answers', async () => {
    const unique = sqlPolicy(policy.tables, [], 'pds_unit', policy.functions, ['people']);
    const single = await analyseQuery(
      w.parser,
      'SELECT district, sum(income) FROM people GROUP BY 1',
      'aggregate',
      unique,
      AGG,
    );
    expect(single.sql).not.toContain('DISTINCT');
    const joined = await analyseQuery(
      w.parser,
      'SELECT p.district, count(*) FROM people p JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY 1',
      'aggregate',
      unique,
      AGG,
    );
    // joined on their units, people and visits are one class of people, and each person's visits
    // are counted before the join: one row a person, no DISTINCT (the same answers: below)
    expect(joined.sql).not.toContain('DISTINCT');
    const semi = await analyseQuery(
      w.parser,
      'SELECT district, count(*) FROM people p SEMI JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY 1',
      'aggregate',
      unique,
      AGG,
    );
    expect(semi.sql).not.toContain('DISTINCT');
    for (const sql of [
      'SELECT district, count(*) AS n, sum(income) FILTER (WHERE income > 500) AS top FROM people GROUP BY district ORDER BY district',
      'SELECT district, count(*) FROM (SELECT * FROM people WHERE income < 1000) GROUP BY 1 ORDER BY 1',
      'SELECT p.district, count(*) AS visits FROM people p JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY 1 ORDER BY 1',
    ]) {
      const a = await analyseQuery(w.parser, sql, 'aggregate', unique, AGG);
      const b = await analyseQuery(w.parser, sql, 'aggregate', policy, AGG);
      expect(await queryRows(w.conn, a.sql)).toEqual(await queryRows(w.conn, b.sql));
    }
  });

  it('gives every branch of an outer UNION ALL its own count', async () => {
    expect(
      await units("SELECT 'people' AS t, count(*) AS n FROM people UNION ALL SELECT 'visits', count(*) FROM visits"),
    ).toEqual([
      { t: 'people', n: 12, units: 12 },
      { t: 'visits', n: 5, units: 3 },
    ]);
  });
});

describe('static analysis', () => {
  let parser: SqlParser;
  beforeAll(async () => {
    parser = await SqlParser.create();
  });
  afterAll(() => parser.dispose());

  it('names the rule, line and column of a refusal', async () => {
    const sql = "SELECT district,\n  getenv('HOME') FROM people GROUP BY 1";
    await expect(analyseQuery(parser, sql, 'aggregate', policy, AGG)).rejects.toMatchObject({
      code: 'ERR_SQL_FUNCTION_NOT_ALLOWED',
      extra: { rule: 'function-allowlist', line: 2, column: 3, position: sql.indexOf('getenv') },
    });
  });

  it('resolves table names with SQL scoping: a CTE never hides a catalog view outside its scope', async () => {
    await expect(
      analyseQuery(
        parser,
        'SELECT * FROM (WITH duckdb_settings AS (SELECT 1) SELECT * FROM duckdb_settings), duckdb_settings',
        'custom',
        policy,
      ),
    ).rejects.toMatchObject({ code: 'ERR_SQL_TABLE_NOT_ALLOWED', extra: { rule: 'table-in-snapshot' } });
    // a non-recursive CTE cannot see itself: the inner name is the catalog's
    await expect(
      analyseQuery(
        parser,
        'WITH sqlite_master AS (SELECT * FROM sqlite_master) SELECT * FROM sqlite_master',
        'custom',
        policy,
      ),
    ).rejects.toMatchObject({ code: 'ERR_SQL_TABLE_NOT_ALLOWED' });
    await expect(
      analyseQuery(
        parser,
        'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r',
        'custom',
        policy,
      ),
    ).resolves.toMatchObject({ mode: 'custom' });
  });

  it.each([
    ['SELECT max(pds_unit) FROM people', 'identifier-only-counted'],
    ["SELECT district, string_agg(district, ',') FROM people GROUP BY 1", 'individual-values'],
    [
      'SELECT k, count(*) FROM (SELECT district, max(income) AS k FROM people GROUP BY district) GROUP BY k',
      'units-traceable',
    ],
    ['SELECT t, count(*) FROM (SELECT sum(income) OVER () AS t FROM people) GROUP BY t', 'units-traceable'],
    [
      'SELECT district, (SELECT max(income) FROM people) AS m, count(*) FROM people GROUP BY 1',
      'no-scalar-subquery-projection',
    ],
    ['SELECT district FROM people', 'aggregate-outer'],
    ['SELECT income AS __pds_units_x, count(*) FROM people GROUP BY 1', 'reserved-names'],
    ['SELECT count(*) FROM people WHERE income > $1', 'expression-kind'],
  ])('refuses %s citing %s', async (sql, rule) => {
    await expect(analyseQuery(parser, sql, 'aggregate', policy, AGG)).rejects.toMatchObject({ extra: { rule } });
  });

  it('allows individual-value aggregates inside a per-person subquery and in custom mode', async () => {
    await expect(
      analyseQuery(
        parser,
        'SELECT h, count(*) FROM (SELECT pds_unit, first(hospital ORDER BY cost) AS h FROM visits GROUP BY pds_unit) GROUP BY h',
        'aggregate',
        policy,
        AGG,
      ),
    ).resolves.toBeTruthy();
    const custom = await analyseQuery(
      parser,
      "SELECT district, string_agg(income::VARCHAR, ',') FROM people GROUP BY 1",
      'custom',
      policy,
    );
    expect(custom.unitsColumn).toBeNull();
  });

  it('refuses a query longer than the limit', async () => {
    await expect(
      analyseQuery(parser, `SELECT count(*) FROM people WHERE income IN (${'1,'.repeat(200)}1)`, 'aggregate', policy, {
        ...AGG,
        maxSqlBytes: 200,
      }),
    ).rejects.toMatchObject({ extra: { rule: 'sql-size' } });
  });
});

describe('join conditions in aggregate mode', () => {
  const w = duckWorld(DATA);
  const types = {
    people: [
      { name: 'pds_unit', type: 'VARCHAR' },
      { name: 'district', type: 'VARCHAR' },
      { name: 'income', type: 'INTEGER' },
    ],
    visits: [
      { name: 'pds_unit', type: 'VARCHAR' },
      { name: 'hospital', type: 'VARCHAR' },
      { name: 'cost', type: 'DOUBLE' },
    ],
  };
  const plan = async (sql: string) =>
    String(
      (
        await queryRows(
          w.conn,
          `EXPLAIN ${(await analyseQuery(w.parser, sql, 'aggregate', policy, { ...AGG, columnTypes: types })).sql}`,
        )
      )[0]!.explain_value,
    );

  it('keeps an equality of same-typed columns bare, so the join stays a hash join', async () => {
    const sql =
      "SELECT p.district, count(*) AS n FROM people p JOIN visits v ON p.pds_unit = v.pds_unit AND v.hospital = 'H1' GROUP BY 1";
    const a = await analyseQuery(w.parser, sql, 'aggregate', policy, { ...AGG, columnTypes: types });
    expect(a.sql).toContain('(p.pds_unit = v.pds_unit)');
    expect(a.sql).not.toMatch(/TRY\(\(+p\.pds_unit = v\.pds_unit/);
    // a text column against a text literal casts nothing either
    expect(a.sql).toContain("(v.hospital = 'H1')");
    expect(a.sql).not.toContain('TRY(');
    expect(await plan(sql)).toContain('HASH_JOIN');
  });

  it('leaves filters by constants that cast nothing bare, so DuckDB pushes them into the scan', async () => {
    const rewrite = async (where: string) =>
      (
        await analyseQuery(
          w.parser,
          `SELECT p.district, count(*) AS n FROM people p JOIN visits v ON p.pds_unit = v.pds_unit WHERE ${where} GROUP BY 1`,
          'aggregate',
          policy,
          { ...AGG, columnTypes: types },
        )
      ).sql;
    for (const bare of [
      "p.district = 'A'",
      "district IN ('A', 'B')",
      'v.cost > 1.000000000000000000000000000001',
      'p.income BETWEEN 100 AND 900',
      'income <> 99999999999999999999',
    ])
      expect(await rewrite(bare), bare).not.toContain('TRY((');
    // each casts the column's values, and fails on the rows that reach it: still guarded
    for (const cast of [
      "p.income = 'x'",
      'p.district = 1',
      'p.income = 1.000000000000000000000000000001',
      // each constant alone widens the column safely; together they make DECIMAL(38, 19) of it
      'p.income IN (0.1234567890123456789, 12345678901234567890123456789)',
      'p.income BETWEEN 0.1234567890123456789 AND 12345678901234567890123456789',
      "p.income > 1 OR p.district = 'A'",
    ])
      expect(await rewrite(cast), cast).toMatch(/WHERE \(?TRY\(/);
  });

  it('takes USING only on columns of one type read from snapshot tables (USING has no condition to guard)', async () => {
    const opts = { ...AGG, columnTypes: types };
    await expect(
      analyseQuery(
        w.parser,
        'SELECT p.district, count(*) AS n FROM people p JOIN visits v USING (pds_unit) GROUP BY 1',
        'aggregate',
        policy,
        opts,
      ),
    ).resolves.toBeDefined();
    await expect(
      analyseQuery(
        w.parser,
        'SELECT count(*) AS n FROM (SELECT pds_unit, income AS x FROM people) a JOIN (SELECT pds_unit AS u, cost AS x FROM visits) b USING (x)',
        'aggregate',
        policy,
        opts,
      ),
    ).rejects.toMatchObject({ code: 'ERR_SQL_SHAPE_NOT_ALLOWED' });
  });

  it('guards an equality that needs a cast (it can fail on one row), and one whose columns it cannot type', async () => {
    for (const sql of [
      'SELECT p.district, count(*) AS n FROM people p JOIN visits v ON p.income = v.hospital GROUP BY 1',
      'WITH people AS (SELECT * FROM visits) SELECT p.hospital, count(*) AS n FROM people p JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY 1',
    ]) {
      const a = await analyseQuery(w.parser, sql, 'aggregate', policy, { ...AGG, columnTypes: types });
      expect(a.sql).toMatch(/ON \(?TRY\(/);
    }
  });
});

describe('joins count, key and sign each person once', () => {
  // p1 and p2 share the unit key 7 (31-bit keys collide among millions of people); p3 has 9
  const keyed = sqlPolicy(
    {
      residents: ['pds_unit', 'district'],
      stays: ['pds_unit', 'hospital', 'cost'],
      firms: ['pds_unit', 'rep', 'industry'],
    },
    [],
    'pds_unit',
    functionAllowlist(policies.sqlAllowlist),
    ['residents', 'firms'],
    { recordKey: '__pds_uk', unitKey: '__pds_uk', nonNull: { residents: ['pds_unit', 'district'] } },
  );
  const w =
    duckWorld(`CREATE TABLE residents AS SELECT * FROM (VALUES ('p1', 'A', 7), ('p2', 'A', 7), ('p3', 'A', 9)) t(pds_unit, district, __pds_uk);
       CREATE TABLE stays AS SELECT * FROM (VALUES ('p1', 'H1', 1.0, 7), ('p1', 'H1', 2.0, 7), ('p2', 'H1', 3.0, 7), ('p3', 'H1', 4.0, 9)) t(pds_unit, hospital, cost, __pds_uk);
       CREATE TABLE firms AS SELECT * FROM (VALUES ('f1', 'p1', 'C', 3), ('f2', 'p1', 'C', 4), ('f3', 'p2', 'C', 5)) t(pds_unit, rep, industry, __pds_uk);`);
  const run = async (sql: string) => {
    const a = await analyseQuery(w.parser, sql, 'aggregate', keyed, { ...AGG, unitsColumn: 'u' });
    return { sql: a.sql, rows: await queryRows(w.conn, a.sql) };
  };

  it('two people with one key are two people: in the units, the signature and the query’s own distinct count', async () => {
    const { rows, sql } = await run(
      'SELECT s.hospital, count(DISTINCT r.pds_unit) AS people, count(*) AS stays FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit GROUP BY 1',
    );
    expect(rows).toEqual([{ hospital: 'H1', people: 3, stays: 4, u: 3, u_sn: 3, u_s1: '23', u_s2: '179' }]);
    // residents and stays joined on the unit are one class: one distinct count, no string's
    expect(sql).not.toContain('count(DISTINCT r.pds_unit)');
    expect(sql).not.toMatch(/hash\(s\.pds_unit|DISTINCT s\./);
  });

  it('a firm joined to its one legal representative is still one row a firm: counted without DISTINCT', async () => {
    const { rows, sql } = await run(
      'SELECT f.industry, count(*) AS firms FROM firms f JOIN residents r ON f.rep = r.pds_unit GROUP BY 1',
    );
    // three firms, two people behind them: the row's units are the fewer
    expect(rows).toEqual([{ industry: 'C', firms: 3, u: 2, u_sn: 3, u_s1: '12', u_s2: '50' }]);
    expect(sql).toContain('count(f.pds_unit)');
    expect(sql).toMatch(/count\(DISTINCT .*hash\(r\.pds_unit\)/);
  });
});

describe('a joined table that only filters people', () => {
  const keyed = sqlPolicy(
    { residents: ['pds_unit', 'district'], stays: ['pds_unit', 'hospital', 'cost'] },
    [],
    'pds_unit',
    functionAllowlist(policies.sqlAllowlist),
    ['residents'],
    { recordKey: '__pds_uk', unitKey: '__pds_uk' },
  );
  const w =
    duckWorld(`CREATE TABLE residents AS SELECT * FROM (VALUES ('p1', 'A', 7), ('p2', 'A', 7), ('p3', 'A', 9), ('p4', 'B', 11)) t(pds_unit, district, __pds_uk);
       CREATE TABLE stays AS SELECT * FROM (VALUES ('p1', 'H1', 1.0, 7), ('p1', 'H2', 2.0, 7), ('p2', 'H1', 3.0, 7), ('p3', 'H1', 4.0, 9), ('p4', 'H2', 1.0, 11)) t(pds_unit, hospital, cost, __pds_uk);`);
  const run = async (sql: string) => {
    const a = await analyseQuery(w.parser, sql, 'aggregate', keyed, { ...AGG, unitsColumn: 'u' });
    return { sql: a.sql, rows: await queryRows(w.conn, a.sql) };
  };

  it('becomes a semi join: each person once, the same people, units and signature', async () => {
    for (const sql of [
      'SELECT r.district, count(DISTINCT r.pds_unit) AS people FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit WHERE s.cost > 1.5 GROUP BY 1 ORDER BY 1',
      'SELECT r.district, count(DISTINCT r.pds_unit) AS people FROM stays s JOIN residents r ON s.pds_unit = r.pds_unit WHERE s.cost > 1.5 GROUP BY 1 ORDER BY 1',
    ]) {
      const { rows, sql: rewritten } = await run(sql);
      expect(rewritten).toContain('SEMI JOIN');
      expect(rewritten).not.toContain('DISTINCT');
      // p1 (2.0), p2 and p3 in A; p4's one stay is 1.0
      expect(rows).toEqual([{ district: 'A', people: 3, u: 3, u_sn: 3, u_s1: '23', u_s2: '179' }]);
    }
  });

  it('sums each person’s rows before the join when its table is read only by counts and sums: the same answers, no DISTINCT', async () => {
    for (const [sql, expected] of [
      [
        'SELECT r.district, sum(s.cost) AS total, count(*) AS stays FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit GROUP BY 1 ORDER BY 1',
        [
          { district: 'A', total: 10, stays: 4, u: 3, u_sn: 3, u_s1: '23', u_s2: '179' },
          { district: 'B', total: 1, stays: 1, u: 1, u_sn: 1, u_s1: '11', u_s2: '121' },
        ],
      ],
      [
        'SELECT r.district, avg(s.cost) AS mean_cost FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit GROUP BY 1 ORDER BY 1',
        [
          { district: 'A', mean_cost: 2.5, u: 3, u_sn: 3, u_s1: '23', u_s2: '179' },
          { district: 'B', mean_cost: 1, u: 1, u_sn: 1, u_s1: '11', u_s2: '121' },
        ],
      ],
      [
        "SELECT r.district, count(s.cost) AS stays FROM stays s JOIN residents r ON s.pds_unit = r.pds_unit WHERE s.hospital = 'H1' GROUP BY 1 ORDER BY 1",
        [{ district: 'A', stays: 3, u: 3, u_sn: 3, u_s1: '23', u_s2: '179' }],
      ],
    ] as const) {
      const a = await analyseQuery(w.parser, sql, 'aggregate', keyed, { ...AGG, unitsColumn: 'u' });
      expect(a.sql).toContain('GROUP BY s.pds_unit');
      expect(a.sql).not.toContain('DISTINCT');
      const rows = (await queryRows(w.conn, a.sql)).map((r) =>
        Object.fromEntries(
          Object.entries(r)
            .filter(([k]) => !/^u_d[tm]/.test(k))
            .map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]),
        ),
      );
      expect(rows).toEqual(expected);
      // a count read as a sum of weights is rounded as a count; a sum's contributors are people
      expect(a.countColumns).toEqual(sql.includes('count(*)') ? [2] : sql.includes('avg') ? [] : [1]);
      for (const d of a.dominance ?? []) expect(d.basis).toBe('units');
    }
  });

  it('perturbs a count read as a sum of weights with the counts’ p-table', async () => {
    const spec = {
      salt: '12345',
      counts: [
        { values: [0], thresholds: [] },
        { values: [-1, 0, 1], thresholds: [0.25, 0.75] },
      ],
      magnitudes: { fraction: 0, floor: 1, topN: 2 },
      quantiles: { iqrFraction: 0.1 },
    };
    const a = await analyseQuery(
      w.parser,
      'SELECT r.district, count(*) AS stays, sum(s.cost) AS total, avg(s.cost) AS mean_cost FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit GROUP BY 1 ORDER BY 1',
      'aggregate',
      keyed,
      { ...AGG, unitsColumn: 'u', perturbation: spec },
    );
    expect(a.sql).not.toContain('DISTINCT');
    expect(a.perturbed).toMatchObject({ counts: [1], magnitudes: [2, 3] });
    // the mean divides the perturbed sum of each person's sums by the sum of their counts
    const [first] = await queryRows<Record<string, number>>(w.conn, a.sql);
    expect(Math.abs(Number(first!.mean_cost) - 2.5)).toBeLessThanOrEqual(0.25 + 1e-9);
    expect(Math.abs(Number(first!.total) - 10)).toBeLessThanOrEqual(1 + 1e-9);
  });

  it('stays a join when repetition counts, or the table is read elsewhere, or the join is not on units', async () => {
    for (const sql of [
      'SELECT r.district, count(*) AS stays FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit GROUP BY 1',
      'SELECT s.hospital, count(DISTINCT r.pds_unit) AS people FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit GROUP BY 1',
      'SELECT r.district, count(DISTINCT r.pds_unit) AS people FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit WHERE s.cost > length(r.district) GROUP BY 1',
      'SELECT r.district, count(DISTINCT r.pds_unit) AS people FROM residents r JOIN stays s ON r.district = s.hospital GROUP BY 1',
      "SELECT r.district, count(DISTINCT r.pds_unit) FILTER (WHERE r.district = 'A') AS people FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit GROUP BY 1",
    ]) {
      const a = await analyseQuery(w.parser, sql, 'aggregate', keyed, { ...AGG, unitsColumn: 'u' }).catch(
        (e: Error) => e,
      );
      if (a instanceof Error) continue; // refused for its own reasons: no rewrite to look at
      expect(a.sql, sql).not.toContain('SEMI JOIN');
    }
  });
});

describe('joins the rewrites must leave as they are (review of issue 30)', () => {
  const keyed = sqlPolicy(
    { residents: ['pds_unit', 'district', 'income'], stays: ['pds_unit', 'hospital', 'cost'] },
    [],
    'pds_unit',
    functionAllowlist(policies.sqlAllowlist),
    ['residents'],
    { recordKey: '__pds_uk', unitKey: '__pds_uk' },
  );
  // p5 has one stay, with no cost
  const w =
    duckWorld(`CREATE TABLE residents AS SELECT * FROM (VALUES ('p1', 'A', 100, 7), ('p2', 'A', 200, 7), ('p3', 'A', 300, 9), ('p4', 'B', 900, 11), ('p5', 'A', 50, 13)) t(pds_unit, district, income, __pds_uk);
       CREATE TABLE stays AS SELECT * FROM (VALUES ('p1', 'H1', 1.0, 7), ('p2', 'H1', 3.0, 7), ('p3', 'H1', 4.0, 9), ('p4', 'H2', 1.0, 11), ('p5', 'H1', NULL, 13)) t(pds_unit, hospital, cost, __pds_uk);`);
  const run = async (sql: string) => {
    const a = await analyseQuery(w.parser, sql, 'aggregate', keyed, { ...AGG, unitsColumn: 'u' });
    return { sql: a.sql, rows: await queryRows(w.conn, a.sql) };
  };

  it('a unique table repeated by a join on something else is not one row a person any more', async () => {
    const { rows } = await run(
      "SELECT q.district, count(DISTINCT q.pds_unit) AS people, sum(q.income) AS income FROM residents q JOIN (residents p JOIN (VALUES ('B'), ('B'), ('B'), ('B'), ('B')) t(d) ON p.district = t.d) ON q.pds_unit = p.pds_unit GROUP BY 1",
    );
    // one person in B, on five rows: one unit, not five
    expect(rows).toMatchObject([{ district: 'B', people: 1, u: 1, u_sn: 1 }]);
  });

  it('a CTE named like a table, declared on an outer UNION, is not taken for the table', async () => {
    const { sql } = await run(
      "WITH stays AS (SELECT v.pds_unit FROM residents v JOIN residents x ON v.district = x.district WHERE x.income = 300) SELECT r.district, count(DISTINCT r.pds_unit) AS people FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit GROUP BY 1 UNION ALL SELECT 'z', count(DISTINCT pds_unit) FROM residents",
    );
    expect(sql).not.toContain('SEMI JOIN');
    expect(sql).not.toContain('__pds_w');
  });

  it('a person with no value behind count(x) contributes nothing, staged or not', async () => {
    const { rows, sql } = await run(
      "SELECT r.district, count(s.cost) AS n FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit WHERE r.district = 'A' GROUP BY 1",
    );
    expect(sql).toContain('__pds_c');
    // p1, p2, p3 gave a cost; p5 did not
    expect(rows).toMatchObject([{ district: 'A', n: 3, u: 3 }]);
  });

  it('a count read as a sum of weights is 0 over no rows, as a count is', async () => {
    const { rows, sql } = await run(
      "SELECT count(*) AS n FROM residents r JOIN stays s ON r.pds_unit = s.pds_unit WHERE s.hospital = 'none'",
    );
    expect(sql).toContain('__pds_w');
    expect(rows).toMatchObject([{ n: 0, u: 0 }]);
  });
});

describe('a repeated table grouped by its own column: per person and key (issue 30)', () => {
  const unique = sqlPolicy(policy.tables, [], 'pds_unit', policy.functions, ['people']);
  // p1: two visits at H1, one at H2; p2: one at H1; p3: one at H2; p4–p12: one at H1 each
  const w = duckWorld(`
    CREATE TABLE people AS SELECT 'p' || i AS pds_unit, CASE WHEN i <= 6 THEN 'A' ELSE 'B' END AS district,
      100 * i AS income FROM range(1, 13) t(i);
    CREATE TABLE visits AS SELECT * FROM (VALUES ('p1', 'H1', 10.0), ('p1', 'H1', 20.0), ('p1', 'H2', 30.0),
      ('p2', 'H1', 5.0), ('p3', 'H2', 7.0)) v(pds_unit, hospital, cost)
      UNION ALL SELECT 'p' || i, 'H1', 1.0 FROM range(4, 13) t(i);
  `);
  const run = async (sql: string) => {
    const a = await analyseQuery(w.parser, sql, 'aggregate', unique, AGG);
    const rows = await queryRows(w.conn, a.sql);
    return {
      sql: a.sql,
      rows: rows.map((r) => {
        const { [UNITS_COLUMN]: u, ...rest } = r;
        return Object.fromEntries([
          ...Object.entries(rest)
            .filter(([k]) => !k.startsWith('__pds'))
            .map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]),
          ['units', Number(u)],
        ]);
      }),
    };
  };

  it('stages visits per person and hospital, and counts each person once in each cell without a distinct table', async () => {
    const { sql, rows } = await run(
      'SELECT p.district, v.hospital, count(*) AS visits, sum(v.cost) AS cost FROM people p JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY p.district, v.hospital ORDER BY 1, 2',
    );
    expect(sql).toContain('__pds_w');
    expect(sql).not.toMatch(/count\(DISTINCT/i);
    expect(rows).toEqual([
      { district: 'A', hospital: 'H1', visits: 6, cost: 38, units: 5 }, // p1 (2), p2, p4, p5, p6
      { district: 'A', hospital: 'H2', visits: 2, cost: 37, units: 2 }, // p1, p3
      { district: 'B', hospital: 'H1', visits: 6, cost: 6, units: 6 },
    ]);
  });

  it('a person in two keys still counts once where the outer query merges them (a key of an expression, or not grouped)', async () => {
    const merged = await run(
      'SELECT substr(h.hospital, 1, 1) AS kind, count(*) AS n FROM (SELECT pds_unit, hospital, count(*) AS c FROM visits GROUP BY pds_unit, hospital) h GROUP BY 1',
    );
    expect(merged.rows).toEqual([{ kind: 'H', n: 13, units: 12 }]); // p1 on two rows, one person
    const byDistrict = await run(
      'SELECT p.district, count(*) AS visits FROM people p JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY p.district ORDER BY 1',
    );
    expect(byDistrict.rows).toEqual([
      { district: 'A', visits: 8, units: 6 },
      { district: 'B', visits: 6, units: 6 },
    ]);
    const rolled = await run(
      'SELECT p.district, v.hospital, count(*) AS visits FROM people p JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY ROLLUP (p.district, v.hospital) ORDER BY 1 NULLS LAST, 2 NULLS LAST',
    );
    // the district totals merge hospitals: p1 once in A's total
    expect(rolled.rows.find((r) => r.district === 'A' && r.hospital === null)).toMatchObject({ visits: 8, units: 6 });
    expect(rolled.rows.find((r) => r.district === null)).toMatchObject({ visits: 14, units: 12 });
  });

  it('an operator’s own subquery per person and key counts one row a person only within that key', async () => {
    const own = await run(
      'SELECT h.hospital, count(*) AS people FROM (SELECT pds_unit, hospital, count(*) AS c FROM visits GROUP BY pds_unit, hospital) h GROUP BY h.hospital ORDER BY 1',
    );
    expect(own.rows).toEqual([
      { hospital: 'H1', people: 11, units: 11 },
      { hospital: 'H2', people: 2, units: 2 },
    ]);
    // joined to a table that repeats its rows (a person's visits), it is not one row a person
    const repeated = await run(
      'SELECT h.hospital, count(*) AS n FROM (SELECT pds_unit, hospital, count(*) AS c FROM visits GROUP BY pds_unit, hospital) h JOIN visits v ON h.pds_unit = v.pds_unit GROUP BY h.hospital ORDER BY 1',
    );
    expect(repeated.rows.map((r) => r.units)).toEqual([11, 2]);
    // review of issue 30: nothing the guard cannot see may repeat its rows, nor rename its keys
    const values = await run(
      "SELECT h.hospital, count(*) AS n FROM (SELECT pds_unit, hospital, sum(cost) AS c FROM visits GROUP BY pds_unit, hospital) h JOIN (VALUES ('H2'), ('H2'), ('H2'), ('H2'), ('H2')) t(x) ON t.x = h.hospital GROUP BY h.hospital",
    );
    expect(values.rows.map((r) => r.units)).toEqual([2]);
    const constants = await run(
      "WITH people AS (SELECT 'p1' AS pds_unit UNION ALL SELECT 'p1' UNION ALL SELECT 'p3' UNION ALL SELECT 'p3') SELECT h.hospital, count(*) AS n FROM (SELECT pds_unit, hospital, count(*) AS c FROM visits GROUP BY pds_unit, hospital) h JOIN people p ON p.pds_unit = h.pds_unit GROUP BY h.hospital ORDER BY 1",
    );
    expect(constants.rows.map((r) => r.units)).toEqual([1, 2]);
    const aliased = await run(
      "SELECT h.hospital, count(*) AS n FROM (SELECT pds_unit, hospital, 'X' AS k FROM visits GROUP BY pds_unit, hospital) h(pds_unit, x, hospital) GROUP BY h.hospital",
    );
    expect(aliased.rows.map((r) => r.units)).toEqual([12]);
    const aliasedCte = await run(
      "WITH h(pds_unit, x, hospital) AS (SELECT pds_unit, hospital, 'X' AS k FROM visits GROUP BY pds_unit, hospital) SELECT h.hospital, count(*) AS n FROM h GROUP BY h.hospital",
    );
    expect(aliasedCte.rows.map((r) => r.units)).toEqual([12]);
    const twice = await run(
      "SELECT h.cost, count(*) AS n FROM (SELECT pds_unit, 'all' AS cost, cost, count(*) AS c FROM visits WHERE pds_unit = 'p1' GROUP BY pds_unit, cost) h GROUP BY h.cost",
    );
    expect(twice.rows.map((r) => r.units)).toEqual([1]);
    const renamed = await run(
      'SELECT h.place, count(*) AS people FROM (SELECT pds_unit, hospital AS place FROM visits GROUP BY pds_unit, hospital) h GROUP BY h.place ORDER BY 1',
    );
    expect(renamed.rows.map((r) => r.units)).toEqual([11, 2]);
  });

  it('stages per person and key where the other table gives keys too, and counts the people of each cell without a distinct table', async () => {
    const a = await analyseQuery(
      w.parser,
      'SELECT p.district, v.hospital, count(DISTINCT v.pds_unit) AS patients FROM people p JOIN visits v ON p.pds_unit = v.pds_unit GROUP BY p.district, v.hospital ORDER BY 1, 2',
      'aggregate',
      unique,
      AGG,
    );
    expect(a.sql).toContain('GROUP BY v.pds_unit, v.hospital');
    expect(a.sql).not.toMatch(/count\(DISTINCT/i);
    const rows = await queryRows(w.conn, a.sql);
    expect(rows.map((r) => [r.district, r.hospital, Number(r.patients), Number(r[UNITS_COLUMN])])).toEqual([
      ['A', 'H1', 5, 5],
      ['A', 'H2', 2, 2],
      ['B', 'H1', 6, 6],
    ]);
  });
});
