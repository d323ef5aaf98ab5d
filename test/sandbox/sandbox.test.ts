import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { domainPath, seedDomain } from '../../src/domain/index.ts';
import { buildSnapshot, resolveGrants } from '../../src/masking/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import {
  analyseQuery,
  functionAllowlist,
  runInSandbox,
  SqlParser,
  sqlPolicy,
  type SandboxLimits,
} from '../../src/sandbox/index.ts';
import { tmpDataDir } from '../helpers.ts';

/** n of the (n, k) dominance rule, as policies/disclosure.yaml sets it. */
const AGG = { dominanceN: 2 };

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const policy = sqlPolicy(
  { population: ['district', 'gender', 'education', 'income', 'id_number', 'pds_unit'] },
  ['id_number'],
  'pds_unit',
  functionAllowlist(policies.sqlAllowlist),
);

describe('analyseQuery', () => {
  let parser: SqlParser;
  beforeAll(async () => {
    parser = await SqlParser.create();
  });
  afterAll(() => parser.dispose());

  it.each([
    'SELECT district, count(*) AS n FROM population GROUP BY district',
    'SELECT district, gender, avg(income), sum(income) FROM population p WHERE income > 0 GROUP BY ALL ORDER BY 1',
    'SELECT sum(income) FROM population',
    'SELECT district, count(DISTINCT id_number) FROM population GROUP BY 1 HAVING count(*) > 3',
    "SELECT upper(district) AS d, round(avg(income) / 1000, 1) FROM population WHERE education IN ('本科', '硕士') GROUP BY 1",
  ])('admits an honest aggregate: %s', async (sql) => {
    const a = await analyseQuery(parser, sql, 'aggregate', policy, AGG);
    expect(a.sql).toContain('count(DISTINCT');
    expect(a.sql).toContain('__pds_units');
    expect(a.tables).toEqual(['population']);
  });

  it.each([
    ['SELECT district FROM population; SELECT 1', 'ERR_SQL_NOT_SELECT'],
    ["COPY population TO '/tmp/x.csv'", 'ERR_SQL_NOT_SELECT'],
    ["ATTACH '/tmp/x.duckdb' AS x", 'ERR_SQL_NOT_SELECT'],
    ['SET enable_external_access = true', 'ERR_SQL_NOT_SELECT'],
    ['DROP TABLE population', 'ERR_SQL_NOT_SELECT'],
    ["SELECT * FROM read_csv('/etc/passwd')", 'ERR_SQL_FUNCTION_NOT_ALLOWED'],
    ["SELECT count(*) FROM query('SELECT 1')", 'ERR_SQL_FUNCTION_NOT_ALLOWED'],
    ['SELECT count(*) FROM duckdb_settings()', 'ERR_SQL_FUNCTION_NOT_ALLOWED'],
    ["SELECT current_setting('memory_limit'), count(*) FROM population", 'ERR_SQL_FUNCTION_NOT_ALLOWED'],
    ["SELECT getenv('HOME'), count(*) FROM population", 'ERR_SQL_FUNCTION_NOT_ALLOWED'],
    ['SELECT count(*) FROM information_schema.tables', 'ERR_SQL_TABLE_NOT_ALLOWED'],
    ['SELECT count(*) FROM domain.population', 'ERR_SQL_TABLE_NOT_ALLOWED'],
    ['SELECT count(*) FROM medical_visit', 'ERR_SQL_TABLE_NOT_ALLOWED'],
    ['SELECT * FROM population', 'ERR_SQL_SHAPE_NOT_ALLOWED'],
    ['SELECT district, income FROM population', 'ERR_SQL_SHAPE_NOT_ALLOWED'],
    ['SELECT id_number, count(*) FROM population GROUP BY 1', 'ERR_SQL_SHAPE_NOT_ALLOWED'],
    ['SELECT district, min(id_number) FROM population GROUP BY 1', 'ERR_SQL_SHAPE_NOT_ALLOWED'],
    ["SELECT district, string_agg(id_number, ',') FROM population GROUP BY 1", 'ERR_SQL_FUNCTION_NOT_ALLOWED'],
    ['SELECT district, list(income) FROM population GROUP BY 1', 'ERR_SQL_FUNCTION_NOT_ALLOWED'],
    [
      'SELECT district, count(*) FROM population GROUP BY 1 INTERSECT SELECT district, count(*) FROM population GROUP BY 1',
      'ERR_SQL_SHAPE_NOT_ALLOWED',
    ],
    ['SELEC district FROM population', 'ERR_SQL_SYNTAX'],
    ['   ', 'ERR_SQL_SYNTAX'],
  ])('refuses %s with %s', async (sql, code) => {
    await expect(analyseQuery(parser, sql, 'aggregate', policy, AGG)).rejects.toMatchObject({ code });
  });

  it('names the position of a refusal in the SQL', async () => {
    const sql = "SELECT district,\n  getenv('HOME') FROM population GROUP BY 1";
    await expect(analyseQuery(parser, sql, 'aggregate', policy, AGG)).rejects.toMatchObject({
      code: 'ERR_SQL_FUNCTION_NOT_ALLOWED',
      extra: { position: sql.indexOf('getenv') },
    });
  });
});

