/**
 * Benchmarks, printed as JSON, each against a baseline measured in the same run:
 *  - seed:    `pds seed`: N population rows plus the four linked tables, generated in DuckDB,
 *             vs a plain CREATE TABLE AS SELECT of N rows of the population's width (12 columns)
 *             into a file database (ratio = how much realism and linkage cost); target ≤ 60 s at 10 M;
 *  - sandbox: the whole sandbox path vs the same query in a plain DuckDB connection on the same
 *             snapshot (bench/sandbox.ts): p50 ms added for a small query on a 10,000-row snapshot,
 *             and the ratio for an aggregate over the full N-row snapshot (target ≤ 1.10).
 * Usage: npm run bench [-- --rows N] (default 10,000,000)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/config/index.ts';
import { domainPath, seedDomain } from '../src/domain/index.ts';
import { buildSnapshot, resolveGrants, snapshotSchema, type SnapshotInfo } from '../src/masking/index.ts';
import { loadPolicies } from '../src/policies/index.ts';
import { disposeRunners, warmRunners } from '../src/sandbox/index.ts';
import { exec, openInstance, withConnection } from '../src/store/index.ts';
import { benchSandbox } from './sandbox.ts';

const argRows = process.argv.indexOf('--rows');
const rows = argRows > 0 ? Number(process.argv[argRows + 1]) : 10_000_000;
const smallRows = 10_000;
const smallRuns = 21;
const bigRuns = 9;
// this VM's own spread for a 10 M-row build is ±20 % run to run (memory first touched costs most):
// five alternating pairs, so one slow moment does not decide the median
const SNAPSHOT_RUNS = 5;

function uniqueTables(snap: SnapshotInfo): string[] {
  return Object.entries(snap.tables)
    .filter(([, v]) => v.units === v.rows)
    .map(([t]) => t);
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
  const baseline = await openInstance(path.join(dir, 'baseline.duckdb'), {
    threads: '2',
    preserve_insertion_order: 'false',
  });
  const [ctasMs] = await time(() =>
    withConnection(baseline, (c) =>
      exec(
        c,
        `CREATE TABLE t AS SELECT i::VARCHAR AS a, 'x' || i AS b, i % 2 AS c,
    DATE '2000-01-01' + (i % 9000)::INTEGER AS d, 'e' AS e, (13800000000 + i)::VARCHAR AS f, 'addr' || i AS g, 'dist' || (i % 10) AS h,
    'u' AS j, 'k' AS k, (i * 1.5)::DOUBLE AS l, 'm' AS m FROM range(${rows}) t(i)`,
      ),
    ),
  );
  baseline.closeSync();

  // a snapshot of the whole population: 2 pseudonymized and 4 generalized columns, vs a plain CTAS of the same columns
  const snapGrants = resolveGrants(policies.catalog, policies.masking, [
    {
      dataset: 'population',
      columns: ['id_number', 'phone', 'birth_date', 'address', 'income', 'ethnicity'],
      masking: {
        id_number: 'pseudonymize',
        phone: 'pseudonymize',
        birth_date: 'generalize:age-band:10',
        address: 'generalize:district',
        income: 'generalize:range:10000',
        ethnicity: 'rare-to-other:10',
      },
    },
  ]);
  // as the bureau's decision builds it: record keys, domain unit keys and the measure-noise key;
  // built and copied alternately, medians of SNAPSHOT_RUNS, so a busy moment does not decide the ratio
  const build = (i: number) =>
    buildSnapshot({
      dataDir: dir,
      domainFile: domainPath(dir),
      contractId: `ctr_bench_snapshot_${i}`,
      grants: snapGrants,
      catalog: policies.catalog,
      policyK: 10,
      pseudonymKey: Buffer.alloc(32, 2),
      noiseKey: Buffer.alloc(32, 3),
      recordKeySalt: 0x1234_5678_9abcn,
      unitKeySalt: 0x2468_ace0n,
    });
  const copy = async (i: number) => {
    const file = path.join(dir, `plain-copy-${i}.duckdb`);
    const plain = await openInstance(file, { threads: '2' });
    const [ms] = await time(() =>
      withConnection(plain, async (c) => {
        await exec(c, `ATTACH '${domainPath(dir)}' AS domain (READ_ONLY)`);
        await exec(
          c,
          'CREATE TABLE population AS SELECT id_number, phone, birth_date, address, income, ethnicity FROM domain.population',
        );
        await exec(c, 'CHECKPOINT');
      }),
    );
    plain.closeSync();
    fs.rmSync(file, { force: true });
    return ms;
  };
  const snapRuns: number[] = [];
  const copyRuns: number[] = [];
  let bigSnap: SnapshotInfo | undefined;
  for (let i = 0; i < SNAPSHOT_RUNS; i++) {
    copyRuns.push(await copy(i));
    const [ms, snap] = await time(() => build(i));
    snapRuns.push(ms);
    if (bigSnap) fs.rmSync(snap.file, { force: true });
    else bigSnap = snap;
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const snapMs = median(snapRuns);
  const copyMs = median(copyRuns);

  // sandbox overhead: a small query on a small snapshot, and an aggregate over the full snapshot
  await warmRunners(2, { startNow: true }); // as a server with the default EXECUTOR_CONCURRENCY=2 keeps them
  await new Promise((r) => setTimeout(r, 1500));
  const big = await benchSandbox(policies, {
    snapshotFile: bigSnap!.file,
    tables: { population: bigSnap!.tables.population!.columns },
    schema: await snapshotSchema(snapGrants, policies.catalog),
    uniqueUnitTables: uniqueTables(bigSnap!),
    runs: bigRuns,
    tmpDir: path.join(dir, 'tmp'),
    sql: 'SELECT birth_date AS age_band, ethnicity, count(*) AS people FROM population GROUP BY ALL',
  });
  fs.rmSync(bigSnap!.file, { force: true });
  const smallDir = path.join(dir, 'small');
  await seedDomain(smallDir, { rows: smallRows, seed: 1 });
  const smallGrants = resolveGrants(policies.catalog, policies.masking, [
    { dataset: 'population', columns: ['district', 'education', 'income'] },
  ]);
  const smallSnap = await buildSnapshot({
    dataDir: smallDir,
    domainFile: domainPath(smallDir),
    contractId: 'ctr_bench_small',
    grants: smallGrants,
    catalog: policies.catalog,
    policyK: 10,
    pseudonymKey: Buffer.alloc(32, 1),
  });
  const small = await benchSandbox(policies, {
    snapshotFile: smallSnap.file,
    tables: { population: smallSnap.tables.population!.columns },
    schema: await snapshotSchema(smallGrants, policies.catalog),
    uniqueUnitTables: uniqueTables(smallSnap),
    runs: smallRuns,
    tmpDir: path.join(dir, 'tmp'),
    sql: 'SELECT district, count(*) AS n, avg(income) AS mean_income FROM population GROUP BY district',
  });
  disposeRunners();

  const totalRows = Object.values(versions).reduce((a, v) => a + v.rows, 0);
  const seedStats = {
    populationRows: rows,
    allTablesRows: totalRows,
    tables: Object.fromEntries(Object.values(versions).map((v) => [v.dataset, v.rows])),
    ms: Math.round(seedMs),
    baselineCtasMs: Math.round(ctasMs),
    ratio: +(seedMs / ctasMs).toFixed(2),
    targetMs: 60_000,
    withinTarget: rows !== 10_000_000 ? null : seedMs <= 60_000,
  };
  console.log(
    JSON.stringify(
      {
        machine: { cpus: os.cpus().length, node: process.version },
        seed: seedStats,
        snapshot: {
          rows,
          columns:
            '2 pseudonymized (id_number, phone), 4 generalized (age band, district, income range, rare ethnicity → 其他), plus pds_unit, record and unit keys; risk metrics and the file hash included',
          ms: Math.round(snapMs),
          baselineCtasMs: Math.round(copyMs),
          runs: { snapshotMs: snapRuns.map(Math.round), ctasMs: copyRuns.map(Math.round) },
          runsNote:
            "the first build counts the dataset's units; the later ones reuse the count, as every later contract on the same dataset version does",
          firstRunRatio: +(snapRuns[0]! / copyRuns[0]!).toFixed(2),
          ratio: +(snapMs / copyMs).toFixed(2),
          target: 2,
        },
        sandbox: {
          note: 'p50 over alternating runs; plain = the same query in a plain DuckDB connection on the same snapshot, same threads and memory limit',
          smallQuery: { snapshotRows: smallRows, ...small },
          aggregate: { snapshotRows: rows, targetRatio: 1.1, ...big },
        },
      },
      null,
      2,
    ),
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
