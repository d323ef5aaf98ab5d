import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainPath } from '../../src/domain/index.ts';
import { APPLICATION, approvedContract, buildWorld, readRows, waitForJob, type TestWorld } from '../helpers.ts';

/**
 * Attack classes that go through the API: a tracker split over two contracts of the same
 * operator, and visits (sensitive facts, dp only) asked for in an aggregate-mode application.
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

  async function submit(contractId: string, sql: string) {
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql },
    });
    expect(res.statusCode, res.body).toBe(202);
    return waitForJob(world, op, res.json().id as string);
  }

  async function differencing(outputId: string): Promise<{ passed: boolean; params: Record<string, unknown> }> {
    const out = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${outputId}`,
      headers: { authorization: `Bearer ${op}` },
    });
    return (out.json().checks as { check: string; passed: boolean; params: Record<string, unknown> }[]).find(
      (c) => c.check === 'differencing',
    )!;
  }

  it('a tracker split over two contracts of one operator, renamed and grouped differently, is found for the bureau (never held: a hold would be the oracle)', async () => {
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
    const all = await submit(first, `SELECT sum(income) AS s FROM population WHERE district = '${t!.district}'`);
    expect(all.status).toBe('released');
    // the other contract, a renamed key, the target's district split by gender: the sets still differ by one
    const rest = await submit(
      second,
      `SELECT district AS d2, gender AS g, sum(income) AS total FROM population WHERE district = '${t!.district}' AND NOT ${target} GROUP BY ALL`,
    );
    expect(rest.status, JSON.stringify(rest.reasons)).toBe('released');
    const diff = await differencing(rest.outputId as string);
    // the operator's view names no earlier output; the bureau's record does
    expect(diff).toMatchObject({ passed: true, params: { method: 'unit-sets' } });
    expect(JSON.stringify(diff)).not.toContain(String(all.outputId));
    const audit = await world.platform.store.one<{ details: string }>(
      "SELECT details FROM audit_log WHERE action = 'output.released' AND object_id = $1",
      [String(rest.outputId)],
    );
    expect(JSON.parse(audit!.details).earlierAnswers).toMatchObject({ pairedWith: all.outputId });
    // an unrelated query of the second contract is not held
    const other = await submit(second, 'SELECT gender, count(*) AS n FROM population GROUP BY gender');
    expect(other.status, JSON.stringify(other.reasons)).toBe('released');

    // a second, different tracker on the same person: the risk report sees the pattern
    const again = await submit(
      second,
      `SELECT count(*) AS people FROM population WHERE district = '${t!.district}' AND NOT ${target}`,
    );
    expect(again.status, JSON.stringify(again.reasons)).toBe('released');
    const risk = await world.token('risk', 'org-bureau');
    const made = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: { authorization: `Bearer ${risk}` },
      payload: { contractId: second },
    });
    expect(made.statusCode, made.body).toBe(201);
    const report = made.json().report as {
      figures: { trackers: { isolatingPairs: number; mostIsolationsOfOnePerson: number } };
      rating: { level: string; findings: { rule: string; level: string }[] };
    };
    expect(report.figures.trackers.isolatingPairs).toBeGreaterThanOrEqual(2);
    expect(report.figures.trackers.mostIsolationsOfOnePerson).toBeGreaterThanOrEqual(2);
    expect(report.rating.findings).toContainEqual(expect.objectContaining({ rule: 'tracker-pattern', level: 'high' }));
  });

  it('visits (sensitive facts about people) are never granted to an aggregate or custom contract: dp only, and reviewers are told', async () => {
    for (const mode of ['aggregate', 'custom']) {
      const res = await world.server.inject({
        method: 'POST',
        url: '/v1/applications',
        headers: { authorization: `Bearer ${op}` },
        payload: {
          ...APPLICATION,
          mode,
          datasets: [
            { dataset: 'population', columns: ['district'] },
            { dataset: 'medical_visit', columns: ['hospital'] },
          ],
        },
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'ERR_COLUMN_NOT_GRANTABLE',
        errors: [{ field: '/body/datasets/1/dataset' }],
      });
      expect(res.json().detail).toMatch(/medical_visit .*sensitive facts.*dp mode/);
    }
    const preview = await world.server.inject({
      method: 'POST',
      url: '/v1/applications/preview',
      headers: { authorization: `Bearer ${op}` },
      payload: { mode: 'dp', datasets: [{ dataset: 'medical_visit', columns: ['hospital', 'icd10'] }] },
    });
    expect(preview.statusCode, preview.body).toBe(200);
    expect(preview.json().notices).toEqual([
      expect.stringMatching(/^medical_visit（.*）记录关于个人的敏感事实.*ε 预算/),
    ]);
    const dp = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: { ...APPLICATION, mode: 'dp', datasets: [{ dataset: 'medical_visit', columns: ['hospital', 'icd10'] }] },
    });
    expect(dp.statusCode, dp.body).toBe(201);
    expect(dp.json().notices).toHaveLength(1);
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
      // rounding to 5 adds 25/12 to each side's variance; the pair is two different statistics
      membership: { countNoiseVariance: 1, countsRoundedTo: 5, pairsToTellAt95: 95, pairsWithin5PercentAt95: 9476 },
      queriesOverTerm: 365_280,
    });
  });
});
