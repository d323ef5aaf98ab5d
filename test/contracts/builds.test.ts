import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from '../../src/api/index.ts';
import { SnapshotBuilds } from '../../src/contracts/index.ts';
import { createPlatform } from '../../src/platform/index.ts';
import {
  buildWorld,
  reviewedApplication,
  settledContract,
  silentLogger,
  testConfig,
  type TestWorld,
  TEST_OVERRIDE,
} from '../helpers.ts';

/**
 * The snapshot of an approved contract is built after the decision answers (docs/architecture.md
 * §17): the contract is `building` until its snapshot is sealed and it is signed; it serves no job
 * before, a stopped server takes the build up again, and a build that cannot finish leaves the
 * contract `failed` — never active, nothing of it kept.
 */
describe('snapshot builds after the decision', () => {
  let world: TestWorld;
  beforeEach(async () => {
    world = await buildWorld({ rows: 1500 });
  }, 60_000);
  afterEach(() => world.close());

  const as = async (role: 'operator' | 'bureau' | 'provider' | 'risk', org: string) => ({
    authorization: `Bearer ${await world.token(role, org)}`,
  });
  const snapshotFiles = () =>
    fs.existsSync(path.join(world.dataDir, 'snapshots')) ? fs.readdirSync(path.join(world.dataDir, 'snapshots')) : [];

  /** A decided contract whose build this server will not run (as if it stopped right after the answer). */
  async function decidedWhileStopped(): Promise<string> {
    await world.platform.builds.close();
    const appId = await reviewedApplication(world);
    const decided = await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${appId}/decision`,
      headers: await as('bureau', 'org-bureau'),
      payload: { decision: 'approve', reason: 'ok', override: TEST_OVERRIDE },
    });
    expect(decided.statusCode, decided.body).toBe(202);
    expect(decided.json()).toMatchObject({
      application: { status: 'approved' },
      contract: { status: 'building', notBefore: null, expiresAt: null, build: { phase: 'waiting', done: 0 } },
    });
    return decided.json().contractId as string;
  }

  async function restart(): Promise<void> {
    await world.server.close();
    await world.platform.close();
    const platform = await createPlatform(testConfig(world.dataDir), silentLogger);
    Object.assign(world, { platform, server: await createServer(platform, silentLogger) });
  }

  it('a building contract serves no job and changes no status, but gives dummy data; a restart builds and signs it', async () => {
    const id = await decidedWhileStopped();
    const op = await as('operator', 'org-a');
    const bureau = await as('bureau', 'org-bureau');
    const notReady = { code: 'ERR_CONTRACT_NOT_READY', status: 409 };
    const job = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: op,
      payload: { contractId: id, sql: 'SELECT district, count(*) AS n FROM population GROUP BY 1' },
    });
    expect(job.json()).toMatchObject(notReady);
    for (const url of [`/v1/contracts/${id}/jws`])
      expect((await world.server.inject({ method: 'GET', url, headers: op })).json()).toMatchObject(notReady);
    const suspend = await world.server.inject({
      method: 'POST',
      url: `/v1/contracts/${id}/suspend`,
      headers: bureau,
      payload: { reason: 'x' },
    });
    expect(suspend.json()).toMatchObject(notReady);
    // a build that is not failed is not retried by hand
    const retry = await world.server.inject({
      method: 'POST',
      url: `/v1/contracts/${id}/rebuild`,
      headers: bureau,
      payload: { reason: 'x' },
    });
    expect(retry.json()).toMatchObject({ code: 'ERR_CONTRACT_STATE' });
    // the operator writes queries meanwhile: dummy data comes from the decided grants
    const dummy = await world.server.inject({
      method: 'GET',
      url: `/v1/contracts/${id}/dummy-data?rows=5`,
      headers: op,
    });
    expect(dummy.statusCode, dummy.body).toBe(200);
    const list = await world.server.inject({ method: 'GET', url: '/v1/contracts?status=building', headers: op });
    expect(list.json().map((c: { id: string }) => c.id)).toEqual([id]);
    // another organisation sees none of it
    const other = await world.server.inject({
      method: 'GET',
      url: `/v1/contracts/${id}`,
      headers: await as('operator', 'org-b'),
    });
    expect(other.statusCode).toBe(404);
    expect(snapshotFiles().filter((f) => f.startsWith(id))).toEqual([]);

    await restart();
    const contract = await settledContract(world, id);
    expect(contract).toMatchObject({ status: 'active', build: null, notBefore: expect.any(String) });
    expect(snapshotFiles()).toEqual([`${id}.duckdb`]);
    const ran = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: await as('operator', 'org-a'),
      payload: { contractId: id, sql: 'SELECT district, count(*) AS n FROM population GROUP BY 1' },
    });
    expect(ran.statusCode, ran.body).toBe(202);
    const trail = await world.server.inject({
      method: 'GET',
      url: `/v1/audit?objectId=${id}`,
      headers: await as('risk', 'org-bureau'),
    });
    const actions = (trail.json().entries as { action: string; actor: string }[]).map((e) => e.action);
    expect(actions.filter((a) => a === 'snapshot.built')).toHaveLength(1);
    expect(actions.filter((a) => a === 'contract.signed')).toHaveLength(1);
    const verify = await world.server.inject({
      method: 'GET',
      url: '/v1/audit/verify',
      headers: await as('risk', 'org-bureau'),
    });
    expect(verify.json()).toMatchObject({ ok: true });
  });

  it('a build that fails once and then succeeds is signed once, with both attempts counted', async () => {
    const id = await decidedWhileStopped();
    // a file where the snapshots' folder should be: the first attempt fails, and is mended before the second
    const folder = path.join(world.dataDir, 'snapshots');
    expect(snapshotFiles()).toEqual([]);
    fs.rmSync(folder, { recursive: true, force: true });
    fs.writeFileSync(folder, 'in the way');
    const failures: unknown[] = [];
    const { platform } = world;
    const builds = new SnapshotBuilds({
      store: platform.store,
      keys: platform.keys,
      policies: platform.policies,
      dataDir: world.dataDir,
      retryDelaysMs: [0],
      onError: (_, err) => {
        failures.push(err);
        fs.rmSync(folder, { force: true });
      },
    });
    try {
      builds.kick();
      await builds.settled(id);
    } finally {
      await builds.close();
    }
    expect(failures).toHaveLength(1);
    const built = await platform.store.all<{ action: string; details: string }>(
      "SELECT action, details FROM audit_log WHERE object_id = $1 AND action = 'snapshot.built'",
      [id],
    );
    expect(built.map((e) => JSON.parse(e.details).attempts)).toEqual([2]);
    expect(await platform.store.all('SELECT status FROM contracts WHERE id = $1', [id])).toEqual([
      { status: 'active' },
    ]);
  });

  it('a dataset withdrawn while the snapshot builds: the contract fails, is never signed, and keeps nothing', async () => {
    const id = await decidedWhileStopped();
    const withdrawn = await world.server.inject({
      method: 'POST',
      url: '/v1/datasets/population/withdraw',
      headers: await as('provider', 'org-psb'),
      payload: { reason: '数据主体异议' },
    });
    expect(withdrawn.statusCode, withdrawn.body).toBe(200);
    await restart();
    const contract = await settledContract(world, id);
    expect(contract).toMatchObject({
      status: 'failed',
      statusReason: expect.stringContaining('ERR_DATASET_WITHDRAWN'),
      notBefore: null,
      build: { phase: 'failed', attempts: 1 },
    });
    expect(await world.platform.store.all('SELECT id FROM contracts')).toEqual([]);
    expect(snapshotFiles().filter((f) => f.startsWith(id))).toEqual([]);
    const failed = await world.platform.store.all<{ action: string }>(
      'SELECT action FROM audit_log WHERE object_id = $1 ORDER BY seq',
      [id],
    );
    expect(failed.map((e) => e.action)).toEqual(['snapshot.build_failed']);
  });
});
