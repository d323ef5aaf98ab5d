/**
 * The OS layer's cost (issue 21): one small query through a runner, with the runner inside
 * bubblewrap (namespaces, seccomp, a bound root) and without, in the same run, in alternating
 * blocks so drift hits both alike. Two starts: from a warm spare (as a server runs: the spare was
 * started, confined, before the job came) and cold (no spare: the process starts on the job's
 * path). Prints JSON.
 * Usage: npm run bench:sandbox (after bench/run.ts), or node --import tsx bench/os-layer.ts [--runs N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/config/index.ts';
import { domainPath, seedDomain } from '../src/domain/index.ts';
import { buildSnapshot, resolveGrants } from '../src/masking/index.ts';
import { loadPolicies } from '../src/policies/index.ts';
import { configureOsSandbox, disposeRunners, runInSandbox, warmRunners } from '../src/sandbox/index.ts';
import { percentiles } from './sandbox.ts';

const argRuns = process.argv.indexOf('--runs');
const runs = argRuns > 0 ? Number(process.argv[argRuns + 1]) : 40;
const BLOCK = 5;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-bench-os-'));
try {
  const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
  await seedDomain(dir, { rows: 10_000, seed: 1 });
  const grants = resolveGrants(policies.catalog, policies.masking, [
    { dataset: 'population', columns: ['district', 'education', 'income'] },
  ]);
  const snap = await buildSnapshot({
    dataDir: dir,
    domainFile: domainPath(dir),
    contractId: 'ctr_bench_os',
    grants,
    catalog: policies.catalog,
    policyK: 10,
    pseudonymKey: Buffer.alloc(32, 1),
  });
  const sql = 'SELECT district, count(*) AS n, avg(income) AS mean_income FROM population GROUP BY district';
  const limits = policies.sandbox.limits;
  const slotsDir = path.join(dir, 'tmp', 'runners');
  let n = 0;
  const once = async (): Promise<number> => {
    const t = performance.now();
    await runInSandbox({ snapshotFile: snap.file, tempDir: path.join(dir, 'tmp', `run-${n++}`), sql, limits });
    return performance.now() - t;
  };

  const times = {
    confinedWarm: [] as number[],
    bareWarm: [] as number[],
    confinedCold: [] as number[],
    bareCold: [] as number[],
  };
  // once per process: the start-up check that a confined runner loads DuckDB and answers
  const t0 = performance.now();
  await configureOsSandbox('bwrap');
  const probeMs = Math.round(performance.now() - t0);
  for (let done = 0; done < runs; done += BLOCK) {
    for (const setting of ['bwrap', 'off'] as const) {
      await configureOsSandbox(setting);
      // warm: a spare waits, started in the same layer, as on a server between jobs
      await warmRunners(1, { slotsDir, startNow: true });
      for (let i = 0; i < BLOCK; i++) {
        await new Promise((r) => setTimeout(r, 400)); // the spare is replaced between jobs
        times[setting === 'bwrap' ? 'confinedWarm' : 'bareWarm'].push(await once());
      }
      disposeRunners();
      for (let i = 0; i < BLOCK; i++) times[setting === 'bwrap' ? 'confinedCold' : 'bareCold'].push(await once());
    }
  }
  const p = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, percentiles(v)]));
  const status = await configureOsSandbox('bwrap');
  console.log(
    JSON.stringify(
      {
        osLayer: status,
        query: sql,
        snapshotRows: 10_000,
        runsEach: runs,
        note: 'ms per run through runInSandbox (runner start or spare hand-over, attach, query, result); p50 over alternating blocks',
        ms: p,
        addedMsP50: {
          warm: Math.round((p.confinedWarm!.p50 - p.bareWarm!.p50) * 10) / 10,
          cold: Math.round((p.confinedCold!.p50 - p.bareCold!.p50) * 10) / 10,
        },
        ratioP50: {
          warm: +(p.confinedWarm!.p50 / p.bareWarm!.p50).toFixed(2),
          cold: +(p.confinedCold!.p50 / p.bareCold!.p50).toFixed(2),
        },
        startupProbeMs: probeMs,
      },
      null,
      2,
    ),
  );
} finally {
  disposeRunners();
  fs.rmSync(dir, { recursive: true, force: true });
}
