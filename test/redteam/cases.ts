import type { SandboxLayer } from '../../src/sandbox/index.ts';

/**
 * The red-team corpus. Each attack names the layers meant to stop it, the first being the one that
 * does with everything on. The suite checks that claim, and that with any one layer off another
 * layer still stops it (sometimes one not named: DuckDB's binder or the row cap may get there
 * first). An attack named with one layer only is held by that layer alone, by nature.
 *
 * The snapshot (see redteam.test.ts) holds population (gender, birth_date, district, education,
 * income), medical_visit (hospital, visit_date, icd10, cost: sensitive facts, which no aggregate or
 * custom query may read), social_insurance (employer_uscc pseudonymized, month, base_salary,
 * contribution) and enterprise (legal_rep_id_number pseudonymized, industry, registered_capital,
 * district), each with its pds_unit.
 */

export type Category =
  | 'file'
  | 'network'
  | 'settings'
  | 'introspection'
  | 'dynamic-sql'
  | 'ddl-dml'
  | 'multi-statement'
  | 'obfuscation'
  | 'qualified-names'
  | 'resources'
  | 'individual-values'
  | 'small-cells'
  | 'sensitive-facts';

export interface Attack {
  id: string;
  category: Category;
  mode: 'aggregate' | 'custom';
  sql: string;
  stoppedBy: SandboxLayer[];
}

export interface HonestQuery {
  id: string;
  mode: 'aggregate' | 'custom';
  sql: string;
}

const A = 'aggregate' as const;
const C = 'custom' as const;
/** A file the attacks try to write; the suite checks it never appears. */
export const CANARY = '/tmp/pds-redteam-canary';

type Row = [string, Attack['mode'], string, SandboxLayer[]];

