/**
 * Join bench (issue 30): linked analyses — residents × their insurance records, residents × insurance × employers,
 * firms × their legal representatives — through the sandbox's whole path against the same query
 * in a plain DuckDB connection on the same snapshot, in the same run.
 *
 * The world is what an aggregate contract on four datasets gets from the bureau's decision: a
 * seeded domain of N people with its linked tables, a snapshot with the identifiers
 * pseudonymized under the contract's key (so they join), unit keys, the default masking of
 * everything else. The sandbox path is the one a job takes (evaluateQuery: the API's plan with
 * the contract's perturbation, a fresh locked-down runner, the outcome check, the release
 * decision); the plain connection has the same threads and memory limit and is opened once.
 * Runs alternate, plain first, so drift hits both alike; figures are medians.
 *
 * Usage: npm run bench:joins [-- --rows N] [-- --runs R] [-- --keep DIR] [-- --only NAME,NAME]
 * (default 10,000,000 people, 5 runs, every query)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/config/index.ts';
import { domainPath, seedDomain } from '../src/domain/index.ts';
import { isPdsError } from '../src/errors/index.ts';
import { contractSchema, contractSqlPolicy, perturbationSpec, releaseTerms } from '../src/jobs/index.ts';
import { evaluateQuery } from '../test/support/evaluate.ts';
import { buildSnapshot, resolveGrants, type SnapshotInfo } from '../src/masking/index.ts';
import { loadPolicies } from '../src/policies/index.ts';
import {
  disposeRunners,
  forgetRunners,
  runnerEvents,
  SchemaBinder,
  SqlParser,
  warmRunners,
} from '../src/sandbox/index.ts';
import { openInstance, queryRows, withConnection } from '../src/store/index.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const ROWS = Number(arg('--rows') ?? 10_000_000);
const RUNS = Number(arg('--runs') ?? 5);
const KEEP = arg('--keep');
const ONLY = arg('--only')?.split(',');
const TARGET_RATIO = 1.5;

/** The suite: two tables and three, filters on one side and both, counts, people, a joined measure, keys from both sides. */
export const JOIN_SUITE: { name: string; what: string; sql: string }[] = [
  // visits are sensitive facts (catalog sensitiveFacts, issue 31): analysed only in dp mode, so the
  // aggregate suite links residents to their insurance records and firms to their representatives
  {
    name: 'insured-by-district',
    what: 'two tables, count of distinct persons, key from one side',
    sql: 'SELECT p.district, count(DISTINCT p.id_number) AS insured FROM population p JOIN social_insurance s ON p.id_number = s.id_number GROUP BY p.district',
  },
  {
    name: 'one-month-one-district',
    what: 'filters on both sides, one count of persons',
    sql: "SELECT count(DISTINCT p.id_number) AS insured FROM population p JOIN social_insurance s ON p.id_number = s.id_number WHERE p.district = '云岩区' AND s.month = $month AND s.base_salary > 8000",
  },
  {
    name: 'records-by-education-and-month',
    what: 'keys from both sides, count of rows and mean of a joined measure',
    sql: 'SELECT p.education, s.month, count(*) AS records, avg(s.base_salary) AS mean_base FROM population p JOIN social_insurance s ON p.id_number = s.id_number GROUP BY p.education, s.month',
  },
  {
    name: 'graduates-per-month',
    what: 'filter on one side, count of distinct persons per key of the other',
    sql: "SELECT s.month, count(DISTINCT s.id_number) AS insured FROM population p JOIN social_insurance s ON p.id_number = s.id_number WHERE p.education = '本科' GROUP BY s.month",
  },
  {
    name: 'firms-by-industry-and-representative',
    what: 'firms × legal representatives, keys from both sides, mean of a measure',
    sql: 'SELECT e.industry, p.education, count(*) AS firms, avg(e.registered_capital) AS mean_capital FROM enterprise e JOIN population p ON e.legal_rep_id_number = p.id_number GROUP BY e.industry, p.education',
  },
  {
    name: 'insured-by-industry-and-gender',
    what: 'three tables, filter on one, count of distinct persons and a mean',
    sql: 'SELECT e.industry, p.gender, count(DISTINCT s.id_number) AS insured, avg(s.base_salary) AS mean_base FROM social_insurance s JOIN population p ON s.id_number = p.id_number JOIN enterprise e ON s.employer_uscc = e.uscc WHERE s.month = $month GROUP BY e.industry, p.gender',
  },
  {
    name: 'payroll-of-women-by-district',
    what: 'filter on one side, sum of a joined measure and a count of rows',
    sql: "SELECT p.district, sum(s.base_salary) AS payroll, count(*) AS records FROM population p JOIN social_insurance s ON p.id_number = s.id_number WHERE p.gender = '女' GROUP BY p.district",
  },
];

