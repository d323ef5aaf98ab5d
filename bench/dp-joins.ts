import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/config/index.ts';
import { domainPath, seedDomain } from '../src/domain/index.ts';
import { contractSchema, contractSqlPolicy, releaseTerms } from '../src/jobs/index.ts';
import { evaluateQuery } from '../test/support/evaluate.ts';
import { buildSnapshot, resolveGrants } from '../src/masking/index.ts';
import { loadPolicies } from '../src/policies/index.ts';
import { disposeRunners, SchemaBinder, SqlParser, warmRunners } from '../src/sandbox/index.ts';
import { openInstance, queryRows, withConnection } from '../src/store/index.ts';

/**
 * `npm run bench:privacy`, linked part (issue 31): dp over residents × their visits on N people
 * (PDS_BENCH_ROWS, default 1,000,000), a dp contract as the bureau's decision builds it, ε = 1 a
 * query. For each query: the median and 95th-percentile relative error of every statistic over
 * cells of at least 100 people (target ≤ 5 % median), against the exact answer of the same join on
 * the same snapshot, unbounded (so the error is the whole mechanism's — contribution bounds,
 * clamping, noise — and not the masking's);
 * and the dp job's whole path against the same join in a plain DuckDB connection on that snapshot,
 * alternating, medians (target ≤ 2×).
 */

const rows = Number(process.env.PDS_BENCH_ROWS ?? 1_000_000);
const runs = Number(process.env.PDS_BENCH_RUNS ?? 5);
const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-bench-dp-joins-'));
const JOIN = 'FROM population p JOIN medical_visit m ON p.pds_unit = m.pds_unit';

const QUERIES = [
  {
    name: 'visits-and-mean-cost-by-district-and-hospital',
    keys: ['district', 'hospital'],
    // people visit two hospitals on average, four at the 90th percentile, a hospital about once:
    // counted in up to five groups, two visits in each, costs up to 10,000
    contribution: { maxGroupsPerUnit: 5, maxRowsPerUnit: 2 },
    costBounds: [0, 10_000] as [number, number],
    sql: `SELECT p.district, m.hospital, count(*) AS visits, avg(m.cost) AS mean_cost ${JOIN} GROUP BY p.district, m.hospital`,
  },
  {
    name: 'visits-and-mean-cost-by-age-band-and-gender',
    keys: ['birth_date', 'gender'],
    // one age band and gender a person: one group, up to five visits in it; the cells are large
    // enough for costs up to 50,000 (the tail of the costs carries a third of their mean)
    contribution: { maxGroupsPerUnit: 1, maxRowsPerUnit: 5 },
    costBounds: [0, 50_000] as [number, number],
    sql: `SELECT p.birth_date, p.gender, count(*) AS visits, avg(m.cost) AS mean_cost ${JOIN} GROUP BY p.birth_date, p.gender`,
  },
];

/** The exact answer, no bounds and no noise: what the released values are compared with. */
const exactSql = (keys: string[]) => {
  const k = keys.map((c) => (c === 'hospital' ? `m.${c}` : `p.${c}`));
  return `SELECT ${k.map((c, i) => `${c} AS ${keys[i]}`).join(', ')}, count(DISTINCT p.pds_unit) AS people, count(*) AS visits, avg(m.cost) AS mean_cost ${JOIN} GROUP BY ALL`;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)] ?? NaN;

