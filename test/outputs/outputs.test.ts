import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordKeySql, unitKeySql, withholdKeys } from '../../src/digest/index.ts';
import { candidates, type Fingerprint } from '../../src/disclosure/index.ts';
import { outputJobs } from '../../src/jobs/index.ts';
import { OutputService, verifyManifest } from '../../src/outputs/index.ts';
import { openInstance, queryRows, withConnection } from '../../src/store/index.ts';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  signedContract,
  waitForJob,
  type TestWorld,
  TEST_OVERRIDE,
} from '../helpers.ts';
import fs from 'node:fs';
import path from 'node:path';

/** Held outputs: the bureau's queue, the two-reviewer rule, and what operators can never see. */
describe('the release workflow', () => {
  let world: TestWorld;
  let op: string;
  let alice: string;
  let bob: string;
  let contractId: string;
  beforeAll(async () => {
    world = await buildWorld();
    contractId = await approvedContract(world, 'org-c', {
      ...APPLICATION,
      mode: 'custom',
      scenario: { name: '自定义分析', purpose: '模型研发' },
    });
    op = await world.token('operator', 'org-c');
    alice = await world.token('bureau', 'org-bureau', 'alice@bureau');
    bob = await world.token('bureau', 'org-bureau', 'bob@bureau');
  }, 60_000);
  afterAll(() => world.close());

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
    world.server.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload ? { payload } : {}),
    });

  async function heldOutput(
    sql = 'SELECT district, education, income FROM population WHERE income > 30000 ORDER BY income DESC LIMIT 10',
  ): Promise<string> {
    const res = await call(op, 'POST', '/v1/jobs', { contractId, sql });
    expect(res.statusCode, res.body).toBe(202);
    const job = await waitForJob(world, op, res.json().id as string);
    expect(job.status).toBe('held');
    return String(job.outputId);
  }

  it('the same reviewer twice does not release; a second, different reviewer does, with a signed manifest naming both', async () => {
    const id = await heldOutput();
    const queue = await call(alice, 'GET', '/v1/outputs?status=held');
    expect(queue.json().map((o: { id: string }) => o.id)).toContain(id);
    expect((await call(alice, 'POST', `/v1/outputs/${id}/reviews`, { decision: 'approve' })).json()).toMatchObject({
      status: 'held',
      reviews: [{ reviewer: 'alice@bureau' }],
    });
    const again = await call(alice, 'POST', `/v1/outputs/${id}/reviews`, { decision: 'approve' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('ERR_REVIEW_DUPLICATE');
    expect((await call(op, 'GET', `/v1/outputs/${id}/data`)).statusCode).toBe(404);

    const released = await call(bob, 'POST', `/v1/outputs/${id}/reviews`, {
      decision: 'approve',
      reason: 'checked: no identifiers',
    });
    expect(released.json()).toMatchObject({ status: 'released', releasedBy: 'alice@bureau, bob@bureau' });
    const jws = (await call(op, 'GET', `/v1/outputs/${id}/manifest`)).body;
    const m = await verifyManifest(jws, world.platform.keys.bureauVerifier());
    expect(m).toMatchObject({
      releasedBy: 'alice@bureau, bob@bureau',
      reviewers: ['alice@bureau', 'bob@bureau'],
      contractId,
    });
    const csv = await call(op, 'GET', `/v1/outputs/${id}/data`);
    expect(csv.statusCode).toBe(200);
    expect(csv.body.split('\r\n')[0]).toBe('district,education,income');
    // the job ends released too, and a third review finds nothing to review
    expect(
      (await call(bob, 'POST', `/v1/outputs/${id}/reviews`, { decision: 'reject', reason: 'late' })).json().code,
    ).toBe('ERR_OUTPUT_NOT_HELD');
  });

  it('an operator never sees held data (404); reviewers can inspect it; a rejection with a reason ends it once both have voted', async () => {
    const id = await heldOutput();
    for (const format of ['csv', 'json', 'parquet'])
      expect((await call(op, 'GET', `/v1/outputs/${id}/data?format=${format}`)).statusCode).toBe(404);
    expect((await call(op, 'GET', `/v1/outputs/${id}/manifest`)).statusCode).toBe(403);
    expect((await call(alice, 'GET', `/v1/outputs/${id}/data`)).statusCode).toBe(200);
    const noReason = await call(alice, 'POST', `/v1/outputs/${id}/reviews`, { decision: 'reject' });
    expect(noReason.statusCode).toBe(400);
    const vote = await call(alice, 'POST', `/v1/outputs/${id}/reviews`, {
      decision: 'reject',
      reason: 'rows of single people',
    });
    // one vote of two: still held; the second reviewer's approval is outweighed by the rejection
    expect(vote.json()).toMatchObject({ status: 'held', votes: { recorded: 1, needed: 2 } });
    const rejected = await call(bob, 'POST', `/v1/outputs/${id}/reviews`, { decision: 'approve' });
    expect(rejected.json()).toMatchObject({ status: 'rejected' });
    const job = await call(op, 'GET', `/v1/jobs/${String(rejected.json().jobId)}`);
    expect(job.json()).toMatchObject({ status: 'rejected', reasons: [{ code: 'ERR_OUTPUT_REJECTED' }] });
    expect((await call(bob, 'GET', `/v1/outputs/${id}/data`)).statusCode).toBe(404);
  });

  it('a revoked contract stops a release even with two approvals', async () => {
    const id = await heldOutput();
    await call(alice, 'POST', `/v1/outputs/${id}/reviews`, { decision: 'approve' });
    await world.platform.store.write((tx) =>
      tx.run("UPDATE contracts SET status = 'revoked' WHERE id = $1", [contractId]),
    );
    const res = await call(bob, 'POST', `/v1/outputs/${id}/reviews`, { decision: 'approve' });
    expect(res.json().code).toBe('ERR_CONTRACT_REVOKED');
    // bob's vote went with the refused transaction; alice's stays, and bob still cannot read it
    expect((await call(bob, 'GET', `/v1/outputs/${id}`)).json()).toMatchObject({
      status: 'held',
      reviews: [],
      votes: { recorded: 1 },
    });
    expect((await call(alice, 'GET', `/v1/outputs/${id}`)).json()).toMatchObject({
      reviews: [{ reviewer: 'alice@bureau', decision: 'approve' }],
    });
    await world.platform.store.write((tx) =>
      tx.run("UPDATE contracts SET status = 'active' WHERE id = $1", [contractId]),
    );
  });

  // kept parsed between releases: the check must still compare with exactly the store's outputs
  it("the differencing check's earlier outputs are the store's own, whether kept from the last release or read after a restart", async () => {
    const org = 'org-d';
    const contractId = await approvedContract(world, org);
    const op = await world.token('operator', org);
    const release = async (district: string) => {
      const res = await call(op, 'POST', '/v1/jobs', {
        contractId,
        sql: `SELECT education, count(*) AS n FROM population WHERE district = '${district}' GROUP BY education`,
      });
      expect(res.statusCode, res.body).toBe(202);
      expect((await waitForJob(world, op, res.json().id as string)).outputId).toBeDefined();
    };
    for (const d of ['云岩区', '南明区', '观山湖区', '花溪区', '白云区', '乌当区']) await release(d);
    const store = world.platform.store;
    const expected = async () =>
      (
        await store.all<{ id: string; f: string }>(
          `SELECT id, units_fingerprint AS f FROM outputs
           WHERE operator_org = $1 AND status IN ('released', 'held') AND units_fingerprint IS NOT NULL
           ORDER BY created_at DESC, id DESC`,
          [org],
        )
      ).map((r) => {
        const fingerprint = JSON.parse(r.f) as Fingerprint;
        return { outputId: r.id, sameContract: true, fingerprint, candidates: candidates(r.id, fingerprint) };
      });
    const compared = (service: OutputService) => store.write((tx) => service.fingerprints(tx, org, contractId));
    const running = () => compared(world.platform.outputs);
    // another service on the same store: as after a restart, nothing kept
    const restarted = (earlierRowsKept?: number) =>
      new OutputService({
        store,
        keys: world.platform.keys,
        contracts: world.platform.contracts,
        jobs: outputJobs,
        dataDir: world.dataDir,
        destruction: world.platform.destruction,
        now: () => new Date(),
        ...(earlierRowsKept === undefined ? {} : { earlierRowsKept }),
      });
    const want = await expected();
    expect(want.length).toBeGreaterThan(5);
    expect(await running()).toEqual(want);
    // a restart: every one read at once
    const fresh = restarted();
    expect(await compared(fresh)).toEqual(want);
    // one leaves the held queue (rejected): the kept ones do not bring it back
    await store.write((tx) => tx.run("UPDATE outputs SET status = 'rejected' WHERE id = $1", [want[0]!.outputId]));
    expect(await running()).toEqual(want.slice(1));
    expect(await compared(fresh)).toEqual(want.slice(1));
    // a new one is read by the service that kept the rest
    await release('清镇市');
    expect(await running()).toEqual(await expected());
    // a service that can keep almost nothing drops and reads again, and answers the same
    const small = restarted(3);
    for (let i = 0; i < 3; i++) expect(await compared(small)).toEqual(await expected());
    await Promise.all([fresh.close(), small.close()]);
  }, 120_000);
});