describe('runInSandbox', () => {
  const t = tmpDataDir();
  let snapshotFile: string;
  const limits: SandboxLimits = { ...policies.sandbox.limits, timeoutMs: 20_000 };
  const run = (sql: string, l: Partial<SandboxLimits> = {}) =>
    runInSandbox({
      snapshotFile,
      tempDir: path.join(t.dir, 'tmp', String(Math.random())),
      sql,
      limits: { ...limits, ...l },
    });

  beforeAll(async () => {
    await seedDomain(t.dir, { rows: 2000, seed: 3 });
    const grants = resolveGrants(policies.catalog, policies.masking, [
      { dataset: 'population', columns: ['district', 'income'] },
    ]);
    snapshotFile = (
      await buildSnapshot({
        dataDir: t.dir,
        domainFile: domainPath(t.dir),
        contractId: 'ctr_sbx',
        grants,
        catalog: policies.catalog,
        policyK: 10,
        pseudonymKey: Buffer.alloc(32, 9),
      })
    ).file;
  });
  afterAll(() => t.cleanup());

  it('runs a query over the read-only snapshot in a separate process', async () => {
    const res = await run('SELECT count(*) AS n, count(DISTINCT pds_unit) AS u FROM population');
    expect(res.columns.map((c) => c.name)).toEqual(['n', 'u']);
    expect(res.rows).toEqual([[2000, 2000]]);
  });

  // each layer must hold alone: these run *without* static analysis in front
  it.each([
    ["SELECT * FROM read_csv('/etc/passwd')", 'ERR_SANDBOX_DENIED'],
    [`ATTACH '${'/tmp/pds-should-not-exist.duckdb'}' AS x`, 'ERR_SANDBOX_DENIED'],
    ["COPY (SELECT 1) TO '/tmp/pds-sandbox-leak.csv'", 'ERR_SANDBOX_DENIED'],
    ['SET enable_external_access = true', 'ERR_SANDBOX_DENIED'],
    ["SET memory_limit = '100GB'", 'ERR_SANDBOX_DENIED'],
    ['INSTALL httpfs', 'ERR_SANDBOX_DENIED'],
    ['CREATE TABLE snapshot.x AS SELECT 1', 'ERR_SANDBOX_DENIED'],
  ])('the locked-down engine refuses %s', async (sql, code) => {
    await expect(run(sql)).rejects.toMatchObject({ code });
  });

  it('kills a query that passes its wall-clock limit', async () => {
    const started = Date.now();
    await expect(
      run('SELECT count(*) FROM range(10000000000) a, range(10) b', { timeoutMs: 1500 }),
    ).rejects.toMatchObject({ code: 'ERR_LIMIT_EXCEEDED' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends a query that passes its memory limit with limit_exceeded', async () => {
    await expect(
      run('SELECT list(i) FROM range(50000000) t(i)', { memoryLimit: '64MB', tempDirectorySize: '1MB' }),
    ).rejects.toMatchObject({ code: 'ERR_LIMIT_EXCEEDED' });
  });

  it('stops at the result row cap', async () => {
    await expect(run('SELECT * FROM range(1000)', { maxResultRows: 100 })).rejects.toMatchObject({
      code: 'ERR_LIMIT_EXCEEDED',
    });
  });

  it('never repeats a cell value in an error message', async () => {
    const err = await run('SELECT CAST(district AS INTEGER) FROM population').then(
      () => ({ code: 'ran', detail: '' }),
      (e: unknown) => e as { code: string; detail: string },
    );
    expect(err.code).toBe('ERR_SQL_RUNTIME');
    expect(err.detail).not.toMatch(/[区县市]/);
  });
});
