import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION, approvedContract, buildWorld, type TestWorld, TEST_OVERRIDE } from '../helpers.ts';

describe('POST /v1/datasets/:id/withdraw', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld();
  }, 60_000);
  afterAll(() => world.close());

  it('suspends every active contract using the dataset, cancels its queued jobs, and records why', async () => {
    const a = await approvedContract(world, 'org-a');
    const b = await approvedContract(world, 'org-b', {
      ...APPLICATION,
      scenario: { name: '另一场景', purpose: '研究' },
    });
    const op = await world.token('operator', 'org-a');
    world.platform.executor.pause();
    const job = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId: a, sql: 'SELECT district, count(*) FROM population GROUP BY 1' },
    });
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/datasets/population/withdraw',
      headers: { authorization: `Bearer ${await world.token('provider', 'org-psb')}` },
      payload: { reason: '数据主体异议：户籍信息有误' },
    });
    world.platform.executor.resume();
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().suspended.sort()).toEqual([a, b].sort());
    const contract = await world.server.inject({
      method: 'GET',
      url: `/v1/contracts/${a}`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(contract.json()).toMatchObject({
      status: 'suspended',
      statusReason: expect.stringContaining('dataset population withdrawn'),
    });
    const j = await world.server.inject({
      method: 'GET',
      url: `/v1/jobs/${String(job.json().id)}`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(j.json()).toMatchObject({ status: 'cancelled', reasons: [{ code: 'ERR_CONTRACT_SUSPENDED' }] });
    const list = await world.server.inject({
      method: 'GET',
      url: '/v1/datasets/population/withdrawals',
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
    });
    expect(list.json()).toHaveLength(1);
    const audit = await world.platform.store.all<{ action: string }>(
      "SELECT action FROM audit_log WHERE object_id = 'population'",
    );
    expect(audit.map((x) => x.action)).toEqual(['dataset.withdrawn']);
  });

  it("only the bureau or the dataset's provider may withdraw it; an unknown dataset is 404", async () => {
    const other = await world.server.inject({
      method: 'POST',
      url: '/v1/datasets/population/withdraw',
      headers: { authorization: `Bearer ${await world.token('provider', 'org-amr')}` },
      payload: { reason: 'x' },
    });
    expect(other.statusCode).toBe(403);
    const none = await world.server.inject({
      method: 'POST',
      url: '/v1/datasets/nothing/withdraw',
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
      payload: { reason: 'x' },
    });
    expect(none.statusCode).toBe(404);
  });
});

describe('a withdrawn dataset until it is reinstated', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld();
  }, 60_000);
  afterAll(() => world.close());

  it('takes no new application, approval or resumption; reinstatement lets the bureau resume each contract', async () => {
    const contract = await approvedContract(world, 'org-a');
    const op = await world.token('operator', 'org-a');
    const provider = await world.token('provider', 'org-psb');
    const bureau = await world.token('bureau', 'org-bureau');
    const post = (url: string, token: string, payload: object) =>
      world.server.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload });
    // an application in review when the objection comes
    const pending = await post('/v1/applications', op, {
      ...APPLICATION,
      scenario: { name: '待审场景', purpose: '研究' },
    });
    expect(pending.statusCode).toBe(201);
    expect(
      (
        await post(`/v1/applications/${String(pending.json().id)}/reviews`, provider, {
          dataset: 'population',
          decision: 'approve',
        })
      ).statusCode,
    ).toBe(200);

    expect((await post('/v1/datasets/population/withdraw', provider, { reason: '数据主体异议' })).statusCode).toBe(200);
    const again = await post('/v1/datasets/population/withdraw', bureau, { reason: 'again' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({
      code: 'ERR_DATASET_WITHDRAWN',
      detail: expect.stringContaining('already withdrawn'),
    });

    const fresh = await post('/v1/applications', op, APPLICATION);
    expect(fresh.statusCode).toBe(409);
    expect(fresh.json()).toMatchObject({
      code: 'ERR_DATASET_WITHDRAWN',
      errors: [{ field: '/body/datasets/0/dataset', message: 'dataset population is withdrawn' }],
    });
    const approve = await post(`/v1/applications/${String(pending.json().id)}/decision`, bureau, {
      decision: 'approve',
      reason: 'ok',
      override: TEST_OVERRIDE,
    });
    expect(approve.statusCode).toBe(409);
    expect(approve.json().code).toBe('ERR_DATASET_WITHDRAWN');
    const resume = await post(`/v1/contracts/${contract}/resume`, bureau, { reason: '恢复' });
    expect(resume.statusCode).toBe(409);
    expect(resume.json().code).toBe('ERR_DATASET_WITHDRAWN');
    // nothing was half-made: no contract for the refused approval, no snapshot file left behind
    expect(await world.platform.store.all('SELECT id FROM contracts')).toHaveLength(1);
    expect(fs.readdirSync(path.join(world.dataDir, 'snapshots')).filter((f) => f.endsWith('.duckdb'))).toEqual([
      `${contract}.duckdb`,
    ]);

    expect(
      (await post('/v1/datasets/population/reinstate', await world.token('provider', 'org-amr'), { reason: 'x' }))
        .statusCode,
    ).toBe(403);
    const back = await post('/v1/datasets/population/reinstate', provider, { reason: '异议已核实处理' });
    expect(back.statusCode, back.body).toBe(200);
    expect(back.json()).toMatchObject({
      dataset: 'population',
      reinstateReason: '异议已核实处理',
      stillSuspended: [contract],
      suspended: [contract],
    });
    expect((await post('/v1/datasets/population/reinstate', provider, { reason: 'twice' })).statusCode).toBe(409);
    expect((await post(`/v1/contracts/${contract}/resume`, bureau, { reason: '恢复' })).json()).toMatchObject({
      status: 'active',
    });
    expect((await post('/v1/applications', op, APPLICATION)).statusCode).toBe(201);
    const actions = await world.platform.store.all<{ action: string }>(
      "SELECT action FROM audit_log WHERE object_id = 'population' ORDER BY seq",
    );
    expect(actions.map((a) => a.action)).toEqual(['dataset.withdrawn', 'dataset.reinstated']);
  });
});