try {
  const t0 = performance.now();
  await seedDomain(dir, { rows, seed: 3 });
  const grants = resolveGrants(
    policies.catalog,
    policies.masking,
    [
      {
        dataset: 'population',
        columns: ['district', 'gender', 'birth_date'],
        masking: { birth_date: 'generalize:age-band:10' },
      },
      { dataset: 'medical_visit', columns: ['hospital', 'cost'] },
    ],
    'dp',
  );
  const snap = await buildSnapshot({
    dataDir: dir,
    domainFile: domainPath(dir),
    contractId: 'ctr_bench_dp_joins',
    grants,
    catalog: policies.catalog,
    policyK: 10,
    pseudonymKey: Buffer.alloc(32, 3),
    noiseKey: Buffer.alloc(32, 4),
    unitKeySalt: 97n,
  });
  const setupMs = performance.now() - t0;
  const contract = { mode: 'dp' as const, datasets: grants, snapshot: snap };
  const schema = await contractSchema(policies, contract);
  const policy = contractSqlPolicy(policies, contract);
  const parser = await SqlParser.create();
  const binder = await SchemaBinder.create();
  await warmRunners(2, { startNow: true });
  const terms = releaseTerms(
    {
      disclosure: { minUnits: 10, maxRows: 10_000 },
      privacyBudget: { epsilon: 10, epsilonPerQuery: 1 } as never,
    },
    policies,
  );
  const { maxSqlBytes: _m, ...limits } = policies.sandbox.limits;
  const ask = (q: (typeof QUERIES)[number]) =>
    evaluateQuery(
      { parser, binder },
      {
        sql: q.sql,
        mode: 'dp',
        policy,
        schema: { key: 'bench', tables: schema },
        maxSqlBytes: 65_536,
        dominanceN: policies.disclosure.dominance.n,
        dp: { bounds: { cost: q.costBounds }, ...q.contribution },
        dataDir: dir,
        snapshotFile: path.basename(snap.file),
        tmpDir: path.join(dir, 'tmp'),
        limits,
        terms,
      },
    );
  const plain = await openInstance(snap.file, {
    access_mode: 'READ_ONLY',
    threads: String(limits.threads),
    memory_limit: limits.memoryLimit,
  });
  const results = [];
  for (const q of QUERIES) {
    const exact = await withConnection(plain, (c) => queryRows<Record<string, string | number>>(c, exactSql(q.keys)));
    const truth = new Map(exact.map((r) => [q.keys.map((k) => String(r[k])).join('|'), r]));
    const { decision } = await ask(q);
    if (decision.decision !== 'released')
      throw new Error(`${q.name}: ${decision.decision} ${decision.reasons.join('; ')}`);
    const at = (name: string) => decision.columns.findIndex((c) => c.name === name);
    const errors = { visits: [] as number[], mean_cost: [] as number[] };
    let cells = 0;
    for (const row of decision.rows) {
      const t = truth.get(q.keys.map((k) => String(row[at(k)])).join('|'));
      if (!t || Number(t.people) < 100) continue;
      cells++;
      for (const m of ['visits', 'mean_cost'] as const)
        errors[m].push(Math.abs(Number(row[at(m)]) - Number(t[m])) / Math.abs(Number(t[m])));
    }
    // time: the dp job's whole path against the plain join, alternating
    const dpMs: number[] = [];
    const plainMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      let s = performance.now();
      await withConnection(plain, (c) => queryRows(c, q.sql));
      plainMs.push(performance.now() - s);
      s = performance.now();
      await ask(q);
      dpMs.push(performance.now() - s);
    }
    results.push({
      name: q.name,
      contribution: q.contribution,
      costBounds: q.costBounds,
      sql: q.sql,
      cellsOfAtLeast100People: cells,
      cellsShown: decision.rows.length,
      medianRelativeError: {
        visits: +median(errors.visits).toFixed(5),
        meanCost: +median(errors.mean_cost).toFixed(5),
      },
      p95RelativeError: { visits: +p95(errors.visits).toFixed(5), meanCost: +p95(errors.mean_cost).toFixed(5) },
      plainMs: Math.round(median(plainMs)),
      dpMs: Math.round(median(dpMs)),
      ratio: +(median(dpMs) / median(plainMs)).toFixed(2),
    });
  }
  plain.closeSync();
  parser.dispose();
  binder.dispose();
  disposeRunners();
  console.log(
    JSON.stringify(
      {
        machine: { cpus: os.cpus().length, node: process.version },
        rows,
        setupMs: Math.round(setupMs),
        epsilonPerQuery: 1,
        queries: results,
        targets: { medianRelativeError: 0.05, ratio: 2 },
        allWithinTarget: results.every(
          (r) => r.medianRelativeError.visits <= 0.05 && r.medianRelativeError.meanCost <= 0.05 && r.ratio <= 2,
        ),
      },
      null,
      2,
    ),
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
