import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION, approvedContract, buildWorld, type TestWorld } from '../helpers.ts';

describe('POST /v1/datasets/:id/withdraw', () => {
  let world: TestWorld;
  beforeAll(async () => { world = await buildWorld(); }, 60_000);
  afterAll(() => world.close());

  it('suspends every active contract using the dataset, cancels its queued jobs, and records why', async () => {
    const a = await approvedContract(world, 'org-a');
    const b = await approvedContract(world, 'org-b', { ...APPLICATION, scenario: { name: '另一场景', purpose: '研究' } });
    const op = await world.token('operator', 'org-a');
    world.platform.executor.pause();
    const job = await world.server.inject({ method: 'POST', url: '/v1/jobs', headers: { authorization: `Bearer ${op}` }, payload: { contractId: a, sql: 'SELECT district, count(*) FROM population GROUP BY 1' } });
    const res = await world.server.inject({
      method: 'POST', url: '/v1/datasets/population/withdraw', headers: { authorization: `Bearer ${await world.token('provider', 'org-psb')}` },
      payload: { reason: '数据主体异议：户籍信息有误' },
    });
    world.platform.executor.resume();
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().suspended.sort()).toEqual([a, b].sort());
    const contract = await world.server.inject({ method: 'GET', url: `/v1/contracts/${a}`, headers: { authorization: `Bearer ${op}` } });
    expect(contract.json()).toMatchObject({ status: 'suspended', statusReason: expect.stringContaining('dataset population withdrawn') });
    const j = await world.server.inject({ method: 'GET', url: `/v1/jobs/${String(job.json().id)}`, headers: { authorization: `Bearer ${op}` } });
    expect(j.json()).toMatchObject({ status: 'cancelled', reasons: [{ code: 'ERR_CONTRACT_SUSPENDED' }] });
    const list = await world.server.inject({ method: 'GET', url: '/v1/datasets/population/withdrawals', headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` } });
    expect(list.json()).toHaveLength(1);
    const audit = await world.platform.store.all<{ action: string }>("SELECT action FROM audit_log WHERE object_id = 'population'");
    expect(audit.map((x) => x.action)).toEqual(['dataset.withdrawn']);
  });

  it('only the bureau or the dataset\'s provider may withdraw it; an unknown dataset is 404', async () => {
    const other = await world.server.inject({ method: 'POST', url: '/v1/datasets/population/withdraw', headers: { authorization: `Bearer ${await world.token('provider', 'org-amr')}` }, payload: { reason: 'x' } });
    expect(other.statusCode).toBe(403);
    const none = await world.server.inject({ method: 'POST', url: '/v1/datasets/nothing/withdraw', headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` }, payload: { reason: 'x' } });
    expect(none.statusCode).toBe(404);
  });
});
