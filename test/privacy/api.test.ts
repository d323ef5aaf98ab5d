import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainPath } from '../../src/domain/index.ts';
import { APPLICATION, approvedContract, buildWorld, readRows, waitForJob, type TestWorld } from '../helpers.ts';

/**
 * Attack classes that go through the API: a tracker split over two contracts of the same
 * operator, and a diagnosis (a dp-only column) asked for in an aggregate-mode application.
 */

const BODY = {
  ...APPLICATION,
  datasets: [{ dataset: 'population', columns: ['district', 'gender', 'education', 'income'] }],
};

describe('privacy over the API', () => {
  let world: TestWorld;
  let op: string;
  beforeAll(async () => {
    world = await buildWorld({ rows: 3000 });
    op = await world.token('operator', 'org-a');
  }, 120_000);
  afterAll(() => world.close());

  async function run(contractId: string, sql: string): Promise<number> {
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql },
    });
    expect(res.statusCode, res.body).toBe(202);
    const job = await waitForJob(world, op, res.json().id as string);
    expect(job.status, JSON.stringify(job.reasons)).toBe('released');
    const data = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${job.outputId as string}/data?format=json`,
      headers: { authorization: `Bearer ${op}` },
    });
    return Number(Object.values((data.json() as Record<string, number>[])[0]!)[0]);
  }

  it('a tracker split over two contracts of one operator still lands on the distorted value, never within 5 %', async () => {
    const [t] = await readRows<{ district: string; gender: string; education: string; income: number }>(
      domainPath(world.dataDir),
      `SELECT district, gender, education, income FROM population WHERE (district, gender, education) IN (
         SELECT (district, gender, education) FROM population GROUP BY ALL HAVING count(*) = 1) AND income > 20000 ORDER BY income DESC LIMIT 1`,
    );
    expect(t, 'a person unique by district, gender and education').toBeDefined();
    const first = await approvedContract(world, 'org-a', BODY);
    const second = await approvedContract(world, 'org-a', {
      ...BODY,
      scenario: { name: '第二个场景', purpose: '另一个用途' },
    });
    const target = `(gender = '${t!.gender}' AND education = '${t!.education}')`;
    const all = await run(first, `SELECT sum(income) AS s FROM population WHERE district = '${t!.district}'`);
    const rest = await run(
      second,
      `SELECT sum(income) AS s FROM population WHERE district = '${t!.district}' AND NOT ${target}`,
    );
    expect(Math.abs(all - rest - Number(t!.income)) / Number(t!.income)).toBeGreaterThan(0.05);
  });

  it('a diagnosis is never granted to an aggregate-mode contract: it is dp-only', async () => {
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: { ...APPLICATION, datasets: [{ dataset: 'medical_visit', columns: ['hospital', 'icd10'] }] },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'ERR_COLUMN_NOT_GRANTABLE',
      errors: [{ field: '/body/datasets/0/columns/1' }],
    });
    const dp = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: { ...APPLICATION, mode: 'dp', datasets: [{ dataset: 'medical_visit', columns: ['hospital', 'icd10'] }] },
    });
    expect(dp.statusCode, dp.body).toBe(201);
  });

  it("the risk preview states what averaging would cost: measures never within 5 %, the pairs a membership needs, the term's queries", async () => {
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: BODY,
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().attackCost).toEqual({
      measures: [
        {
          dataset: 'population',
          column: 'income',
          rule: 'noise:0.15',
          persistentErrorAtLeast: 0.075,
          within5PercentReachable: false,
        },
      ],
      // a difference of 1 against 0 with variance 2 per pair: 31 pairs tell it at 95 %
      membership: { countNoiseVariance: 1, pairsToTellAt95: 31, pairsWithin5PercentAt95: 3074 },
      queriesOverTerm: 365_280,
    });
  });
});
