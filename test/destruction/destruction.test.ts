import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/api/index.ts';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import type { DestructionView } from '../../src/destruction/index.ts';
import { createPlatform } from '../../src/platform/index.ts';
import { resolveStored } from '../../src/store/index.ts';
import {
  approvedContract,
  buildWorld,
  runJob,
  silentLogger,
  snapshotFile,
  testConfig,
  tmpDataDir,
  type TestWorld,
} from '../helpers.ts';
import { consoleAs } from '../console/console-http.ts';
import { runPds } from '../support/pds.ts';

const bureauActor = { sub: 'chen@bureau', role: 'bureau', org: 'org-bureau' };
const AGG = 'SELECT district, count(*) AS people FROM population GROUP BY district';

/** Writes the bureau's JWKS beside the test's data, for offline checks. */
async function jwksFile(world: TestWorld): Promise<string> {
  const res = await world.server.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  const file = path.join(world.dataDir, 'jwks.json');
  fs.writeFileSync(file, res.body);
  return file;
}

async function records(world: TestWorld, contractId: string): Promise<DestructionView[]> {
  const res = await world.server.inject({
    method: 'GET',
    url: `/v1/destruction-records?contract=${contractId}`,
    headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
  });
  expect(res.statusCode).toBe(200);
  return res.json().records as DestructionView[];
}

/** Saves a record as the API answers it and checks it with `pds verify-destruction`. */
async function verified(world: TestWorld, r: DestructionView): Promise<{ out: string; code: number; file: string }> {
  const file = path.join(world.dataDir, `${r.id}.json`);
  fs.writeFileSync(file, JSON.stringify(r));
  return { ...(await runPds('verify-destruction', file, '--jwks', await jwksFile(world))), file };
}

async function restart(world: TestWorld): Promise<void> {
  await world.server.close();
  await world.platform.close();
  const platform = await createPlatform(testConfig(world.dataDir), silentLogger);
  const server = await createServer(platform, silentLogger);
  Object.assign(world, { platform, server });
}

