import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { exec, openInstance, queryRows, withConnection } from '../../src/duckdb/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import {
  configureOsSandbox,
  disposeRunners,
  runInSandbox,
  runnerEvents,
  warmRunners,
  type SandboxLimits,
} from '../../src/sandbox/index.ts';
import { planScans, scannedTables, startWarmUp, warmUpSql } from '../../src/sandbox/warm-up.ts';
import { tmpDataDir } from '../helpers.ts';

const limits: SandboxLimits = {
  ...loadPolicies(path.join(PACKAGE_ROOT, 'policies')).sandbox.limits,
  timeoutMs: 20_000,
};

const JOIN =
  "SELECT p.district, count(*) AS n FROM people p JOIN visits v ON p.id = v.person WHERE v.kind = 'x' GROUP BY p.district ORDER BY p.district";

/**
 * A contract's next instance is warmed with the columns its last job scanned, by a query of the
 * runner's own, and a job that comes stops the warm-up (docs/architecture.md §11).
 */
describe('the next instance, warmed while the runner waits', () => {
  const tmp = tmpDataDir('pds-warm-');
  const file = path.join(tmp.dir, 'snap.duckdb');
  let n = 0;
  const run = (sql = JOIN) =>
    runInSandbox({ snapshotFile: file, tempDir: path.join(tmp.dir, `job-${n++}`), sql, limits });

  beforeAll(async () => {
    const db = await openInstance(file);
    await withConnection(db, (c) =>
      exec(
        c,
        `CREATE TABLE people AS SELECT i AS id, 'd' || (i % 3) AS district, i % 2 AS gender, 'unread' AS note FROM range(300000) r(i);
         CREATE TABLE visits AS SELECT i % 300000 AS person, CASE WHEN i % 4 = 0 THEN 'x' ELSE 'y' END AS kind FROM range(600000) r(i);`,
      ),
    );
    db.closeSync();
    await configureOsSandbox('bwrap');
    await warmRunners(1, { slotsDir: path.join(tmp.dir, 'slots'), startNow: true });
  });
  afterAll(() => {
    disposeRunners();
    tmp.cleanup();
  });

  it("finds each scanned table's projected and filtered columns in DuckDB's plan", async () => {
    const db = await openInstance(file, { access_mode: 'READ_ONLY' });
    try {
      const scans = await withConnection(db, (c) => planScans(c, JOIN));
      const byTable = Object.fromEntries(scans.map((s) => [s.table, [...s.columns].sort()]));
      expect(byTable.people).toEqual(['district', 'id']);
      // the filter's column is read by the scan though not projected; the literal names nothing
      expect(byTable.visits).toContain('kind');
      expect(byTable.visits).toContain('person');
      expect(byTable.visits).not.toContain('x');
      expect(byTable.people).not.toContain('note');
    } finally {
      db.closeSync();
    }
  });

  it('reads nothing from a plan without scans, and quotes every name it reads', () => {
    expect(scannedTables([{ name: 'PROJECTION', children: [{ name: 'DUMMY_SCAN', children: [] }] }])).toEqual([]);
    expect(scannedTables('not a plan')).toEqual([]);
    expect(warmUpSql('snapshot', 'we"ird', ['a"b'])).toBe(
      'SELECT bit_xor(hash("a""b")) FROM "snapshot".main."we""ird"',
    );
  });

  it('warms only columns the table has, and stops at once when asked', async () => {
    const db = await openInstance(':memory:');
    try {
      await withConnection(db, (c) => exec(c, `ATTACH '${file}' AS snapshot (READ_ONLY)`));
      const full = startWarmUp(db, 'snapshot', [
        { table: 'people', columns: ['id', 'district', 'gender_typo'] },
        { table: 'nowhere', columns: ['x'] },
      ]);
      await full.done;
      expect(full.warmed).toEqual(['people']);
      const stopped = startWarmUp(db, 'snapshot', [{ table: 'visits', columns: ['person', 'kind'] }]);
      await stopped.stop();
      expect(stopped.warmed.length).toBeLessThanOrEqual(1);
      // the instance answers after a stopped warm-up
      const [row] = await withConnection(db, (c) =>
        queryRows<{ n: number }>(c, 'SELECT count(*)::INTEGER AS n FROM snapshot.main.visits'),
      );
      expect(row!.n).toBe(600000);
    } finally {
      db.closeSync();
    }
  });

  it("reads the last job's tables into the next instance, and the next job's answer is the same", async () => {
    const warmed = once(runnerEvents, 'warmed');
    const first = await run();
    expect(first.warm).toEqual([]);
    const [pid, tables] = (await warmed) as [number, string[]];
    expect(pid).toBe(first.runnerPid);
    expect([...tables].sort()).toEqual(['people', 'visits']);
    const second = await run();
    expect(second.runnerPid).toBe(first.runnerPid);
    expect([...second.warm].sort()).toEqual(['people', 'visits']);
    expect(second.rows).toEqual(first.rows);
  });

  it('a job that comes during the warm-up stops it and runs at once, with the same answer', async () => {
    const first = await run();
    // sent the moment the first answered: the runner is still planning or reading
    const [second, third] = [await run('SELECT count(*) AS n FROM visits'), await run()];
    expect(second.runnerPid).toBe(first.runnerPid);
    expect(Number(second.rows[0]![0])).toBe(600000);
    expect(third.rows).toEqual(first.rows);
  });
});