const unknownNames = (ONLY ?? []).filter((n) => !JOIN_SUITE.some((q) => q.name === n));
if (unknownNames.length > 0) {
  console.error(
    `--only: no query named ${unknownNames.join(', ')} (the suite: ${JOIN_SUITE.map((q) => q.name).join(', ')})`,
  );
  process.exit(2);
}

/** The runner's `warmed` notice, or a quiet second: a run with nothing to warm (a refusal) sends none. */
function warmedOrIdle(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      runnerEvents.off('warmed', done);
      resolve();
    };
    const timer = setTimeout(done, 30_000);
    runnerEvents.once('warmed', done);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

const dir = KEEP ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pds-bench-joins-'));
try {
  const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
  const limits = policies.sandbox.limits;
  const grants = resolveGrants(
    policies.catalog,
    policies.masking,
    [
      {
        dataset: 'population',
        columns: ['id_number', 'district', 'gender', 'birth_date', 'education'],
        masking: { id_number: 'pseudonymize' },
      },
      {
        dataset: 'enterprise',
        columns: ['uscc', 'legal_rep_id_number', 'industry', 'district', 'registered_capital'],
        masking: { uscc: 'pseudonymize', legal_rep_id_number: 'pseudonymize' },
      },
      {
        dataset: 'social_insurance',
        columns: ['id_number', 'employer_uscc', 'month', 'base_salary'],
        masking: { id_number: 'pseudonymize', employer_uscc: 'pseudonymize' },
      },
    ],
    'aggregate',
  );
  const snapshotRecord = path.join(dir, 'bench-joins-snapshot.json');
  let snap: SnapshotInfo;
  let seedMs = 0;
  let buildMs = 0;
  if (KEEP && fs.existsSync(snapshotRecord)) {
    snap = JSON.parse(fs.readFileSync(snapshotRecord, 'utf8')) as SnapshotInfo;
  } else {
    [seedMs] = await time(() => seedDomain(dir, { rows: ROWS, seed: 1 }));
    [buildMs, snap] = await time(() =>
      buildSnapshot({
        dataDir: dir,
        domainFile: domainPath(dir),
        contractId: 'ctr_bench_joins',
        grants,
        catalog: policies.catalog,
        policyK: 10,
        pseudonymKey: Buffer.alloc(32, 5),
        noiseKey: Buffer.alloc(32, 6),
        unitKeySalt: 0x1357_9bdfn,
      }),
    );
    fs.writeFileSync(snapshotRecord, JSON.stringify(snap));
  }
  const contract = { mode: 'aggregate' as const, datasets: grants, snapshot: snap };
  // the runners' key: the snapshot as the executor opens it (sandbox/execute.ts)
  const snapshotPath = path.join(dir, 'snapshots', path.basename(snap.file));
  const schema = await contractSchema(policies, contract);
  const policy = contractSqlPolicy(policies, contract);
  const perturbation = perturbationSpec(policies, 0x2468n);
  const terms = releaseTerms({ disclosure: { minUnits: 10, maxRows: 10_000 }, privacyBudget: null }, policies);
  const parser = await SqlParser.create();
  const binder = await SchemaBinder.create();
  await warmRunners(2, { startNow: true });
  const plain = await openInstance(snap.file, {
    access_mode: 'READ_ONLY',
    threads: String(limits.threads),
    memory_limit: limits.memoryLimit,
  });
  const results = [];
  try {
    const [month] = await withConnection(plain, (c) =>
      queryRows<{ month: string }>(c, 'SELECT max(month) AS month FROM social_insurance'),
    );
    for (const q of JOIN_SUITE.filter((x) => !ONLY || ONLY.includes(x.name))) {
      const sql = q.sql.replace('$month', `'${month!.month}'`);
      const plainMs: number[] = [];
      const sandboxMs: number[] = [];
      let outcome: { decision: string; rows?: number; code?: string } = { decision: 'none' };
      // the job's whole path; then, before anything else is timed, the runner's warm-up of the
      // contract's next instance is let finish (it would otherwise compete with the plain run)
      const sandboxRun = async (i: number | 'cold') => {
        const warmed = warmedOrIdle();
        const [s, o] = await time(async () => {
          try {
            const { decision } = await evaluateQuery(
              { parser, binder },
              {
                sql,
                mode: 'aggregate',
                policy,
                schema: { key: snap.hash, tables: schema },
                maxSqlBytes: limits.maxSqlBytes,
                dominanceN: policies.disclosure.dominance.n,
                perturbation,
                dataDir: dir,
                snapshotFile: path.basename(snap.file),
                tmpDir: path.join(dir, 'tmp', `run-${q.name}-${i}`),
                limits,
                terms,
              },
            );
            return { decision: decision.decision, rows: decision.decision === 'released' ? decision.rows.length : 0 };
          } catch (err) {
            if (!isPdsError(err)) throw err;
            return { decision: 'refused', code: err.code };
          }
        });
        outcome = o;
        await warmed;
        return s;
      };
      // the contract's first job: a runner that never ran this contract, an instance read cold
      forgetRunners(snapshotPath);
      const coldMs = await sandboxRun('cold');
      for (let i = 0; i < RUNS; i++) {
        const [p] = await time(() => withConnection(plain, (c) => queryRows(c, sql)));
        plainMs.push(p);
        sandboxMs.push(await sandboxRun(i));
      }
      const ratio = +(median(sandboxMs) / median(plainMs)).toFixed(2);
      const result = {
        name: q.name,
        what: q.what,
        sql,
        outcome,
        plainMs: Math.round(median(plainMs)),
        sandboxMs: Math.round(median(sandboxMs)),
        ratio,
        coldSandboxMs: Math.round(coldMs),
        coldRatio: +(coldMs / median(plainMs)).toFixed(2),
        runs: { plainMs: plainMs.map(Math.round), sandboxMs: sandboxMs.map(Math.round) },
        withinTarget: ratio <= TARGET_RATIO && outcome.decision !== 'refused',
        overWallClock: sandboxMs.some((ms) => ms > limits.timeoutMs) || outcome.code === 'ERR_LIMIT_EXCEEDED',
      };
      results.push(result);
      process.stderr.write(
        `${q.name}: plain ${result.plainMs} ms, sandbox ${result.sandboxMs} ms, ×${ratio}, ${outcome.decision}\n`,
      );
    }
  } finally {
    plain.closeSync();
    parser.dispose();
    binder.dispose();
    disposeRunners();
  }
  console.log(
    JSON.stringify(
      {
        machine: { cpus: os.cpus().length, node: process.version },
        joins: {
          people: ROWS,
          tables: Object.fromEntries(Object.entries(snap.tables).map(([t, v]) => [t, v.rows])),
          ...(seedMs ? { seedMs: Math.round(seedMs), snapshotMs: Math.round(buildMs) } : {}),
          limits: { threads: limits.threads, memoryLimit: limits.memoryLimit, timeoutMs: limits.timeoutMs },
          note: "medians of alternating runs; plain = the same SQL in a plain DuckDB connection on the same snapshot, same threads and memory limit; sandbox = plan with perturbation, fresh DuckDB instance in the contract's runner, outcome check, release decision, each run after the runner's warm-up of the next instance finished (docs/architecture.md §11); cold = the contract's first job, a runner and instance that never read it, before the alternating runs",
          targetRatio: TARGET_RATIO,
          queries: results,
          allWithinTarget: results.every((r) => r.withinTarget),
          noneOverWallClock: results.every((r) => !r.overWallClock),
        },
      },
      null,
      2,
    ),
  );
} finally {
  if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
}