describe('destruction records', () => {
  let world: TestWorld;
  let op: string;
  beforeAll(async () => {
    world = await buildWorld();
    op = await world.token('operator', 'org-a');
  }, 60_000);
  afterAll(() => world.close());

  it("a revoked contract's snapshot: deleted with a sealed record, linked from the audit trail, verified offline", async () => {
    const contractId = await approvedContract(world);
    const snapshot = await snapshotFile(world, contractId);
    const bur = await world.token('bureau', 'org-bureau', 'chen@bureau');
    const revoked = await world.server.inject({
      method: 'POST',
      url: `/v1/contracts/${contractId}/revoke`,
      headers: { authorization: `Bearer ${bur}` },
      payload: { reason: '违规使用' },
    });
    expect(revoked.statusCode).toBe(200);
    expect(fs.existsSync(snapshot)).toBe(false);
    const [r, ...more] = await records(world, contractId);
    expect(more).toEqual([]);
    expect(r).toMatchObject({ kind: 'snapshot', why: 'revoked', status: 'done', method: 'unlinked' });
    expect(r!.by.sub).toBe('chen@bureau');
    const hash = (await world.platform.store.one<{ snapshot_hash: string }>(
      'SELECT snapshot_hash FROM contracts WHERE id = $1',
      [contractId],
    ))!.snapshot_hash;
    expect(r!.files[0]).toMatchObject({ sha256: hash, removal: 'unlinked' });
    const audit = await world.platform.store.one<{ details: string }>(
      `SELECT details FROM audit_log WHERE action = 'data.destroyed' AND object_id = $1`,
      [contractId],
    );
    expect(JSON.parse(audit!.details)).toMatchObject({ record: r!.id, recordSha256: r!.jwsSha256 });
    const ok = await verified(world, r!);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`校验通过：${ok.file} 是销毁记录 ${r!.id}`);
    expect(ok.out).toContain('合约撤销 (revoked)');
    // the operator reads its own contract's record; another operator gets 404
    const own = await world.server.inject({
      method: 'GET',
      url: `/v1/destruction-records/${r!.id}`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(own.json()).toMatchObject({ id: r!.id });
    const other = await world.server.inject({
      method: 'GET',
      url: `/v1/destruction-records/${r!.id}`,
      headers: { authorization: `Bearer ${await world.token('operator', 'org-b')}` },
    });
    expect(other.json().code).toBe('ERR_NOT_FOUND');
    // the contract's risk report lists it, in Chinese on its page
    const made = await world.platform.reports.generate({ kind: 'contract', subject: contractId }, bureauActor);
    expect(made!.report.facts?.destructions).toEqual([
      expect.objectContaining({ record: r!.id, kind: 'snapshot', why: 'revoked', recordSha256: r!.jwsSha256 }),
    ]);
    expect(made!.html).toContain('<h2>数据销毁</h2>');
    expect(made!.html).toContain('合约撤销');
    // and the console's contract page, to its operator
    const page = await (
      await consoleAs(world, { role: 'operator', org: 'org-a', sub: 'ana@org-a' })
    ).get(`/console/contracts/${contractId}`);
    expect(page.body).toContain('数据销毁记录');
    expect(page.body).toContain(r!.id);
  });

  it('a tampered record fails, naming what is wrong, exit 1', async () => {
    const [r] = await world.platform.destruction.list({ org: 'org-bureau', roles: ['risk'] });
    const [h, p, s] = r!.jws!.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, why: 'retention' })).toString('base64url')}.${s}`;
    const bad = await verified(world, { ...r!, jws: forged });
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^校验失败：.*ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    const json = await runPds('verify-destruction', bad.file, '--jwks', await jwksFile(world), '--json');
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, code: 'ERR_DESTRUCTION_RECORD_INVALID' });
    expect(json.code).toBe(1);
  });

  it("retention deletes an output's data (every form) past its days, one record each, and leaves the others", async () => {
    const contractId = await approvedContract(world);
    const old = await runJob(world, op, contractId, AGG);
    const fresh = await runJob(world, op, contractId, `${AGG} ORDER BY 1`);
    expect([old.status, fresh.status]).toEqual(['released', 'released']);
    const files = async (id: unknown) => {
      const row = await world.platform.store.one<{ file: string }>('SELECT file FROM outputs WHERE id = $1', [
        String(id),
      ]);
      return world.platform.outputs.dataFiles(resolveStored(world.dataDir, row!.file));
    };
    const oldFiles = await files(old.outputId);
    expect(oldFiles.every((f) => fs.existsSync(f))).toBe(true);
    await world.platform.store.write((tx) =>
      tx.run("UPDATE outputs SET released_at = '2020-01-01T00:00:00.000Z' WHERE id = $1", [String(old.outputId)]),
    );
    expect(await world.platform.housekeeping.dueCounts()).toEqual({ snapshot: 0, output: 1 });
    const done = await world.platform.housekeeping.run();
    expect(done.map((d) => [d.kind, d.subjectId, d.why, d.by.sub])).toEqual([
      ['output', old.outputId, 'retention', 'housekeeping'],
    ]);
    expect(done[0]!.files.map((f) => f.removal)).toEqual(['unlinked', 'unlinked']);
    expect(oldFiles.some((f) => fs.existsSync(f))).toBe(false);
    expect((await files(fresh.outputId)).every((f) => fs.existsSync(f))).toBe(true);
    expect(await world.platform.housekeeping.run()).toEqual([]);
    const data = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${String(old.outputId)}/data`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect([data.statusCode, data.json().code]).toEqual([410, 'ERR_DATA_DESTROYED']);
    expect((await verified(world, done[0]!)).code).toBe(0);
  });

  it('a stop between the record and the unlink is completed at the next start, without a second record', async () => {
    const contractId = await approvedContract(world);
    const job = await runJob(world, op, contractId, AGG);
    const o = (await world.platform.outputs.load(String(job.outputId)))!;
    const bureau = { sub: 'chen@bureau', role: 'bureau', org: 'org-bureau' };
    const staff = { org: 'org-bureau', roles: ['bureau'] };
    // the record commits, then the process stops before unlinking (complete is never called)
    const id = await world.platform.store.write((tx) =>
      world.platform.outputs.planDestruction(tx, o, 'request', bureau),
    );
    expect((await world.platform.destruction.get(staff, id!)).status).toBe('pending');
    expect(fs.existsSync(o.file)).toBe(true);
    await restart(world);
    expect(fs.existsSync(o.file)).toBe(false);
    const after = await records(world, contractId);
    expect(after.filter((r) => r.kind === 'output')).toMatchObject([{ id, status: 'done', why: 'request' }]);
    // a stop after the unlink and before the seal: the restart seals it, saying the files were gone already
    const second = await runJob(world, op, contractId, `${AGG} ORDER BY 1`);
    const o2 = (await world.platform.outputs.load(String(second.outputId)))!;
    const id2 = await world.platform.store.write((tx) =>
      world.platform.outputs.planDestruction(tx, o2, 'request', bureau),
    );
    for (const f of world.platform.outputs.dataFiles(o2.file)) fs.rmSync(f);
    await restart(world);
    const r2 = await world.platform.destruction.get(staff, id2!);
    expect(r2.files.map((f) => f.removal)).toEqual(['gone-before', 'gone-before']);
    await restart(world);
    const n = await world.platform.store.one<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM audit_log WHERE action = 'data.destroyed' AND object_id IN ($1, $2)`,
      [o.id, o2.id],
    );
    expect(n!.n).toBe(2);
    expect((await verified(world, r2)).code).toBe(0);
  }, 60_000);
});

describe('retention of ended contracts (policies/retention.yaml)', () => {
  let world: TestWorld;
  const policies = tmpDataDir('pds-policies-');
  beforeAll(async () => {
    for (const f of fs.readdirSync(path.join(PACKAGE_ROOT, 'policies')))
      fs.copyFileSync(path.join(PACKAGE_ROOT, 'policies', f), path.join(policies.dir, f));
    const file = path.join(policies.dir, 'retention.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('afterExpiredDays: 0', 'afterExpiredDays: 30'));
    world = await buildWorld({ config: { policiesDir: policies.dir, metricsToken: 'metrics-secret' } });
  }, 60_000);
  afterAll(async () => {
    await world.close();
    policies.cleanup();
  });

  const metrics = async () =>
    (
      await world.server.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer metrics-secret' },
      })
    ).body;

  it("keeps an expired contract's snapshot its days, then housekeeping deletes it with a record; metrics show what is due", async () => {
    const contractId = await approvedContract(world);
    const snapshot = await snapshotFile(world, contractId);
    await world.platform.store.write((tx) =>
      tx.run("UPDATE contracts SET expires_at = '2001-01-01T00:00:00.000Z' WHERE id = $1", [contractId]),
    );
    await world.platform.contracts.expireDue();
    expect(fs.existsSync(snapshot)).toBe(true);
    expect(await world.platform.housekeeping.due()).toEqual([]);
    expect(await metrics()).toContain('pds_retention_due{kind="snapshot"} 0');
    // thirty days after the end
    const later = new Date(Date.now() + 31 * 86_400_000);
    expect(await world.platform.housekeeping.dueCounts(later)).toEqual({ snapshot: 1, output: 0 });
    await world.platform.store.write((tx) =>
      tx.run("UPDATE contracts SET status_changed_at = '2001-01-01T00:00:00.000Z' WHERE id = $1", [contractId]),
    );
    expect(await metrics()).toContain('pds_retention_due{kind="snapshot"} 1');
    const [r, ...more] = await world.platform.housekeeping.run();
    expect(more).toEqual([]);
    expect(r).toMatchObject({ kind: 'snapshot', subjectId: contractId, why: 'retention', by: { sub: 'housekeeping' } });
    expect(fs.existsSync(snapshot)).toBe(false);
    const text = await metrics();
    expect(text).toContain('pds_retention_due{kind="snapshot"} 0');
    expect(text).toContain('pds_destruction_records_total{kind="snapshot",why="retention"} 1');
    const file = path.join(world.dataDir, 'record.jws');
    fs.writeFileSync(file, r!.jws!);
    const res = await world.server.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    fs.writeFileSync(path.join(world.dataDir, 'jwks.json'), res.body);
    const ok = await runPds('verify-destruction', file, '--jwks', path.join(world.dataDir, 'jwks.json'), '--json');
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, claims: { why: 'retention', contractId } });
  });
});
