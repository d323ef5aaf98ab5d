import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { analyseQuery, functionAllowlist, sqlPolicy, UNITS_COLUMN } from '../../src/sandbox/index.ts';
import { queryRows } from '../../src/store/index.ts';
import { duckWorld } from '../support/duck-world.ts';

/**
 * A table whose rows its month tells apart with the person (catalog uniquePerUnit, checked when
 * the snapshot is built; issue 30): a cell grouped by the month, or a query fixed to one month,
 * has each person on one row — counted, keyed and signed without a distinct table — and nothing
 * else does.
 */
const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const policy = sqlPolicy(
  {
    people: ['district', 'pds_unit'],
    firms: ['sector', 'pds_unit'],
    records: ['month', 'employer', 'salary', 'pds_unit'],
  },
  [],
  'pds_unit',
  functionAllowlist(policies.sqlAllowlist),
  ['people', 'firms'],
  { uniqueWith: { records: [['month']] } },
);
const AGG = { dominanceN: 2 };

// p1–p8 (A: p1–p5, B: p6–p8); firms f1 (retail), f2 (retail), f3 (mining);
// p1 has records in three months, p2 and p6 in two, the rest in one; p1 changes employer
const w = duckWorld(`
  CREATE TABLE people AS SELECT 'p' || i AS pds_unit, CASE WHEN i <= 5 THEN 'A' ELSE 'B' END AS district FROM range(1, 9) t(i);
  CREATE TABLE firms AS SELECT * FROM (VALUES ('f1', 'retail'), ('f2', 'retail'), ('f3', 'mining')) f(pds_unit, sector);
  CREATE TABLE records AS SELECT * FROM (VALUES
    ('p1', '2025-01', 'f1', 100.0), ('p1', '2025-02', 'f1', 110.0), ('p1', '2025-03', 'f2', 120.0),
    ('p2', '2025-01', 'f3', 200.0), ('p2', '2025-02', 'f3', 210.0),
    ('p3', '2025-01', 'f1', 300.0), ('p4', '2025-02', 'f2', 400.0), ('p5', '2025-03', 'f3', 500.0),
    ('p6', '2025-01', 'f1', 600.0), ('p6', '2025-03', 'f1', 610.0), ('p7', '2025-02', 'f3', 700.0)
  ) r(pds_unit, month, employer, salary);
`);

/** The rewritten SQL and its rows, the units column as `units`, hidden columns dropped. */
async function run(sql: string) {
  const a = await analyseQuery(w.parser, sql, 'aggregate', policy, AGG);
  const rows = await queryRows(w.conn, a.sql);
  return {
    sql: a.sql,
    rows: rows.map((r) =>
      Object.fromEntries([
        ...Object.entries(r)
          .filter(([k]) => !k.startsWith('__pds'))
          .map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v]),
        ['units', Number(r[UNITS_COLUMN])],
      ]),
    ),
  };
}

/** The distinct people behind each row of `truth` (its last column), as the plain query counts them. */
async function people(truth: string): Promise<number[]> {
  return (await queryRows(w.conn, truth)).map((r) => Number(Object.values(r).at(-1)));
}

