import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/api/index.ts';
import { createPlatform } from '../../src/platform/index.ts';
import { dummyFile, type DummyTable } from '../../src/masking/index.ts';
import { freeBytes } from '../../src/store/index.ts';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import {
  approvedContract,
  buildWorld,
  silentLogger,
  reviewedApplication,
  settledContract,
  testConfig,
  waitForJob,
  type TestWorld,
  TEST_OVERRIDE,
} from '../helpers.ts';

/**
 * A full disk, for real: DATA_DIR on a small tmpfs this test mounts (never the machine's own
 * disk), filled by a file while the API works. Refusals are 507 ERR_STORAGE_FULL naming the
 * directory; nothing is half-written; after space returns every job ends exactly once and the
 * audit trail verifies.
 */

const MIN_FREE = 4 * 1024 * 1024;
const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-tmpfs-'));
try {
  // root may mount (CI runs as root); a machine that refuses fails here, saying why, never skips
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96m,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
} catch (err) {
  throw new Error(`cannot mount a tmpfs for the storage tests (run as root): ${(err as Error).message}`);
}

describe('a full disk under DATA_DIR', () => {
  let world: TestWorld;
  let op: string;
  const filler = path.join(mnt, 'filler');
  const dataDir = path.join(mnt, 'data');

  /** Leaves `left` bytes free on the tmpfs. */
  function fill(left: number): void {
    const free = freeBytes(mnt);
    const fd = fs.openSync(filler, 'a');
    try {
      const chunk = Buffer.alloc(1024 * 1024);
      let toWrite = free - left;
      while (toWrite > 0) {
        const n = Math.min(chunk.length, toWrite);
        fs.writeSync(fd, chunk, 0, n);
        toWrite -= n;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  const unfill = () => fs.rmSync(filler, { force: true });

  beforeAll(async () => {
    world = await buildWorld({ rows: 400, dataDir, config: { minFreeBytes: MIN_FREE, snapshotBuildAttempts: 2 } });
    op = await world.token('operator', 'org-a');
  }, 120_000);
  afterAll(async () => {
    unfill();
    await world?.close();
    execFileSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  });

  const submit = (contractId: string, n = 0) =>
    world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql: `SELECT district, count(*) AS n${n} FROM population GROUP BY district` },
    });

  it('refuses writes with 507 naming the directory, leaves no half-built snapshot, and stays healthy', async () => {
    const contractId = await approvedContract(world);
    // an application ready for its decision, before the disk fills
    const appId = await reviewedApplication(world);

    fill(MIN_FREE / 2);
    try {
      const job = await submit(contractId);
      expect(job.statusCode, job.body).toBe(507);
      expect(job.json()).toMatchObject({ code: 'ERR_STORAGE_FULL' });
      expect(job.json().detail).toContain(dataDir);
      const decision = await world.server.inject({
        method: 'POST',
        url: `/v1/applications/${appId}/decision`,
        headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
        payload: { decision: 'approve', reason: 'ok', override: TEST_OVERRIDE },
      });
      expect(decision.statusCode, decision.body).toBe(507);
      expect(fs.readdirSync(path.join(dataDir, 'snapshots')).filter((f) => f.includes('.building'))).toEqual([]);
      expect((await world.server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      unfill();
    }
    // space is back: the same calls succeed
    expect((await submit(contractId)).statusCode).toBe(202);
  });

  it('dummy data as a file and a dummy run answer 507 under a full disk, leaving no scratch file (issue 32)', async () => {
    const contractId = await approvedContract(world);
    const as = { authorization: `Bearer ${op}` };
    const dummy = (format: string) =>
      world.server.inject({
        method: 'GET',
        url: `/v1/contracts/${contractId}/dummy-data?format=${format}&table=population`,
        headers: as,
      });
    const run = () =>
      world.server.inject({
        method: 'POST',
        url: '/v1/jobs/dummy-run',
        headers: as,
        payload: { contractId, sql: 'SELECT district, count(*) AS n FROM population GROUP BY district' },
      });
    const tmp = path.join(dataDir, 'tmp');
    const scratch = () => (fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((f) => /^(review-)?dummy-/.test(f)) : []);
    fill(0);
    try {
      for (const res of [await dummy('duckdb'), await dummy('parquet'), await run()]) {
        expect(res.statusCode, res.body).toBe(507);
        expect(res.json()).toMatchObject({ code: 'ERR_STORAGE_FULL' });
        expect(res.json().detail).toContain(dataDir);
      }
      expect(scratch()).toEqual([]);
      // JSON writes nothing: it is still served
      const json = await dummy('json');
      expect(json.statusCode, json.body).toBe(200);
      // a disk that fills past the check (no margin asked here): the same refusal, nothing left behind
      const tables = json.json() as Record<string, DummyTable>;
      await expect(dummyFile(tables, 'duckdb', tmp)).rejects.toMatchObject({
        code: 'ERR_STORAGE_FULL',
        extra: { directory: tmp },
      });
      expect(scratch()).toEqual([]);
    } finally {
      unfill();
    }
    expect((await dummy('parquet')).statusCode).toBe(200);
    const ran = await run();
    expect(ran.statusCode, ran.body).toBe(200);
    expect(ran.json().dummy).toMatchObject({ ok: true });
  });

  it('a commit that meets a full disk past the check leaves the store reopened from its file, never an aborted process (issue 32)', async () => {
    // in a process of its own: before, DuckDB aborted it (FatalException, duplicate key on jobs)
    const script = path.join(PACKAGE_ROOT, 'test', 'support', 'failed-commit.ts');
    const filler = path.join(mnt, 'filler-commit');
    const child = spawn(process.execPath, ['--import', 'tsx', script, path.join(mnt, 'failed-commit'), filler], {
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.once('close', (c, s) => resolve([c, s])),
    );
    fs.rmSync(filler, { force: true });
    expect({ code, signal }, err).toEqual({ code: 0, signal: null });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      full: 'ERR_STORAGE_FULL',
      reopened: 1,
      moved: true,
      // the failed commit's move to running is not in the store: only what committed is
      job: { status: 'failed', attempts: 0 },
      // one whose file is gone cannot be reopened: the store is failed (`pds serve` exits 70), not recreated
      gone: 'ERR_STORAGE_FULL',
      failure: 'the control store could not be reopened',
      read: 'ERR_STORE_UNAVAILABLE',
      recreated: false,
    });
  });

  it('jobs caught by a full disk while they run end exactly once after space returns and a restart', async () => {
    const contractId = await approvedContract(world);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await submit(contractId, i);
      expect(res.statusCode, res.body).toBe(202);
      ids.push(res.json().id as string);
    }
    fill(MIN_FREE / 2);
    // let the runs meet the full disk
    await new Promise((r) => setTimeout(r, 1500));
    unfill();
    // restart: a job left running is run again from the store
    await world.server.close();
    await world.platform.close();
    const platform = await createPlatform(
      testConfig(dataDir, { minFreeBytes: MIN_FREE, snapshotBuildAttempts: 2 }),
      silentLogger,
    );
    const server = await createServer(platform, silentLogger);
    Object.assign(world, { platform, server });
    const ends = [];
    for (const id of ids) ends.push(await waitForJob(world, op, id));
    for (const job of ends) expect(['released', 'failed']).toContain(job.status);
    const outputs = await world.platform.store.all<{ job_id: string; n: number }>(
      `SELECT job_id, count(*)::INTEGER AS n FROM outputs WHERE job_id IN (${ids.map((i) => `'${i}'`).join(', ')}) GROUP BY job_id`,
    );
    // each released job has exactly one output, and no other job has any
    expect(outputs.every((o) => o.n === 1)).toBe(true);
    expect(outputs.map((o) => o.job_id).sort()).toEqual(
      ends
        .filter((j) => j.status === 'released')
        .map((j) => String(j.id))
        .sort(),
    );
    const verify = await world.server.inject({
      method: 'GET',
      url: '/v1/audit/verify',
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
    });
    expect(verify.json()).toMatchObject({ ok: true });
  }, 180_000);

  it('a disk that fills while a snapshot builds: retried, then failed with nothing half-written; the bureau retries it once space is back', async () => {
    const appId = await reviewedApplication(world);
    const bureau = await world.token('bureau', 'org-bureau');
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const snapshots = () => fs.readdirSync(path.join(dataDir, 'snapshots')).sort();
    const before = snapshots();
    // a little over the margin: the decision's own write fits, the snapshot build eats into the
    // rest, and the build or the contract's commit after it meets the full disk — every attempt
    fill(MIN_FREE + 300 * 1024);
    let contract: Record<string, unknown>;
    try {
      const decided = await world.server.inject({
        method: 'POST',
        url: `/v1/applications/${appId}/decision`,
        headers: as(bureau),
        payload: { decision: 'approve', reason: 'ok', override: TEST_OVERRIDE },
      });
      expect(decided.statusCode, decided.body).toBe(202);
      contract = await settledContract(world, decided.json().contractId as string);
    } finally {
      unfill();
    }
    const id = String(contract.id);
    expect(contract).toMatchObject({
      status: 'failed',
      notBefore: null,
      build: { phase: 'failed', attempts: 2, error: expect.stringContaining('ERR_STORAGE_FULL') },
    });
    // never half-active: no contract signed, no snapshot kept, no job taken
    expect(snapshots()).toEqual(before);
    expect(await world.platform.store.all('SELECT id FROM contracts WHERE id = $1', [id])).toEqual([]);
    expect((await submit(id)).json()).toMatchObject({ code: 'ERR_CONTRACT_NOT_READY' });
    const jws = await world.server.inject({ method: 'GET', url: `/v1/contracts/${id}/jws`, headers: as(bureau) });
    expect(jws.json()).toMatchObject({ code: 'ERR_CONTRACT_NOT_READY' });

    const retried = await world.server.inject({
      method: 'POST',
      url: `/v1/contracts/${id}/rebuild`,
      headers: as(bureau),
      payload: { reason: '磁盘已扩容' },
    });
    expect(retried.statusCode, retried.body).toBe(202);
    expect(retried.json()).toMatchObject({ status: 'building' });
    expect(await settledContract(world, id)).toMatchObject({ status: 'active', build: null });
    expect((await submit(id)).statusCode).toBe(202);
    const trail = await world.server.inject({
      method: 'GET',
      url: `/v1/audit?objectId=${id}`,
      headers: as(await world.token('risk', 'org-bureau')),
    });
    expect((trail.json().entries as { action: string }[]).map((e) => e.action)).toEqual(
      expect.arrayContaining(['snapshot.build_failed', 'snapshot.build_retried', 'snapshot.built', 'contract.signed']),
    );
  });
});