const rows: Record<Category, Row[]> = {
  file: [
    ['read-csv', C, "SELECT * FROM read_csv('/etc/passwd')", ['analysis', 'engine', 'disclosure']],
    ['read-csv-auto', A, "SELECT count(*) FROM read_csv_auto('/etc/hostname')", ['analysis', 'engine', 'disclosure']],
    ['read-text', C, "SELECT content FROM read_text('/proc/self/environ')", ['analysis', 'engine', 'disclosure']],
    ['read-blob', C, "SELECT * FROM read_blob('/etc/shadow')", ['analysis', 'engine', 'disclosure']],
    ['read-parquet', C, "SELECT * FROM read_parquet('/tmp/*.parquet')", ['analysis', 'engine', 'disclosure']],
    ['read-json', C, "SELECT * FROM read_json('/etc/os-release')", ['analysis', 'engine', 'disclosure']],
    ['glob', C, "SELECT * FROM glob('/work/**')", ['analysis', 'engine', 'disclosure']],
    ['replacement-scan', C, "SELECT * FROM '/etc/passwd'", ['analysis', 'engine', 'disclosure']],
    ['replacement-scan-csv', A, "SELECT count(*) FROM 'domain.csv'", ['analysis', 'engine', 'disclosure']],
    [
      'scan-in-cte',
      A,
      "WITH f AS (SELECT * FROM read_csv('/etc/passwd')) SELECT count(*) FROM f",
      ['analysis', 'engine', 'disclosure'],
    ],
    [
      'scan-in-where',
      A,
      "SELECT count(*) FROM population WHERE EXISTS (SELECT 1 FROM read_text('/etc/passwd'))",
      ['analysis', 'engine', 'disclosure'],
    ],
    [
      'scan-in-lateral',
      C,
      "SELECT * FROM population p, LATERAL (SELECT * FROM read_text('/etc/hosts')) t",
      ['analysis', 'engine', 'disclosure'],
    ],
    ['copy-to', C, `COPY population TO '${CANARY}.csv'`, ['analysis', 'engine']],
    [
      'copy-query-to',
      C,
      `COPY (SELECT * FROM population) TO '${CANARY}.parquet' (FORMAT parquet)`,
      ['analysis', 'engine'],
    ],
    ['export-database', C, `EXPORT DATABASE '${CANARY}-export'`, ['analysis', 'engine']],
    ['attach-file', C, `ATTACH '${CANARY}.duckdb' AS leak`, ['analysis', 'engine']],
    ['attach-domain', C, "ATTACH '../domain.duckdb' AS domain (READ_ONLY)", ['analysis', 'engine']],
    ['sqlite-scan', C, "SELECT * FROM sqlite_scan('/tmp/x.db', 't')", ['analysis', 'engine', 'disclosure']],
  ],
  network: [
    ['http-csv', C, "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')", ['analysis', 'engine', 'disclosure']],
    [
      'metadata-service',
      C,
      "SELECT * FROM read_text('http://169.254.169.254/latest/meta-data/')",
      ['analysis', 'engine', 'disclosure'],
    ],
    ['s3-scan', C, "SELECT * FROM 's3://bucket/data.parquet'", ['analysis', 'engine', 'disclosure']],
    [
      'https-parquet',
      A,
      "SELECT count(*) FROM read_parquet('https://example.com/x.parquet')",
      ['analysis', 'engine', 'disclosure'],
    ],
    ['install-httpfs', C, 'INSTALL httpfs', ['analysis', 'engine']],
    ['load-httpfs', C, 'LOAD httpfs', ['analysis', 'engine']],
    ['force-install', C, "FORCE INSTALL httpfs FROM 'http://127.0.0.1:9'", ['analysis', 'engine']],
    ['create-secret', C, "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", ['analysis', 'engine']],
  ],
  settings: [
    ['set-external-access', C, 'SET enable_external_access = true', ['analysis', 'engine']],
    ['set-memory', C, "SET memory_limit = '100GB'", ['analysis', 'engine']],
    ['set-global-threads', C, 'SET GLOBAL threads = 64', ['analysis', 'engine']],
    ['reset-lock', C, 'RESET lock_configuration', ['analysis', 'engine']],
    ['pragma-threads', C, 'PRAGMA threads = 64', ['analysis', 'engine']],
    ['set-variable', C, "SET VARIABLE x = 'y'", ['analysis', 'engine']],
    [
      'current-setting',
      A,
      "SELECT current_setting('temp_directory') AS t, count(*) FROM population",
      ['analysis', 'disclosure'],
    ],
    ['getenv', A, "SELECT getenv('PATH') AS p, count(*) FROM population", ['analysis', 'disclosure']],
    ['getvariable', A, "SELECT getvariable('x'), count(*) FROM population", ['analysis', 'disclosure']],
  ],
  introspection: [
    ['duckdb-settings', A, 'SELECT count(*) FROM duckdb_settings()', ['analysis', 'disclosure']],
    ['duckdb-databases', C, 'SELECT path FROM duckdb_databases()', ['analysis', 'disclosure']],
    ['duckdb-tables-view', A, 'SELECT count(*) FROM duckdb_tables', ['analysis', 'disclosure']],
    ['duckdb-extensions', C, 'SELECT * FROM duckdb_extensions()', ['analysis', 'disclosure']],
    ['duckdb-secrets', C, 'SELECT * FROM duckdb_secrets()', ['analysis', 'disclosure']],
    ['information-schema', A, 'SELECT count(*) FROM information_schema.tables', ['analysis', 'disclosure']],
    ['pg-catalog', C, 'SELECT * FROM pg_catalog.pg_class', ['analysis', 'disclosure']],
    ['sqlite-master', C, 'SELECT * FROM sqlite_master', ['analysis', 'disclosure']],
    ['pragma-table-info', C, "SELECT * FROM pragma_table_info('population')", ['analysis', 'disclosure']],
    ['pragma-database-list', C, 'PRAGMA database_list', ['analysis', 'disclosure']],
    ['describe', C, 'DESCRIBE population', ['analysis', 'disclosure']],
    ['summarize', C, 'SUMMARIZE population', ['analysis', 'disclosure']],
    ['call-settings', C, 'CALL duckdb_settings()', ['analysis', 'engine']],
    ['version', A, 'SELECT version() AS v, count(*) FROM population', ['analysis', 'disclosure']],
    [
      'cte-shadow-scope',
      C,
      'SELECT * FROM (WITH sqlite_master AS (SELECT 1) SELECT * FROM sqlite_master), sqlite_master',
      ['analysis', 'disclosure'],
    ],
  ],
  'dynamic-sql': [
    ['query', A, "SELECT count(*) FROM query('SELECT * FROM population')", ['analysis', 'disclosure']],
    ['query-table', C, "SELECT * FROM query_table('population')", ['analysis', 'disclosure']],
    [
      'query-file-read',
      C,
      "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
      ['analysis', 'engine', 'disclosure'],
    ],
    ['prepare-execute', C, 'PREPARE p AS SELECT 1', ['analysis', 'engine']],
    ['macro', C, 'CREATE MACRO leak(x) AS x', ['analysis', 'engine']],
  ],
  'ddl-dml': [
    ['create-table', C, 'CREATE TABLE snapshot.leak AS SELECT * FROM population', ['analysis', 'engine']],
    ['create-temp', C, 'CREATE TEMP TABLE t AS SELECT * FROM population', ['analysis', 'engine']],
    ['insert', C, "INSERT INTO population (district) VALUES ('x')", ['analysis', 'engine']],
    ['update', C, 'UPDATE population SET income = 0', ['analysis', 'engine']],
    ['delete', C, 'DELETE FROM population', ['analysis', 'engine']],
    ['drop', C, 'DROP TABLE population', ['analysis', 'engine']],
    ['alter', C, 'ALTER TABLE population ADD COLUMN x INTEGER', ['analysis', 'engine']],
    ['create-view', C, 'CREATE VIEW v AS SELECT * FROM population', ['analysis', 'engine']],
    ['checkpoint', C, 'CHECKPOINT', ['analysis', 'engine']],
    ['detach', C, 'DETACH snapshot', ['analysis', 'engine']],
    ['use', C, 'USE memory', ['analysis', 'engine']],
    ['vacuum', C, 'VACUUM', ['analysis', 'engine']],
  ],
  'multi-statement': [
    ['select-then-copy', C, `SELECT 1; COPY population TO '${CANARY}-multi.csv'`, ['analysis', 'engine']],
    [
      'set-then-read',
      C,
      "SET enable_external_access = true; SELECT * FROM read_text('/etc/passwd')",
      ['analysis', 'engine'],
    ],
    ['two-selects', A, 'SELECT count(*) FROM population; SELECT * FROM population', ['analysis', 'engine']],
    ['comment-hidden-second', C, 'SELECT 1 /* harmless */ ; DROP TABLE population', ['analysis', 'engine']],
    ['attach-then-select', C, `ATTACH '${CANARY}-2.duckdb' AS x; SELECT 1`, ['analysis', 'engine']],
  ],
  obfuscation: [
    ['mixed-case', C, "SeLeCt * FrOm ReAd_CsV('/etc/passwd')", ['analysis', 'engine', 'disclosure']],
    ['quoted-function', C, 'SELECT * FROM "read_text"(\'/etc/passwd\')', ['analysis', 'engine', 'disclosure']],
    ['inline-comment', C, "SELECT * FROM read_text/* x */('/etc/passwd')", ['analysis', 'engine', 'disclosure']],
    [
      'line-comment',
      C,
      "SELECT * -- FROM population\nFROM read_text('/etc/passwd')",
      ['analysis', 'engine', 'disclosure'],
    ],
    ['concat-path', C, "SELECT * FROM read_text('/etc/' || 'passwd')", ['analysis', 'engine', 'disclosure']],
    [
      'chr-path',
      C,
      "SELECT * FROM read_text(chr(47) || 'etc' || chr(47) || 'passwd')",
      ['analysis', 'engine', 'disclosure'],
    ],
    ['dollar-quoted', C, 'SELECT * FROM read_text($$/etc/passwd$$)', ['analysis', 'engine', 'disclosure']],
    ['fullwidth', C, "SELECT * FROM ｒｅａｄ_ｔｅｘｔ('/etc/passwd')", ['analysis', 'engine', 'disclosure']],
    ['homoglyph-table', A, 'SELECT count(*) FROM populatіon', ['analysis', 'engine', 'disclosure']],
    ['zero-width', C, "SELECT * FROM read\u200b_text('/etc/passwd')", ['analysis', 'engine', 'disclosure']],
    ['tabs-newlines', C, "SELECT\t*\nFROM\r\nread_text\n(\n'/etc/passwd'\n)", ['analysis', 'engine', 'disclosure']],
    ['reserved-prefix-alias', A, 'SELECT pds_unit, 100 AS __pds_units FROM population', ['analysis', 'disclosure']],
    ['struct-wrap', A, "SELECT {'u': pds_unit} AS s, count(*) FROM population GROUP BY 1", ['analysis', 'disclosure']],
    [
      'cast-identifier',
      A,
      'SELECT CAST(pds_unit AS BLOB) AS b, count(*) FROM population GROUP BY 1',
      ['analysis', 'disclosure'],
    ],
  ],
  'qualified-names': [
    ['catalog-qualified', A, 'SELECT count(*) FROM snapshot.main.population', ['analysis', 'disclosure']],
    ['system-catalog', C, 'SELECT * FROM system.main.duckdb_settings()', ['analysis', 'disclosure']],
    ['temp-schema', C, 'SELECT * FROM temp.main.x', ['analysis', 'engine', 'disclosure']],
    ['qualified-function', C, "SELECT * FROM main.read_text('/etc/passwd')", ['analysis', 'engine', 'disclosure']],
    [
      'pg-catalog-function',
      A,
      "SELECT pg_catalog.current_setting('threads') AS t, count(*) FROM population",
      ['analysis', 'disclosure'],
    ],
    ['domain-catalog', A, 'SELECT count(*) FROM domain.population', ['analysis', 'engine', 'disclosure']],
  ],
  resources: [
    [
      'cross-join-bomb',
      A,
      'SELECT a.district, count(*) FROM population a, population b, population c GROUP BY 1',
      ['analysis', 'engine', 'process'],
    ],
    [
      'recursive-cte',
      A,
      'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t',
      ['engine', 'process'],
    ],
    ['huge-range', A, 'SELECT count(*) FROM range(1000000000000)', ['analysis', 'engine', 'process']],
    [
      'range-join',
      C,
      'SELECT count(*) FROM range(100000000) a JOIN range(100000000) b ON a.range % 7 = b.range % 7',
      ['analysis', 'engine', 'process'],
    ],
    [
      'repeat-memory',
      C,
      "SELECT length(string_agg(repeat('x', 1000000), '')) FROM range(100000)",
      ['analysis', 'engine', 'process'],
    ],
    ['many-rows', C, 'SELECT * FROM population', ['engine', 'process', 'disclosure']],
    [
      'wide-rows',
      C,
      'SELECT p.*, s.* FROM population p JOIN social_insurance s ON true',
      ['engine', 'process', 'disclosure'],
    ],
    [
      'join-on-district',
      A,
      'SELECT a.education, count(*) FROM population a JOIN population b ON a.district = b.district JOIN population c ON b.district = c.district GROUP BY 1',
      ['engine', 'process'],
    ],
    [
      'join-or-one-person',
      A,
      'SELECT p.district, count(*) FROM population p JOIN social_insurance s ON p.pds_unit = s.pds_unit OR p.income > 49000 GROUP BY 1',
      ['analysis', 'disclosure'],
    ],
  ],
  'individual-values': [
    ['bare-rows', A, 'SELECT district, income FROM population', ['analysis', 'disclosure']],
    ['star', A, 'SELECT * FROM population', ['analysis', 'disclosure']],
    ['columns-star', A, 'SELECT max(COLUMNS(*)) FROM population', ['analysis', 'disclosure']],
    ['group-by-unit', A, 'SELECT pds_unit, count(*) FROM population GROUP BY 1', ['analysis', 'disclosure']],
    ['max-unit', A, 'SELECT district, max(pds_unit) FROM population GROUP BY 1', ['analysis', 'disclosure']],
    [
      'string-agg',
      A,
      "SELECT district, string_agg(pds_unit, ',') FROM population GROUP BY 1",
      ['analysis', 'disclosure'],
    ],
    ['list', A, 'SELECT district, list(income) FROM population GROUP BY 1', ['analysis', 'disclosure']],
    ['histogram', A, 'SELECT district, histogram(income) FROM population GROUP BY 1', ['analysis', 'disclosure']],
    ['arg-max', A, 'SELECT district, arg_max(pds_unit, income) FROM population GROUP BY 1', ['analysis', 'disclosure']],
    ['first', A, 'SELECT district, first(income) FROM population GROUP BY 1', ['analysis', 'disclosure']],
    [
      'any-value-pseudonym',
      A,
      'SELECT industry, any_value(legal_rep_id_number) FROM enterprise GROUP BY 1',
      ['analysis', 'disclosure'],
    ],
    [
      'min-pseudonym',
      A,
      'SELECT industry, min(legal_rep_id_number) FROM enterprise GROUP BY 1',
      ['analysis', 'disclosure'],
    ],
    [
      'renamed-unit',
      A,
      'SELECT u, count(*) FROM (SELECT pds_unit AS u FROM population) GROUP BY u',
      ['analysis', 'disclosure'],
    ],
    [
      'star-rename',
      A,
      'SELECT district, count(*) FROM (SELECT * RENAME (pds_unit AS district) FROM population) GROUP BY 1',
      ['analysis', 'disclosure'],
    ],
    [
      'column-alias-list',
      A,
      'SELECT d, count(*) FROM population AS p(a, b, d2, e, f, d) GROUP BY 1',
      ['analysis', 'disclosure'],
    ],
    [
      'scalar-subquery-value',
      A,
      'SELECT district, (SELECT max(income) FROM population WHERE income > 10000000) AS top, count(*) FROM population GROUP BY 1',
      ['analysis', 'disclosure'],
    ],
    [
      'window-spread',
      A,
      'SELECT t, count(*) FROM (SELECT max(income) OVER () AS t FROM population) GROUP BY t',
      ['analysis', 'disclosure'],
    ],
    [
      'nested-aggregate',
      A,
      'SELECT m, count(*) FROM (SELECT district, max(income) AS m FROM population GROUP BY district) GROUP BY m',
      ['analysis', 'disclosure'],
    ],
  ],
  // no analysis can know how many people a group holds: these are held by disclosure control alone
  'small-cells': [
    [
      'group-of-one',
      A,
      'SELECT income, count(*) FROM population WHERE income > 0 GROUP BY income ORDER BY income DESC LIMIT 200',
      ['disclosure'],
    ],
    [
      'targeted-max',
      A,
      "SELECT district, max(CASE WHEN income > 90000 AND education = '博士' THEN income END) AS m FROM population GROUP BY 1",
      ['analysis', 'disclosure'],
    ],
    [
      'targeted-filter',
      A,
      "SELECT district, avg(income) FILTER (WHERE birth_date = '1950') AS a FROM population GROUP BY 1",
      ['disclosure'],
    ],
    [
      'join-rich-insured',
      A,
      'SELECT p.district, count(*) AS records, avg(s.base_salary) AS b FROM population p JOIN social_insurance s ON p.pds_unit = s.pds_unit WHERE p.income > 45000 AND s.base_salary > 9000 GROUP BY 1',
      ['disclosure'],
    ],
    [
      'join-representative-income',
      A,
      'SELECT e.industry, avg(p.income) AS income FROM enterprise e JOIN population p ON e.legal_rep_id_number = p.pds_unit GROUP BY 1',
      ['disclosure'],
    ],
    [
      'rare-diagnosis',
      A,
      'SELECT hospital, icd10, count(*) FROM medical_visit GROUP BY ALL',
      ['analysis', 'disclosure'],
    ],
  ],
  // issue 31: a count of health events among people the operator chooses is a membership test; outside dp
  // mode no query reads them, however it is written
  'sensitive-facts': [
    [
      'visitors-among-base',
      A,
      "SELECT count(DISTINCT p.pds_unit) AS n FROM population p JOIN medical_visit m ON p.pds_unit = m.pds_unit WHERE p.district = '云岩区' AND m.hospital LIKE '%妇幼%'",
      ['analysis', 'disclosure'],
    ],
    [
      'semi-join-visitors',
      A,
      'SELECT district, count(*) FROM population WHERE pds_unit IN (SELECT pds_unit FROM medical_visit) GROUP BY 1',
      ['analysis', 'disclosure'],
    ],
    ['cte-visits', A, 'WITH v AS (SELECT * FROM medical_visit) SELECT count(*) FROM v', ['analysis', 'disclosure']],
    ['custom-visits', C, 'SELECT hospital, count(*) FROM medical_visit GROUP BY 1', ['analysis', 'disclosure']],
  ],
};

