/**
 * Benchmarks, printed as JSON, each against a baseline measured in the same run:
 *  - seed:    `pds seed`: N population rows plus the four linked tables, generated in DuckDB,
 *             vs a plain CREATE TABLE AS SELECT of N rows of the population's width (12 columns)
 *             into a file database (ratio = how much realism and linkage cost); target ≤ 60 s at 10 M;
 *  - job:     one aggregate job through the whole sandbox path (static analysis, rewrite, a fresh
 *             runner process with a locked-down DuckDB, disclosure control) vs two baselines on
 *             raw DuckDB over the same snapshot: the operator's query as written (what the whole
 *             service costs) and the rewritten query with its distinct-unit count (what the
 *             isolation alone costs: parse, process hop, attach, lockdown).
 * Usage: npm run bench [-- --rows N] [-- --job-rows M] (defaults: 10,000,000 seed rows; 1,000,000 for the job)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/config/index.ts';
import { applyDisclosureControl } from '../src/disclosure/index.ts';
import { domainPath, seedDomain } from '../src/domain/index.ts';
import { buildSnapshot, resolveGrants } from '../src/masking/index.ts';
import { loadPolicies } from '../src/policies/index.ts';
import { analyseQuery, disposeRunners, functionAllowlist, runInSandbox, SqlParser, sqlPolicy, warmRunners } from '../src/sandbox/index.ts';
import { exec, openInstance, queryRows, withConnection } from '../src/store/index.ts';

const argRows = process.argv.indexOf('--rows');
const rows = argRows > 0 ? Number(process.argv[argRows + 1]) : 10_000_000;
const argJob = process.argv.indexOf('--job-rows');
const jobRows = argJob > 0 ? Number(process.argv[argJob + 1]) : 1_000_000;
const runs = 5;

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-bench-'));
try {
  const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));

  // seed vs plain CTAS of the same shape (12 columns)
  const [seedMs, versions] = await time(() => seedDomain(dir, { rows, seed: 1 }));
  const baseline = await openInstance(path.join(dir, 'baseline.duckdb'), { threads: '2', preserve_insertion_order: 'false' });
  const [ctasMs] = await time(() => withConnection(baseline, (c) => exec(c, `CREATE TABLE t AS SELECT i::VARCHAR AS a, 'x' || i AS b, i % 2 AS c,
    DATE '2000-01-01' + (i % 9000)::INTEGER AS d, 'e' AS e, (13800000000 + i)::VARCHAR AS f, 'addr' || i AS g, 'dist' || (i % 10) AS h,
    'u' AS j, 'k' AS k, (i * 1.5)::DOUBLE AS l, 'm' AS m FROM range(${rows}) t(i)`)));
  baseline.closeSync();

  // a snapshot of the whole population: 2 pseudonymized and 4 generalized columns, vs a plain CTAS of the same columns
  const snapGrants = resolveGrants(policies.catalog, policies.masking, [{
    dataset: 'population', columns: ['id_number', 'phone', 'birth_date', 'address', 'income', 'ethnicity'],
    masking: { id_number: 'pseudonymize', phone: 'pseudonymize', birth_date: 'generalize:age-band:10', address: 'generalize:district', income: 'generalize:range:10000', ethnicity: 'rare-to-other:10' },
  }]);
  const [snapMs, bigSnap] = await time(() => buildSnapshot({ dataDir: dir, domainFile: domainPath(dir), contractId: 'ctr_bench_snapshot', grants: snapGrants, catalog: policies.catalog, policyK: 10, pseudonymKey: Buffer.alloc(32, 2) }));
  fs.rmSync(bigSnap.file, { force: true });
  const plain = await openInstance(path.join(dir, 'plain-copy.duckdb'), { threads: '2' });
  const [copyMs] = await time(() => withConnection(plain, async (c) => {
    await exec(c, `ATTACH '${domainPath(dir)}' AS domain (READ_ONLY)`);
    await exec(c, 'CREATE TABLE population AS SELECT id_number, phone, birth_date, address, income, ethnicity FROM domain.population');
    await exec(c, 'CHECKPOINT');
  }));
  plain.closeSync();

  // one aggregate job: the sandbox path vs raw DuckDB on the same snapshot (a smaller domain)
  if (jobRows !== rows) await seedDomain(dir, { rows: jobRows, seed: 1 });
  const grants = resolveGrants(policies.catalog, policies.masking, [{ dataset: 'population', columns: ['district', 'education', 'income'] }]);
  const snap = await buildSnapshot({ dataDir: dir, domainFile: domainPath(dir), contractId: 'ctr_bench', grants, catalog: policies.catalog, policyK: 10, pseudonymKey: Buffer.alloc(32, 1) });
  const sql = 'SELECT district, education, count(*) AS n, avg(income) AS avg_income FROM population GROUP BY ALL';
  const parser = await SqlParser.create();
  warmRunners(1);
  await new Promise((r) => setTimeout(r, 1000)); // as in a running server: a spare is ready
  const sandboxMs: number[] = [];
  const rawMs: number[] = [];
  const rawRewrittenMs: number[] = [];
  let rewritten = '';
  const raw = await openInstance(snap.file, { access_mode: 'READ_ONLY', threads: String(policies.sandbox.limits.threads) });
  for (let i = 0; i < runs; i++) {
    const [s] = await time(async () => {
      const a = await analyseQuery(parser, sql, 'aggregate', sqlPolicy({ population: snap.tables.population!.columns }, [], 'pds_unit', functionAllowlist(policies.sqlAllowlist)));
      rewritten = a.sql;
      const res = await runInSandbox({ snapshotFile: snap.file, tempDir: path.join(dir, 'tmp', String(i)), sql: a.sql, limits: policies.sandbox.limits });
      return applyDisclosureControl(res, { unitsColumn: a.unitsColumn!, minUnits: 10, maxRows: 10000 });
    });
    sandboxMs.push(s);
    const [r] = await time(() => withConnection(raw, (c) => queryRows(c, sql)));
    rawMs.push(r);
    const [rr] = await time(() => withConnection(raw, (c) => queryRows(c, rewritten)));
    rawRewrittenMs.push(rr);
    await new Promise((res) => setTimeout(res, 700)); // jobs arrive apart; the spare is replaced meanwhile
  }
  raw.closeSync();
  parser.dispose();
  disposeRunners();

  const totalRows = Object.values(versions).reduce((a, v) => a + v.rows, 0);
  const seedStats = {
    populationRows: rows, allTablesRows: totalRows, tables: Object.fromEntries(Object.values(versions).map((v) => [v.dataset, v.rows])),
    ms: Math.round(seedMs), baselineCtasMs: Math.round(ctasMs), ratio: +(seedMs / ctasMs).toFixed(2),
    targetMs: 60_000, withinTarget: rows !== 10_000_000 ? null : seedMs <= 60_000,
  };
  const sb = stats(sandboxMs);
  const rw = stats(rawMs);
  const rr = stats(rawRewrittenMs);
  console.log(JSON.stringify({
    machine: { cpus: os.cpus().length, node: process.version },
    seed: seedStats,
    snapshot: {
      rows, columns: '2 pseudonymized (id_number, phone), 4 generalized (age band, district, income range, rare ethnicity → 其他), plus pds_unit; risk metrics included',
      ms: Math.round(snapMs), baselineCtasMs: Math.round(copyMs), ratio: +(snapMs / copyMs).toFixed(2), target: 3,
    },
    job: {
      snapshotRows: jobRows,
      runs,
      sandboxMs: { min: Math.round(sb.min), median: Math.round(sb.median), max: Math.round(sb.max) },
      rawDuckdbMs: { min: Math.round(rw.min), median: Math.round(rw.median), max: Math.round(rw.max) },
      rawDuckdbRewrittenMs: { min: Math.round(rr.min), median: Math.round(rr.median), max: Math.round(rr.max) },
      ratioToRaw: +(sb.median / rw.median).toFixed(2),
      ratioToRawRewritten: +(sb.median / rr.median).toFixed(2),
      isolationOverheadMs: Math.round(sb.median - rr.median),
    },
  }, null, 2));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