describe('downloads and aggregate outputs over the row cap', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld();
  }, 60_000);
  afterAll(() => world.close());

  it('an aggregate output over the contract row cap is held for review, not refused', async () => {
    const op = await world.token('operator', 'org-b');
    const app = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: APPLICATION,
    });
    const appId = app.json().id as string;
    await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${appId}/reviews`,
      headers: { authorization: `Bearer ${await world.token('provider', 'org-psb')}` },
      payload: { dataset: 'population', decision: 'approve' },
    });
    const dec = await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${appId}/decision`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
      payload: { decision: 'approve', reason: 'ok', terms: { maxRows: 3 }, override: TEST_OVERRIDE },
    });
    const contractId = await signedContract(world, dec);
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: {
        contractId,
        sql: 'SELECT district, count(*) AS n FROM population GROUP BY district',
      },
    });
    const job = await waitForJob(world, op, res.json().id as string);
    expect(job.status).toBe('held');
    const out = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${String(job.outputId)}`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(out.json().heldBecause[0]).toMatch(/^max-rows: \d+ rows exceed the cap of 3/);
    const cap = (out.json().checks as { check: string; facts?: { rows: number } }[]).find(
      (c) => c.check === 'max-rows',
    );
    expect(cap!.facts!.rows).toBeGreaterThan(3);
    // the review packet shows the SQL that ran, the contract's perturbation key withheld
    const packet = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${String(job.outputId)}/review`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
    });
    const ranSql = packet.json().analysis.ranSql as string;
    expect(ranSql).toMatch(/^SELECT district, /);
    expect(ranSql).not.toMatch(/\d::UBIGINT/);
    // where a key is written into the SQL (a source without stored keys), it is withheld
    expect(withholdKeys(`SELECT ${recordKeySql('u', 9_876_543_210n)}, ${unitKeySql('v', 1_234_567n)}`)).toBe(
      'SELECT (hash(u, <key withheld>::UBIGINT) >> 2)::BIGINT, (hash(v, <key withheld>::UBIGINT) >> 33)::INTEGER',
    );
  });

  it('released data comes as CSV, JSON or Parquet, with its types', async () => {
    const contractId = await approvedContract(world, 'org-a');
    const op = await world.token('operator', 'org-a');
    const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
      world.server.inject({ method, url, headers: { authorization: `Bearer ${op}` }, ...(payload ? { payload } : {}) });
    const res = await call('POST', '/v1/jobs', {
      contractId,
      sql: 'SELECT district, count(*) AS n, avg(income) AS mean_income FROM population GROUP BY district ORDER BY district',
    });
    const job = await waitForJob(world, op, res.json().id as string);
    expect(job.status).toBe('released');
    const id = String(job.outputId);
    const json = await call('GET', `/v1/outputs/${id}/data?format=json`);
    expect(json.json()[0]).toHaveProperty('district');
    const parquet = await call('GET', `/v1/outputs/${id}/data?format=parquet`);
    expect(parquet.statusCode).toBe(200);
    expect(parquet.headers['content-type']).toContain('parquet');
    const file = path.join(world.dataDir, 'check.parquet');
    fs.writeFileSync(file, parquet.rawPayload);
    const instance = await openInstance(':memory:');
    const types = await withConnection(instance, (c) =>
      queryRows<{ column_name: string; column_type: string }>(c, `DESCRIBE SELECT * FROM read_parquet('${file}')`),
    );
    instance.closeSync();
    expect(types.map((t) => [t.column_name, t.column_type])).toEqual([
      ['district', 'VARCHAR'],
      ['n', 'BIGINT'],
      ['mean_income', 'DOUBLE'],
    ]);
  });
});