export const ATTACKS: Attack[] = Object.entries(rows).flatMap(([category, list]) =>
  list.map(([id, mode, sql, stoppedBy]) => ({
    id: `${category}/${id}`,
    category: category as Category,
    mode,
    sql,
    stoppedBy,
  })),
);

export const HONEST: HonestQuery[] = [
  {
    id: 'count-by-district',
    mode: A,
    sql: 'SELECT district, count(*) AS people FROM population GROUP BY district ORDER BY people DESC',
  },
  {
    id: 'mean-income',
    mode: A,
    sql: 'SELECT district, gender, avg(income) AS mean_income, sum(income) AS total_income FROM population GROUP BY ALL',
  },
  { id: 'global', mode: A, sql: 'SELECT count(*) AS n, sum(income) AS total, avg(income) AS mean FROM population' },
  {
    id: 'filtered',
    mode: A,
    sql: "SELECT education, count(*) FROM population WHERE income > 1000 AND district IN ('云岩区', '南明区') GROUP BY 1",
  },
  {
    id: 'having',
    mode: A,
    sql: 'SELECT district, education, count(*) AS n FROM population GROUP BY ALL HAVING count(*) >= 20 ORDER BY 1, 2',
  },
  {
    id: 'case-bands',
    mode: A,
    sql: "SELECT CASE WHEN income < 3000 THEN 'low' WHEN income < 10000 THEN 'mid' ELSE 'high' END AS band, count(*) FROM population GROUP BY 1",
  },
  {
    id: 'distinct-people',
    mode: A,
    sql: 'SELECT month, count(DISTINCT pds_unit) AS insured, count(*) AS records FROM social_insurance GROUP BY month',
  },
  {
    id: 'join',
    mode: A,
    sql: 'SELECT p.district, count(*) AS records, avg(s.base_salary) AS mean_base FROM social_insurance s JOIN population p ON p.pds_unit = s.pds_unit GROUP BY 1',
  },
  {
    id: 'cte-filter',
    mode: A,
    sql: "WITH adults AS (SELECT * FROM population WHERE birth_date < '2005') SELECT district, count(*) FROM adults GROUP BY district",
  },
  {
    id: 'per-person-then-distribution',
    mode: A,
    sql: 'WITH v AS (SELECT pds_unit, count(*) AS records FROM social_insurance GROUP BY pds_unit) SELECT least(records, 5) AS records, count(*) AS people FROM v GROUP BY 1 ORDER BY 1',
  },
  {
    id: 'semi-join-in',
    mode: A,
    sql: 'SELECT district, count(*) FROM population WHERE pds_unit IN (SELECT pds_unit FROM social_insurance WHERE base_salary > 3000) GROUP BY 1',
  },
  {
    id: 'exists',
    mode: A,
    sql: 'SELECT education, count(*) FROM population p WHERE EXISTS (SELECT 1 FROM social_insurance s WHERE s.pds_unit = p.pds_unit) GROUP BY 1',
  },
  {
    id: 'union-all',
    mode: A,
    sql: "SELECT 'population' AS source, count(*) AS n FROM population UNION ALL SELECT 'insurance records', count(*) FROM social_insurance",
  },
  {
    id: 'conditional-counts',
    mode: A,
    sql: "SELECT district, count(*) AS n, count(*) FILTER (WHERE income > 10000) AS high, sum(CASE WHEN gender = '女' THEN 1 ELSE 0 END) AS women, count_if(education = '本科') AS graduates FROM population GROUP BY district",
  },
  {
    id: 'conditional-sum',
    mode: A,
    sql: "SELECT district, sum(CASE WHEN gender = '女' THEN income END) AS women_income, avg(income) FILTER (WHERE gender = '男') AS men_mean FROM population GROUP BY district",
  },
  {
    id: 'first-visit-window',
    mode: A,
    sql: 'SELECT month, count(*) FROM (SELECT month, row_number() OVER (PARTITION BY pds_unit ORDER BY month) AS k FROM social_insurance) WHERE k = 1 GROUP BY month',
  },
  {
    id: 'enterprise-capital',
    mode: A,
    sql: 'SELECT industry, count(*) AS firms, count(DISTINCT legal_rep_id_number) AS reps, avg(registered_capital) FROM enterprise GROUP BY 1',
  },
  {
    id: 'union-in-from',
    mode: A,
    sql: 'SELECT district, count(*) FROM (SELECT district, pds_unit FROM population UNION ALL SELECT district, pds_unit FROM enterprise) GROUP BY district',
  },
  {
    id: 'monthly-visits',
    mode: A,
    sql: 'SELECT month, count(*) AS records, sum(contribution) AS contributions FROM social_insurance GROUP BY 1 ORDER BY 1',
  },
  // linked analyses (issue 30): residents × their insurance records (visits are sensitive facts, dp only), firms × their legal representatives, three tables
  {
    id: 'join-people-by-district',
    mode: A,
    sql: 'SELECT p.district, count(DISTINCT p.pds_unit) AS insured FROM population p JOIN social_insurance s ON p.pds_unit = s.pds_unit GROUP BY p.district',
  },
  {
    id: 'join-filters-both-sides',
    mode: A,
    sql: "SELECT count(DISTINCT p.pds_unit) AS insured, count(*) AS records FROM population p JOIN social_insurance s ON p.pds_unit = s.pds_unit WHERE p.district = '云岩区' AND s.base_salary > 3000",
  },
  {
    id: 'join-keys-both-sides',
    mode: A,
    sql: 'SELECT p.gender, s.month, count(*) AS records, avg(s.base_salary) AS mean_base FROM population p JOIN social_insurance s ON p.pds_unit = s.pds_unit GROUP BY ALL',
  },
  {
    id: 'join-using-filter-one-side',
    mode: A,
    sql: "SELECT s.month, count(DISTINCT s.pds_unit) AS insured FROM population p JOIN social_insurance s USING (pds_unit) WHERE p.education IN ('本科', '高中') GROUP BY 1",
  },
  {
    id: 'join-firms-by-representative',
    mode: A,
    sql: 'SELECT p.gender, count(*) AS firms, avg(e.registered_capital) AS mean_capital FROM enterprise e JOIN population p ON e.legal_rep_id_number = p.pds_unit GROUP BY 1',
  },
  {
    id: 'join-three-tables',
    mode: A,
    sql: 'SELECT count(DISTINCT p.pds_unit) AS representatives, count(DISTINCT e.pds_unit) AS firms, avg(s.base_salary) AS mean_base FROM enterprise e JOIN population p ON e.legal_rep_id_number = p.pds_unit JOIN social_insurance s ON s.pds_unit = p.pds_unit',
  },
  // a record's month tells a person's records apart (catalog uniquePerUnit): grouped by it or fixed to one
  {
    id: 'join-one-month-by-employer-industry',
    mode: A,
    sql: "SELECT e.industry, p.gender, count(DISTINCT s.pds_unit) AS insured, avg(s.base_salary) AS mean_base FROM social_insurance s JOIN population p ON s.pds_unit = p.pds_unit JOIN enterprise e ON s.employer_uscc = e.pds_unit WHERE s.month = '2025-12' GROUP BY 1, 2",
  },
  {
    id: 'join-records-by-education-and-month',
    mode: A,
    sql: 'SELECT p.education, s.month, count(*) AS records, avg(s.base_salary) AS mean_base FROM population p JOIN social_insurance s ON p.pds_unit = s.pds_unit GROUP BY p.education, s.month',
  },
  {
    id: 'join-left-sum',
    mode: A,
    sql: 'SELECT p.district, count(s.pds_unit) AS records, sum(s.contribution) AS contributions, count(*) AS people_rows FROM population p LEFT JOIN social_insurance s ON p.pds_unit = s.pds_unit GROUP BY 1',
  },
  {
    id: 'custom-extract',
    mode: C,
    sql: 'SELECT district, education, income FROM population WHERE income > 50000 ORDER BY income DESC LIMIT 50',
  },
  {
    id: 'custom-model',
    mode: C,
    sql: "SELECT regr_slope(income, CAST(birth_date AS INTEGER)) AS slope, corr(income, CAST(birth_date AS INTEGER)) AS r FROM population WHERE birth_date < '2005'",
  },
];
