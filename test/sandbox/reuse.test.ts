import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { exec, openInstance, withConnection } from '../../src/duckdb/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import {
  configureOsSandbox,
  disposeRunners,
  forgetRunners,
  runInSandbox,
  warmRunners,
  type SandboxLimits,
} from '../../src/sandbox/index.ts';
import { tmpDataDir, until } from '../helpers.ts';

const limits: SandboxLimits = {
  ...loadPolicies(path.join(PACKAGE_ROOT, 'policies')).sandbox.limits,
  timeoutMs: 20_000,
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A runner process serves one contract's jobs one after another (a fresh DuckDB instance each),
 * and never another contract's; one that was killed, or ran with a layer off, never serves again;
 * a contract's end kills the runners kept for it (docs/architecture.md §11).
 */
describe('runner processes reused within a contract only', () => {
  const tmp = tmpDataDir('pds-reuse-');
  const slots = path.join(tmp.dir, 'slots');
  const snap = (name: string) => path.join(tmp.dir, `${name}.duckdb`);
  let n = 0;
  const run = (snapshot: string, sql = 'SELECT count(*) AS n FROM t', l: Partial<SandboxLimits> = {}, opts = {}) =>
    runInSandbox(
      { snapshotFile: snap(snapshot), tempDir: path.join(tmp.dir, `job-${n++}`), sql, limits: { ...limits, ...l } },
      opts,
    );

  beforeAll(async () => {
    for (const [name, rows] of [
      ['a', 10],
      ['b', 20],
    ] as const) {
      const db = await openInstance(snap(name));
      await withConnection(db, (c) => exec(c, `CREATE TABLE t AS SELECT range AS i FROM range(${rows})`));
      db.closeSync();
    }
    await configureOsSandbox('bwrap');
    await warmRunners(1, { slotsDir: slots, startNow: true });
  });
  afterAll(() => {
    disposeRunners();
    tmp.cleanup();
  });

  it("runs a contract's next job in the same process, another contract's in another", async () => {
    const a1 = await run('a');
    expect(a1.rows).toEqual([[10]]);
    const a2 = await run('a');
    expect(a2.runnerPid).toBe(a1.runnerPid);
    const b1 = await run('b');
    expect(b1.rows).toEqual([[20]]);
    expect(b1.runnerPid).not.toBe(a1.runnerPid);
    const a3 = await run('a');
    expect(a3.runnerPid).toBe(a1.runnerPid);
    expect(a3.rows).toEqual([[10]]);
  });

  it("opens each job's instance with that job's own limits, also when the runner opened the next one ahead", async () => {
    const settings = "SELECT current_setting('memory_limit') AS m";
    const first = await run('a', settings, { memoryLimit: '256MB' });
    // the runner opened the next instance the first job's way; this job asks for another
    const second = await run('a', settings, { memoryLimit: '96MB' });
    const third = await run('a', settings, { memoryLimit: '96MB' });
    expect(new Set([first.runnerPid, second.runnerPid, third.runnerPid]).size).toBe(1);
    expect(second.rows[0]![0]).not.toBe(first.rows[0]![0]);
    expect(third.rows).toEqual(second.rows);
    expect(String(second.rows[0]![0])).toMatch(/^9[0-9.]* MiB$/);
  });

  it("leaves nothing of a job in the runner's work directory for the next", async () => {
    // a sort too big for its memory spills to the work directory
    await run('a', 'SELECT i, count(*) AS n FROM (SELECT i FROM t, range(200000) r(j)) GROUP BY i ORDER BY i', {
      memoryLimit: '32MB',
    }).catch(() => undefined);
    const kept = fs.readdirSync(slots).map((d) => path.join(slots, d));
    const parked = kept.filter((d) => fs.existsSync(path.join(d, 'in', 'snapshot.duckdb')));
    expect(parked.length).toBeGreaterThan(0);
    for (const d of parked) expect(fs.readdirSync(path.join(d, 'work'))).toEqual([]);
  });

  it('never reuses a runner that died mid-job, or that ran with a layer off', async () => {
    const before = (await run('a')).runnerPid!;
    // the next job of the contract takes the kept runner; it dies under it (an OOM kill, a crash)
    const slow = run('a', 'SELECT count(*) FROM range(100000000000) r(i) WHERE i % 7 = 3');
    await new Promise((r) => setTimeout(r, 300));
    process.kill(before, 'SIGKILL');
    await expect(slow).rejects.toMatchObject({ code: 'ERR_LIMIT_EXCEEDED' });
    const after = (await run('a')).runnerPid!;
    expect(after).not.toBe(before);
    // the engine's own interrupt answers: that runner is whole, and serves the contract again
    await expect(
      run('a', 'SELECT count(*) FROM range(100000000000) r(i) WHERE i % 7 = 3', { timeoutMs: 300 }),
    ).rejects.toMatchObject({
      code: 'ERR_LIMIT_EXCEEDED',
    });
    expect((await run('a')).runnerPid).toBe(after);
    const off = (await run('a', undefined, {}, { processLayer: false })).runnerPid!;
    await until('a runner without the process layer ends with its job', () => !alive(off));
    const engineOff = await runInSandbox({
      snapshotFile: snap('a'),
      tempDir: path.join(tmp.dir, `job-${n++}`),
      sql: 'SELECT 1',
      limits,
      engineLayer: false,
    });
    await until('a runner without the engine layer ends with its job', () => !alive(engineOff.runnerPid!));
  });

  it("a contract's end kills its kept runners and drops their link to the snapshot", async () => {
    const pid = (await run('b')).runnerPid!;
    expect(fs.statSync(snap('b')).nlink).toBeGreaterThan(1); // the parked runner's slot links it
    forgetRunners(snap('b'));
    await until('the runner kept for b is gone', () => !alive(pid));
    expect(fs.statSync(snap('b')).nlink).toBe(1);
  });
});
