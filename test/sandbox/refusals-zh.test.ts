import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { isPdsError, SQL_REASONS, type SqlReason } from '../../src/errors/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { analyseQuery, bindingFacts, functionAllowlist, SqlParser, sqlPolicy } from '../../src/sandbox/index.ts';
import { ERROR_ZH, errorText, refusalZh } from '../../src/terms/index.ts';

/**
 * Every refusal of the sandbox's static analysis reads in Chinese from its facts (issue 33): a
 * table of hostile SQL, the code and the refusal each gets, and the name the Chinese must carry.
 * A refusal this table misses, or one whose explanation falls back to English, fails here.
 */

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const policy = sqlPolicy(
  {
    people: ['district', 'income', 'age_band', 'diagnosis', 'pds_unit', 'id_number'],
    visits: ['hospital', 'cost', 'pds_unit'],
    firms: ['industry', 'pds_unit'],
    records: ['note', 'pds_unit'],
  },
  ['id_number'],
  'pds_unit',
  functionAllowlist(policies.sqlAllowlist),
  ['people', 'firms'],
  {
    generalized: ['age_band'],
    noised: ['income'],
    dpOnly: ['diagnosis'],
    dpOnlyTables: ['records'],
    unitKinds: { people: 'id_number', visits: 'id_number', firms: 'uscc', records: 'id_number' },
  },
);
/** The snapshot's column types: the USING check reads them (failsafe.ts). */
const columnTypes = {
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
const AGG = { dominanceN: 2, columnTypes };
const DP = { bounds: { income: [0, 5000] as [number, number] }, maxGroupsPerUnit: 1, maxRowsPerUnit: 5 };

type Row = [mode: 'aggregate' | 'dp' | 'custom', sql: string, code: string, reason: SqlReason, names?: string];

/** Hostile SQL → the code, the refusal and a name its Chinese explanation must carry. */
const HOSTILE: Row[] = [
  ['aggregate', '   ', 'ERR_SQL_SYNTAX', 'empty'],
  ['aggregate', 'SELEC count(*) FROM people', 'ERR_SQL_SYNTAX', 'syntax'],
  ['aggregate', 'SELECT 1; SELECT 2', 'ERR_SQL_NOT_SELECT', 'statement-count'],
  ['aggregate', 'DROP TABLE people', 'ERR_SQL_NOT_SELECT', 'not-select'],
  ['aggregate', 'SELECT count(*) FROM people WHERE income > $1', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'parameters'],
  ['custom', 'SELECT income AS __pds_x FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'reserved-name', '__pds_x'],
  ['custom', 'SELECT * FROM main.people', 'ERR_SQL_TABLE_NOT_ALLOWED', 'table-qualified', 'main.people'],
  ['custom', 'SELECT * FROM secrets', 'ERR_SQL_TABLE_NOT_ALLOWED', 'table-not-in-snapshot', 'secrets'],
  ['custom', "SELECT * FROM read_csv('/etc/passwd')", 'ERR_SQL_FUNCTION_NOT_ALLOWED', 'table-function', 'read_csv'],
  ['custom', 'SELECT * FROM people AT (VERSION => 1)', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'time-travel', 'AT'],
  ['custom', 'SELECT * FROM (SHOW TABLES)', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'from-kind'],
  ['custom', 'SELECT DEFAULT FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'expression-kind', 'DEFAULT'],
  ['custom', "SELECT getenv('HOME') FROM people", 'ERR_SQL_FUNCTION_NOT_ALLOWED', 'function-not-allowed', 'getenv'],
  ['custom', 'SELECT system.main.abs(income) FROM people', 'ERR_SQL_FUNCTION_NOT_ALLOWED', 'function-qualified', 'abs'],
  ['custom', 'SELECT sum(income) EXPORT_STATE FROM people', 'ERR_SQL_FUNCTION_NOT_ALLOWED', 'export-state', 'sum'],
  [
    'custom',
    'SELECT income FROM people WHERE district @> district',
    'ERR_SQL_FUNCTION_NOT_ALLOWED',
    'operator-not-allowed',
  ],
  ['custom', 'SELECT count(*) FROM records', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-only-table', 'records'],
  ['custom', 'SELECT diagnosis FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-only-column', 'diagnosis'],
  ['custom', "SELECT COLUMNS('inc.*') FROM people", 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-only-columns-star'],
  ['aggregate', 'SELECT count(*) FROM people p(a, b)', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'alias-list', 'people'],
  [
    'aggregate',
    'SELECT id_number, count(*) FROM people GROUP BY 1',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'identifier-outer',
    'id_number',
  ],
  [
    'aggregate',
    'SELECT n, count(*) FROM (SELECT pds_unit, lower(id_number) AS n FROM people) GROUP BY n',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'identifier-inner',
    'id_number',
  ],
  [
    'aggregate',
    'SELECT count(*) FROM (SELECT * RENAME (id_number AS x) FROM people)',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'identifier-renamed',
    'id_number',
  ],
  [
    'aggregate',
    'SELECT district, (SELECT max(income) FROM people) AS m, count(*) FROM people GROUP BY 1',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'scalar-subquery',
  ],
  ['aggregate', 'SELECT *, count(*) FROM people GROUP BY ALL', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'star-outer'],
  ['aggregate', 'SELECT count(*) FROM (SELECT * AS x FROM people)', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'star-alias'],
  [
    'aggregate',
    "SELECT district, string_agg(district, ',') FROM people GROUP BY 1",
    'ERR_SQL_FUNCTION_NOT_ALLOWED',
    'individual-values',
    'string_agg',
  ],
  [
    'aggregate',
    'SELECT count(*) FROM people INTERSECT SELECT count(*) FROM visits',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'outer-set-operation',
    'INTERSECT',
  ],
  [
    'aggregate',
    'SELECT count(*) AS n FROM people UNION BY NAME SELECT count(*) AS n FROM visits',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'outer-union-by-name',
  ],
  ['aggregate', 'SELECT district FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'outer-not-aggregate'],
  [
    'aggregate',
    'SELECT count(*) FROM (SELECT pds_unit FROM people UNION SELECT pds_unit FROM visits)',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'subquery-set-operation',
    'UNION',
  ],
  [
    'aggregate',
    'WITH RECURSIVE r AS (SELECT pds_unit FROM people UNION ALL SELECT pds_unit FROM r) SELECT count(*) FROM r',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'recursive-cte',
  ],
  [
    'aggregate',
    'SELECT k, count(*) FROM (SELECT district, max(income) AS k FROM people GROUP BY district) GROUP BY k',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'subquery-aggregate',
    'pds_unit',
  ],
  [
    'aggregate',
    'SELECT count(*) FROM (SELECT DISTINCT district FROM people)',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'subquery-distinct',
  ],
  [
    'aggregate',
    'SELECT t, count(*) FROM (SELECT sum(income) OVER () AS t FROM people) GROUP BY t',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'subquery-window',
    'pds_unit',
  ],
  ['aggregate', 'SELECT count(*) FROM people CROSS JOIN visits', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'join-not-equal'],
  [
    'aggregate',
    'SELECT lpad(district, 100000) AS d, count(*) FROM people GROUP BY 1',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'pad-length',
    'lpad',
  ],
  [
    'aggregate',
    'SELECT count(*) FROM (SELECT pds_unit, income AS x FROM people) a JOIN (SELECT pds_unit, cost AS x FROM visits) b USING (x)',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'join-using-type',
    'x',
  ],
  ['aggregate', 'SELECT sqrt(count(*)) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'over-statistic', 'sqrt'],
  [
    'aggregate',
    'SELECT district, count(*) OVER () FROM people GROUP BY district',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'window-over-aggregate',
  ],
  [
    'aggregate',
    'SELECT district FROM people GROUP BY district HAVING count(*) FILTER (WHERE income > 5) > 3',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'having-filter',
    'HAVING',
  ],
  ['aggregate', 'SELECT sum(income, income) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'one-argument', 'sum'],
  ['aggregate', 'SELECT sum(DISTINCT income) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'magnitude-distinct', 'sum'],
  [
    'aggregate',
    'SELECT var_pop(DISTINCT income) FROM people',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'variance-shape',
    'var_pop',
  ],
  [
    'aggregate',
    'SELECT max(income) FROM people',
    'ERR_SQL_FUNCTION_NOT_ALLOWED',
    'extreme-not-generalized',
    'age_band',
  ],
  [
    'aggregate',
    'SELECT bit_and(income) FROM people',
    'ERR_SQL_FUNCTION_NOT_ALLOWED',
    'statistic-not-released',
    'bit_and',
  ],
  ['aggregate', 'SELECT median(DISTINCT income) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'quantile-shape', 'median'],
  [
    'aggregate',
    'SELECT median(age_band) FROM people',
    'ERR_SQL_FUNCTION_NOT_ALLOWED',
    'quantile-not-noised',
    'age_band',
  ],
  [
    'aggregate',
    'SELECT quantile_cont(income, 0.99) FROM people',
    'ERR_SQL_FUNCTION_NOT_ALLOWED',
    'quantile-not-central',
    'quantile_cont',
  ],
  [
    'aggregate',
    'SELECT avg(CASE WHEN income > 5 THEN income ELSE 0 END) FROM people',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'condition-with-else',
    'avg',
  ],
  [
    'aggregate',
    'SELECT sum(length(district)) FROM people',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'argument-hides-contributors',
    'sum',
  ],
  [
    'dp',
    'SELECT district, count(*) FROM people WHERE (income + 1) IS NULL GROUP BY 1',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-null-test',
  ],
  [
    'dp',
    'SELECT district, count(*) FROM people WHERE length(district) > 1 GROUP BY 1',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-filter',
  ],
  [
    'dp',
    'SELECT count(*) FROM people p LEFT JOIN visits v ON p.pds_unit = v.pds_unit',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-from',
  ],
  [
    'dp',
    'SELECT count(*) FROM people p JOIN firms f ON p.pds_unit = f.pds_unit',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-unit-kinds',
    'firms',
  ],
  [
    'dp',
    'SELECT count(*) FROM people p JOIN visits v ON p.district = v.hospital',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-join-condition',
  ],
  [
    'dp',
    'SELECT count(*) FROM people p JOIN visits v ON p.pds_unit = v.pds_unit JOIN visits w ON p.pds_unit = v.pds_unit',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-join-all',
  ],
  ['dp', 'SELECT count(*) FROM people UNION ALL SELECT count(*) FROM visits', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-union'],
  ['dp', 'WITH p AS (SELECT * FROM people) SELECT count(*) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-with'],
  ['dp', 'SELECT district, count(*) FROM people GROUP BY 1 ORDER BY 1', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-modifiers'],
  [
    'dp',
    'SELECT district, count(*) FROM people GROUP BY ROLLUP (district)',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-grouping-sets',
  ],
  [
    'dp',
    'SELECT id_number, count(*) FROM people GROUP BY id_number',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-group-column',
    'id_number',
  ],
  [
    'dp',
    'SELECT district, income FROM people GROUP BY district, income + 1',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-group-column',
  ],
  [
    'dp',
    'SELECT district, sum(income) FILTER (WHERE income > 1) FROM people GROUP BY district',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-select-item',
    'sum',
  ],
  ['dp', 'SELECT count(income) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-count'],
  ['dp', 'SELECT max(income) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-function', 'max'],
  ['dp', 'SELECT sum(DISTINCT income) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-distinct', 'sum'],
  ['dp', 'SELECT sum(income + 1) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-plain-column', 'sum'],
  ['dp', 'SELECT sum(age_band) FROM people', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-bounds', 'age_band'],
  ['dp', 'SELECT district FROM people GROUP BY district', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-no-statistic'],
  ['dp', 'SELECT count(*) FROM people GROUP BY district', 'ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-keys'],
  [
    'dp',
    'SELECT district, count(*) AS n, sum(income) AS n FROM people GROUP BY district',
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-duplicate-names',
  ],
];

/** Three English words in a row are prose, not a name or SQL the explanation quotes. */
const ENGLISH_PROSE = /[a-z]{3,} [a-z]{3,} [a-z]{3,}/i;
const HAN = /\p{Script=Han}/gu;

function expectChinese(text: string | undefined, label: string): void {
  expect(text, label).toBeDefined();
  expect(text!.match(HAN)?.length ?? 0, `${label}: ${text}`).toBeGreaterThanOrEqual(8);
  expect(text, label).not.toMatch(ENGLISH_PROSE);
}

describe('SQL refusals in Chinese (issue 33)', () => {
  let parser: SqlParser;
  beforeAll(async () => {
    parser = await SqlParser.create();
  });
  afterAll(() => parser.dispose());

  it.each(HOSTILE)('%s: %s → %s (%s) in Chinese, naming %s', async (mode, sql, code, reason, names) => {
    const err = await analyseQuery(parser, sql, mode, policy, mode === 'dp' ? { dp: DP } : AGG).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isPdsError(err)) throw new Error(`${sql}: not refused (${String(err)})`);
    expect({ code: err.code, reason: err.extra?.facts?.reason }, `${sql}: ${err.detail}`).toEqual({ code, reason });
    const { primary, secondary } = errorText(err);
    expectChinese(primary, sql);
    expect(primary).not.toBe(ERROR_ZH[err.code]);
    expect(secondary).toBe(err.detail);
    if (names) expect(primary).toContain(names);
  });

  it('every refusal the sandbox names is in the table (or bound by DuckDB, or a mode the API never sends)', () => {
    // query-kind is the checker's default for a query node DuckDB may add one day: none reaches it now
    const covered = new Set<string>([...HOSTILE.map((r) => r[3]), 'binding', 'mode-unknown', 'too-long', 'query-kind']);
    expect(SQL_REASONS.filter((r) => !covered.has(r))).toEqual([]);
    expectChinese(refusalZh({ facts: { reason: 'query-kind', clause: 'SOME_NEW_NODE' } }), 'query-kind');
  });

  it('a query too long, a mode unknown and a name DuckDB cannot bind read in Chinese too', async () => {
    const long = await analyseQuery(parser, `SELECT ${'1+'.repeat(200)}1`, 'custom', policy, {
      maxSqlBytes: 100,
    }).catch((e: unknown) => e);
    expect(isPdsError(long) && long.extra?.facts).toEqual({ reason: 'too-long', limit: '100' });
    expect(errorText(long as never).primary).toContain('100');
    const mode = await analyseQuery(parser, 'SELECT 1', 'bulk' as never, policy).catch((e: unknown) => e);
    expectChinese(errorText(mode as never).primary, 'mode');
    for (const [message, name] of [
      ['Binder Error: Referenced column "incme" not found in FROM clause!', 'incme'],
      ['Catalog Error: Table with name peple does not exist!', 'peple'],
      ['Catalog Error: Scalar Function with name sqr does not exist!', 'sqr'],
      ['Binder Error: No function matches the given name and argument types', undefined],
    ] as const) {
      const text = refusalZh({ facts: bindingFacts(message) });
      expectChinese(text, message);
      if (name) expect(text).toContain(name);
    }
  });

  it('the position and the rule read in Chinese beside the explanation', async () => {
    const err = await analyseQuery(parser, "SELECT district,\n  getenv('HOME') FROM people", 'custom', policy).catch(
      (e: unknown) => e,
    );
    expect(errorText(err as never).primary).toBe(
      '第 2 行第 3 列：函数 getenv 不在函数允许清单上（policies/sql-allowlist.yaml）。规则：函数允许清单。',
    );
  });
});
