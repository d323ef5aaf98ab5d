import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import {
  contractSchema,
  contractSqlPolicy,
  perturbationSpec,
  planRun,
  type SnapshotTerms,
} from '../../src/jobs/index.ts';
import { resolveGrants } from '../../src/masking/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { SchemaBinder, SqlParser, type QueryMode } from '../../src/sandbox/index.ts';

/** The API's plan of a run: a star never carries the snapshot's hidden keys out. */

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
let parser: SqlParser;
let binder: SchemaBinder;

beforeAll(async () => {
  parser = await SqlParser.create();
  binder = await SchemaBinder.create();
});
afterAll(() => {
  parser.dispose();
  binder.dispose();
});

async function plan(mode: QueryMode, sql: string, nonNull?: string[]) {
  const grants = resolveGrants(
    policies.catalog,
    policies.masking,
    [{ dataset: 'population', columns: ['district', 'gender', 'education', 'income'] }],
    mode,
  );
  const terms: SnapshotTerms = {
    mode,
    datasets: grants,
    snapshot: {
      tables: {
        population: {
          columns: [...grants[0]!.columns.map((c) => c.column), 'pds_unit'],
          rows: 10,
          units: 10,
          ...(nonNull ? { nonNull } : {}),
        },
      },
      recordKeys: true,
      unitKeys: true,
    },
  };
  return planRun(
    { parser, binder },
    {
      sql,
      mode,
      policy: contractSqlPolicy(policies, terms),
      schema: { key: `plan-test-${mode}`, tables: await contractSchema(policies, terms) },
      maxSqlBytes: 65_536,
      dominanceN: 2,
      ...(mode === 'aggregate' ? { perturbation: perturbationSpec(policies, 7n) } : {}),
    },
  );
}

describe('hidden columns and stars', () => {
  it('SELECT * and t.* leave out the record and unit keys; the query still runs as written', async () => {
    for (const sql of [
      'SELECT * FROM population',
      'SELECT p.*, q.district AS d2 FROM population p JOIN population q USING (pds_unit)',
    ]) {
      const p = await plan('custom', sql);
      expect(p.expected!.map((c) => c.name).filter((n) => n.startsWith('__pds'))).toEqual([]);
      expect(p.expected!.map((c) => c.name)).toContain('district');
    }
  });

  it('a star over a subquery without hidden columns is left alone', async () => {
    const p = await plan('custom', 'SELECT * FROM (SELECT district, gender FROM population)');
    expect(p.expected!.map((c) => c.name)).toEqual(['district', 'gender']);
  });

  it('COLUMNS with a pattern reaching a hidden column is refused, not released', async () => {
    await expect(plan('custom', "SELECT COLUMNS('.*_uk') FROM population")).rejects.toMatchObject({
      code: 'ERR_SQL_SHAPE_NOT_ALLOWED',
      extra: { rule: 'reserved-names', layer: 'analysis' },
    });
  });

  it('aggregate mode: the rewrite adds its own hidden columns, and the unit-set signature when the snapshot has unit keys', async () => {
    const p = await plan('aggregate', 'SELECT district, count(*) AS n FROM population GROUP BY district');
    expect(p.signature).toBeDefined();
    const names = p.expected!.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining([p.unitsColumn, ...Object.values(p.signature!)]));
    expect(names.filter((n) => n.startsWith('__pds_rk') || n === '__pds_uk')).toEqual([]);
  });

  it('a column with a value on every row needs no NULL test: a count and a sum over it share one cell key', async () => {
    const sql = 'SELECT district, count(*) AS n, sum(income) AS s FROM population GROUP BY district';
    // the distinct cell-key sums in the SQL (the engine computes each distinct aggregate once)
    const keySums = (text: string) => {
      const found = new Set<string>();
      for (let at = text.indexOf('COALESCE(sum('); at >= 0; at = text.indexOf('COALESCE(sum(', at + 1)) {
        let depth = 0;
        let end = at + 'COALESCE'.length;
        do {
          if (text[end] === '(') depth++;
          if (text[end] === ')') depth--;
          end++;
        } while (depth > 0 && end < text.length);
        found.add(text.slice(at, end));
      }
      return found.size;
    };
    const nullable = await plan('aggregate', sql);
    const complete = await plan('aggregate', sql, ['district', 'income', 'pds_unit']);
    expect(keySums(nullable.sql)).toBeGreaterThan(keySums(complete.sql));
    expect(complete.sql).not.toMatch(/income IS NOT NULL/i);
  });
});

describe('plans kept by contract and text', () => {
  it('plans a query once per contract: the same text again is the same plan, another contract gets its own, a refusal is not kept', async () => {
    const { buildWorld, approvedContract } = await import('../helpers.ts');
    const { RunPlanner } = await import('../../src/jobs/index.ts');
    const world = await buildWorld({ rows: 300 });
    const [parser, binder] = await Promise.all([SqlParser.create(), SchemaBinder.create()]);
    try {
      const planner = new RunPlanner({ parser, binder, policies, cellKeySalt: () => 7n });
      const [a, b] = [await approvedContract(world, 'org-a'), await approvedContract(world, 'org-b')];
      const claimsOf = async (id: string) => (await world.platform.contracts.verifiedActive(id)).claims;
      const sql = 'SELECT district, count(*) AS n FROM population GROUP BY 1';
      const first = await planner.plan({ sql, contractId: a, dp: undefined }, await claimsOf(a));
      expect(await planner.plan({ sql, contractId: a, dp: undefined }, await claimsOf(a))).toBe(first);
      const other = await planner.plan({ sql, contractId: b, dp: undefined }, await claimsOf(b));
      expect(other).not.toBe(first);
      const bad = { sql: 'SELECT religion, count(*) FROM population GROUP BY 1', contractId: a, dp: undefined };
      await expect(planner.plan(bad, await claimsOf(a))).rejects.toMatchObject({ code: 'ERR_SQL_INVALID' });
      await expect(planner.plan(bad, await claimsOf(a))).rejects.toMatchObject({ code: 'ERR_SQL_INVALID' });
    } finally {
      parser.dispose();
      binder.dispose?.();
      await world.close();
    }
  });
});
