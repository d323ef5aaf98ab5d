import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION, approvedContract, buildWorld, waitForJob, type TestWorld } from '../helpers.ts';

/**
 * Issue 33 item 4: a template run end to end over HTTP — listed for the contract, submitted,
 * analysed, disclosure-controlled and released as any job; a parameter outside its type and an
 * injection attempt refused with 400 naming the parameter, and no job made.
 */
describe('query templates over HTTP', () => {
  let world: TestWorld;
  let op: string;
  let contractId: string;
  let dpContract: string;

  beforeAll(async () => {
    world = await buildWorld();
    op = await world.token('operator', 'org-a');
    contractId = await approvedContract(world, 'org-a');
    dpContract = await approvedContract(world, 'org-a', {
      ...APPLICATION,
      mode: 'dp',
      scenario: { name: '差分隐私', purpose: '区县收入均值' },
    });
  }, 180_000);
  afterAll(() => world?.close());

  const auth = () => ({ authorization: `Bearer ${op}` });
  const run = (contract: string, template: string, parameters: Record<string, unknown>) =>
    world.server.inject({
      method: 'POST',
      url: `/v1/contracts/${contract}/templates/${template}/run`,
      headers: auth(),
      payload: { parameters },
    });
  const jobCount = async () =>
    (await world.server.inject({ method: 'GET', url: `/v1/jobs?contractId=${contractId}`, headers: auth() })).json()
      .jobs.length as number;

  it("lists the templates a contract's mode and columns can run", async () => {
    const all = await world.server.inject({ method: 'GET', url: '/v1/templates', headers: auth() });
    expect(all.statusCode).toBe(200);
    expect(all.json().map((t: { id: string }) => t.id)).toContain('insured-by-month');
    const mine = await world.server.inject({
      method: 'GET',
      url: `/v1/templates?contractId=${contractId}`,
      headers: auth(),
    });
    const ids = mine.json().map((t: { id: string }) => t.id);
    expect(ids).toEqual(
      expect.arrayContaining(['people-by-district', 'people-with-income-at-least', 'education-in-district']),
    );
    // social insurance is not granted; the dp template is for dp contracts
    expect(ids).not.toContain('insured-by-month');
    expect(ids).not.toContain('mean-income-by-district-dp');
    const edu = mine.json().find((t: { id: string }) => t.id === 'education-in-district');
    expect(edu.parameters[0]).toMatchObject({
      name: 'district',
      type: 'code',
      codes: expect.arrayContaining(['南明区']),
    });
  });

  it('runs a template as a job: submitted, analysed, released, with the template in the audit entry', async () => {
    const res = await run(contractId, 'education-in-district', { district: '南明区' });
    expect(res.statusCode).toBe(202);
    const job = await waitForJob(world, op, res.json().id);
    expect(job).toMatchObject({ status: 'released', name: '模板：某区县各学历人数与平均收入' });
    const out = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${String(job.outputId)}`,
      headers: auth(),
    });
    expect(out.json().columns.map((c: { name: string }) => c.name)).toEqual(['education', 'people', 'mean_income']);
    // the disclosure checks ran as for any job
    expect(out.json().checks.map((c: { check: string }) => c.check)).toContain('min-units');
    const audit = await world.server.inject({
      method: 'GET',
      url: `/v1/audit?action=job.submitted&objectId=${String(job.id)}`,
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
    });
    expect(audit.json().entries[0].details.template).toEqual({
      id: 'education-in-district',
      parameters: { district: '南明区' },
    });
  });

  it('refuses a parameter outside its type with 400 naming it, and makes no job', async () => {
    const before = await jobCount();
    for (const [template, parameters, name] of [
      ['people-with-income-at-least', { min_income: -5 }, 'min_income'],
      ['people-with-income-at-least', { min_income: '100000 OR 1=1' }, 'min_income'],
      ['people-with-income-at-least', { min_income: 100000, district: '南明区' }, 'district'],
      ['education-in-district', { district: '火星区' }, 'district'],
    ] as const) {
      const res = await run(contractId, template, parameters);
      expect(res.statusCode, JSON.stringify(parameters)).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'ERR_TEMPLATE_PARAMETER',
        errors: [{ field: `/body/parameters/${name}` }],
      });
    }
    expect(await jobCount()).toBe(before);
  });

  it('refuses an injection attempt in a text parameter and records it for risk staff', async () => {
    const before = await jobCount();
    const res = await run(contractId, 'education-in-district', {
      district: "南明区' UNION SELECT name, 1, 1 FROM population --",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'ERR_TEMPLATE_PARAMETER',
      errors: [{ field: '/body/parameters/district' }],
    });
    expect(await jobCount()).toBe(before);
    const audit = await world.server.inject({
      method: 'GET',
      url: `/v1/audit?action=template.run_refused&objectId=${contractId}`,
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
    });
    expect(audit.json().entries.length).toBeGreaterThanOrEqual(5);
    const details = audit.json().entries.map((e: { details: Record<string, unknown> }) => e.details);
    expect(details).toContainEqual(
      expect.objectContaining({ code: 'ERR_TEMPLATE_PARAMETER', template: 'education-in-district' }),
    );
  });

  it('refuses a template the contract cannot run, and one that does not exist', async () => {
    const months = await run(contractId, 'insured-by-month', { from_month: '2025-10', to_month: '2025-12' });
    expect(months.statusCode).toBe(409);
    expect(months.json().code).toBe('ERR_TEMPLATE_NOT_APPLICABLE');
    expect(months.json().detail).toContain('social_insurance.month');
    const none = await run(contractId, 'no-such-template', {});
    expect(none.statusCode).toBe(404);
  });

  it('a dp template runs with the bounds the bureau fixed, charged to the budget', async () => {
    const res = await run(dpContract, 'mean-income-by-district-dp', {});
    expect(res.statusCode).toBe(202);
    const job = await waitForJob(world, op, res.json().id);
    expect(job.status).toBe('released');
    const budget = await world.server.inject({
      method: 'GET',
      url: `/v1/contracts/${dpContract}/budget`,
      headers: auth(),
    });
    expect(budget.json().spent).toBeGreaterThan(0);
  });
});