describe('a table whose rows the month tells apart with the person', () => {
  it('grouped by the month: each person once a cell, no distinct table and no per-person stage', async () => {
    const { sql, rows } = await run(
      'SELECT p.district, r.month, count(*) AS n, avg(r.salary) AS mean FROM people p JOIN records r ON p.pds_unit = r.pds_unit GROUP BY p.district, r.month ORDER BY 1, 2',
    );
    expect(sql).not.toMatch(/DISTINCT/i);
    expect(sql).not.toContain('__pds_w');
    expect(rows.map((r) => r.units)).toEqual(
      await people(
        'SELECT p.district, r.month, count(DISTINCT r.pds_unit) FROM people p JOIN records r ON p.pds_unit = r.pds_unit GROUP BY 1, 2 ORDER BY 1, 2',
      ),
    );
    expect(rows.map((r) => r.units)).toEqual([3, 3, 2, 1, 1, 1]);
  });

  it('fixed to one month by WHERE: the query’s own count of distinct people needs no distinct table either', async () => {
    const { sql, rows } = await run(
      "SELECT p.district, count(DISTINCT r.pds_unit) AS insured FROM people p JOIN records r ON p.pds_unit = r.pds_unit WHERE r.month = '2025-01' GROUP BY p.district ORDER BY 1",
    );
    expect(sql).not.toMatch(/DISTINCT/i);
    expect(rows.map((r) => [r.district, r.units])).toEqual([
      ['A', 3],
      ['B', 1],
    ]);
  });

  it('with the people filtering only (a semi join) and grouped by the month', async () => {
    const { sql, rows } = await run(
      "SELECT r.month, count(DISTINCT r.pds_unit) AS insured FROM people p JOIN records r ON p.pds_unit = r.pds_unit WHERE p.district = 'A' GROUP BY r.month ORDER BY 1",
    );
    expect(sql).toContain('SEMI JOIN');
    expect(sql).not.toMatch(/DISTINCT/i);
    expect(rows.map((r) => r.units)).toEqual([3, 3, 2]);
  });

  it('three tables: the employer joined on its own unit repeats no record; its firms are still counted apart', async () => {
    const { sql, rows } = await run(
      "SELECT f.sector, p.district, count(DISTINCT r.pds_unit) AS insured, avg(r.salary) AS mean FROM records r JOIN people p ON r.pds_unit = p.pds_unit JOIN firms f ON r.employer = f.pds_unit WHERE r.month = '2025-01' GROUP BY f.sector, p.district ORDER BY 1, 2",
    );
    // the firms of each cell still need their distinct count; the people do not
    expect(sql).toMatch(/count\(DISTINCT f\.pds_unit\)/);
    expect(sql).not.toMatch(/DISTINCT r\.pds_unit|DISTINCT [^,]*THEN \(r\.pds_unit\)/);
    // each row's units: the fewer of its people and its firms
    expect(rows.map((r) => [r.sector, r.district, r.units])).toEqual([
      ['mining', 'A', 1],
      ['retail', 'A', 1], // p1 and p3 at f1: two people, one firm
      ['retail', 'B', 1],
    ]);
  });

  it('counts with a distinct table wherever a person may be on several rows of a cell', async () => {
    const cases: [string, string][] = [
      // the month not grouped: a person's months merge
      [
        'SELECT p.district, count(*) AS n FROM people p JOIN records r ON p.pds_unit = r.pds_unit GROUP BY p.district ORDER BY 1',
        'SELECT p.district, count(DISTINCT r.pds_unit) FROM people p JOIN records r ON p.pds_unit = r.pds_unit GROUP BY 1 ORDER BY 1',
      ],
      // a key of an expression of the month
      [
        'SELECT substr(r.month, 1, 4) AS y, count(*) AS n FROM records r GROUP BY 1',
        'SELECT substr(r.month, 1, 4) AS y, count(DISTINCT r.pds_unit) FROM records r GROUP BY 1',
      ],
      // the month fixed only on one side of an OR
      [
        "SELECT count(*) AS n FROM records r WHERE r.month = '2025-01' OR r.salary > 600",
        "SELECT count(DISTINCT r.pds_unit) FROM records r WHERE r.month = '2025-01' OR r.salary > 600",
      ],
      // records repeated by another table of records on the person
      [
        'SELECT r.month, count(*) AS n FROM records r JOIN records r2 ON r.pds_unit = r2.pds_unit GROUP BY r.month ORDER BY 1',
        'SELECT r.month, count(DISTINCT r.pds_unit) FROM records r JOIN records r2 ON r.pds_unit = r2.pds_unit GROUP BY r.month ORDER BY 1',
      ],
      // repeated by a list of constants joined on the month
      [
        "SELECT r.month, count(*) AS n FROM records r JOIN (VALUES ('2025-01'), ('2025-01')) t(m) ON t.m = r.month GROUP BY r.month",
        "SELECT r.month, count(DISTINCT r.pds_unit) FROM records r JOIN (VALUES ('2025-01'), ('2025-01')) t(m) ON t.m = r.month GROUP BY r.month",
      ],
      // a left join may pad the records: the month of a padded row is NULL
      [
        'SELECT r.month, count(*) AS n FROM people p LEFT JOIN records r ON p.pds_unit = r.pds_unit GROUP BY r.month ORDER BY 1',
        'SELECT r.month, count(DISTINCT p.pds_unit) FROM people p LEFT JOIN records r ON p.pds_unit = r.pds_unit GROUP BY r.month ORDER BY 1',
      ],
      // a table of people made twice as long by a UNION ALL, joined on the unit
      [
        'SELECT r.month, count(*) AS n FROM records r JOIN (SELECT pds_unit FROM people UNION ALL SELECT pds_unit FROM people) x ON x.pds_unit = r.pds_unit GROUP BY r.month ORDER BY 1',
        'SELECT r.month, count(DISTINCT r.pds_unit) FROM records r JOIN (SELECT pds_unit FROM people UNION ALL SELECT pds_unit FROM people) x ON x.pds_unit = r.pds_unit GROUP BY r.month ORDER BY 1',
      ],
      // totals of a ROLLUP merge the months
      [
        'SELECT r.month, count(*) AS n FROM records r GROUP BY ROLLUP (r.month) ORDER BY 1 NULLS LAST',
        'SELECT r.month, count(DISTINCT r.pds_unit) FROM records r GROUP BY ROLLUP (r.month) ORDER BY 1 NULLS LAST',
      ],
    ];
    for (const [sql, truth] of cases) {
      const { rows } = await run(sql);
      expect(
        rows.map((r) => r.units),
        sql,
      ).toEqual(await people(truth));
    }
  });
});
