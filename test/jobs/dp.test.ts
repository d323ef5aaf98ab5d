import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPdsError } from '../../src/errors/index.ts';
import { createPdsClient, must } from '../../src/client/index.ts';
import { injectFetch } from '../../src/client/inject.ts';
import { discreteLaplaceError } from '../../src/disclosure/index.ts';
import { verifyManifest } from '../../src/outputs/index.ts';
import { charge, spentMicro } from '../../src/jobs/ledger.ts';
import { Store } from '../../src/store/index.ts';
import { domainPath } from '../../src/domain/index.ts';
import {
  APPLICATION,
  buildWorld,
  readRows,
  tmpDataDir,
  waitForJob,
  type TestWorld,
  TEST_OVERRIDE,
  signedContract,
  contractFor,
} from '../helpers.ts';

describe('the ε ledger', () => {
  const t = tmpDataDir();
  let store: Store;
  beforeAll(async () => {
    store = await Store.open(t.dir);
  });
  afterAll(async () => {
    await store.close();
    t.cleanup();
  });

  it('never goes past the budget under 30 concurrent charges, and charges a job once', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        store.write((tx) =>
          charge(tx, {
            contractId: 'ctr_x',
            jobId: `job_${i}`,
            epsilon: 0.3,
            delta: 1e-6,
            budget: 2.5,
            at: new Date().toISOString(),
          }),
        ),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBe(8); // 8 × 0.3 = 2.4 ≤ 2.5 < 2.7
    for (const r of results)
      if (r.status === 'rejected') expect(isPdsError(r.reason, 'ERR_BUDGET_EXHAUSTED')).toBe(true);
    expect(await spentMicro(store, 'ctr_x')).toBe(2_400_000);
    await store.write((tx) =>
      charge(tx, {
        contractId: 'ctr_x',
        jobId: 'job_0',
        epsilon: 0.3,
        delta: 1e-6,
        budget: 2.5,
        at: new Date().toISOString(),
      }),
    );
    expect(await spentMicro(store, 'ctr_x')).toBe(2_400_000);
  });
});

describe('dp mode end to end', () => {
  let world: TestWorld;
  let contractId: string;
  let op: string;
  async function dpContract(terms: { epsilon: number; epsilonPerQuery: number }): Promise<string> {
    const app = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: { ...APPLICATION, mode: 'dp' },
    });
    const id = app.json().id as string;
    await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${id}/reviews`,
      headers: { authorization: `Bearer ${await world.token('provider', 'org-psb')}` },
      payload: { dataset: 'population', decision: 'approve' },
    });
    const dec = await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${id}/decision`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
      payload: { decision: 'approve', reason: 'ok', terms, override: TEST_OVERRIDE },
    });
    return signedContract(world, dec);
  }
  beforeAll(async () => {
    world = await buildWorld({ rows: 4000 });
    op = await world.token('operator', 'org-a');
    contractId = await dpContract({ epsilon: 3, epsilonPerQuery: 1 });
  }, 60_000);
  afterAll(() => world.close());

  const submit = (sql: string, dp?: object) =>
    world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql, ...(dp ? { dp } : {}) },
    });

  it('refuses shapes it cannot bound, and a sum without bounds, without spending ε', async () => {
    for (const sql of [
      'SELECT district, max(income) FROM population GROUP BY 1',
      'SELECT district, sum(income) FROM population GROUP BY 1',
    ]) {
      const job = await waitForJob(world, op, (await submit(sql)).json().id as string);
      expect(job).toMatchObject({ status: 'rejected', reasons: [{ rule: 'dp-shape' }] });
    }
  });

  it('failure oracles tell nothing: the same refusal whether the target exists or not, and no ε moves', async () => {
    const ledger = async () =>
      (
        await world.platform.store.one<{ n: number }>(
          'SELECT count(*)::INTEGER AS n FROM privacy_ledger WHERE contract_id = $1',
          [contractId],
        )
      )?.n ?? 0;
    const before = await ledger();
    const [someone] = await readRows<{ district: string; gender: string; education: string }>(
      domainPath(world.dataDir),
      'SELECT district, gender, education FROM population LIMIT 1',
    );
    const present = `(district = '${someone!.district}' AND gender = '${someone!.gender}' AND education = '${someone!.education}')`;
    const absent = `(district = 'nowhere')`;
    const oracles = [
      (who: string) =>
        `SELECT count(*) FROM population WHERE CASE WHEN ${who} THEN length(lpad(district, 900000000, 'y')) > 0 ELSE true END`,
      (who: string) =>
        `SELECT count(*) FROM population WHERE CASE WHEN ${who} THEN CAST(district AS INTEGER) = 1 ELSE true END`,
      (who: string) => `SELECT count(*) FROM population WHERE NOT ${who} OR regexp_matches(district, '(a*)*b')`,
    ];
    for (const oracle of oracles) {
      const answers = [];
      for (const who of [present, absent]) {
        const job = await waitForJob(world, op, (await submit(oracle(who))).json().id as string);
        answers.push({ status: job.status, reasons: (job.reasons as { rule?: string }[]).map((r) => r.rule) });
      }
      expect(answers[0]).toEqual(answers[1]);
      expect(answers[0]!.status).toBe('rejected');
    }
    expect(await ledger()).toBe(before);
  });

  it('previews a query’s ε, what is left and each measure’s noise without spending; the charge then made is the one previewed', async () => {
    const contract = await dpContract({ epsilon: 2, epsilonPerQuery: 0.5 });
    const api = createPdsClient({ baseUrl: 'http://pds.test', token: op, fetch: injectFetch(world.server) });
    const budget = () => must(api.GET('/v1/contracts/{id}/budget', { params: { path: { id: contract } } }));
    expect(await budget()).toMatchObject({
      mode: 'dp',
      epsilon: 2,
      spent: 0,
      remaining: 2,
      epsilonPerQuery: 0.5,
      queriesLeft: 4,
    });
    const body = {
      contractId: contract,
      sql: 'SELECT district, count(*) AS people, avg(income) AS mean_income FROM population GROUP BY district',
      dp: { bounds: { income: [0, 100000] } },
    };
    const preview = await must(api.POST('/v1/jobs/preview', { body }));
    expect(preview.validation.valid).toBe(true);
    expect(preview.dp).toMatchObject({ epsilon: 0.5, remainingAfter: 1.5, affordable: true });
    const [people, mean] = preview.dp!.measures;
    // ε 0.5 over two measures: 0.25 each; a count's sensitivity 1 → scale 4; the sum's 100 000 → 400 000
    expect(people).toMatchObject({ name: 'people', kind: 'count', noiseScale: 4 });
    expect(people!.error95).toBe(discreteLaplaceError(4).error95);
    expect(mean).toMatchObject({ name: 'mean_income', kind: 'avg', column: 'income', noiseScale: null });
    expect((mean!.error95 as { units: number }[]).map((e) => e.units)).toContain(1000);
    // nothing spent by the preview
    expect(await budget()).toMatchObject({ spent: 0, charges: [] });
    // the 95 % bound is what it says: the smallest k with P(|X| ≤ k) ≥ 0.95
    const q = Math.exp(-1 / 4);
    const outside = (k: number) => (2 * q ** (k + 1)) / (1 + q);
    expect(outside(people!.error95 as number)).toBeLessThanOrEqual(0.05);
    expect(outside((people!.error95 as number) - 1)).toBeGreaterThan(0.05);

    const job = await must(api.POST('/v1/jobs', { body }));
    expect((await waitForJob(world, op, job.id)).status).toBe('released');
    const after = await budget();
    expect(after).toMatchObject({ spent: preview.dp!.epsilon, remaining: preview.dp!.remainingAfter, queriesLeft: 3 });
    expect(after.charges).toEqual([expect.objectContaining({ jobId: job.id, epsilon: preview.dp!.epsilon })]);
    const released = await must(api.GET('/v1/jobs/{id}', { params: { path: { id: job.id } } }));
    const output = await must(api.GET('/v1/outputs/{id}', { params: { path: { id: released.outputId! } } }));
    expect(output.checks.find((c) => c.check === 'differential-privacy')?.params).toMatchObject({
      epsilon: preview.dp!.epsilon,
      countScale: people!.noiseScale,
      threshold: preview.dp!.threshold,
    });
  });

  it('releases noisy counts and means with ε and noise scales in the manifest; concurrent queries never pass the budget', async () => {
    const sql = 'SELECT district, count(*) AS people, avg(income) AS mean_income FROM population GROUP BY district';
    // four at once (the per-contract quota) for a budget of three queries
    const responses = await Promise.all([0, 1, 2, 3].map(() => submit(sql, { bounds: { income: [0, 100000] } })));
    const refusedAtSubmission = responses.filter((r) => r.statusCode === 409).length;
    const jobs = await Promise.all(
      responses.filter((r) => r.statusCode === 202).map((r) => waitForJob(world, op, r.json().id as string)),
    );
    const released = jobs.filter((j) => j.status === 'released');
    expect(released).toHaveLength(3);
    // the fourth was refused at submission or at its charge
    for (const j of jobs.filter((x) => x.status !== 'released'))
      expect(j).toMatchObject({ status: 'rejected', reasons: [{ code: 'ERR_BUDGET_EXHAUSTED' }] });
    expect(jobs.length - released.length + refusedAtSubmission).toBe(1);
    const ledger = await world.platform.store.one<{ s: number }>(
      'SELECT sum(epsilon_micro) AS s FROM privacy_ledger WHERE contract_id = $1',
      [contractId],
    );
    expect(Number(ledger!.s)).toBeLessThanOrEqual(3_000_000);
    const first = released[0]!;
    const data = (
      await world.server.inject({
        method: 'GET',
        url: `/v1/outputs/${String(first.outputId)}/data?format=json`,
        headers: { authorization: `Bearer ${op}` },
      })
    ).json() as Record<string, unknown>[];
    expect(Object.keys(data[0]!)).toEqual(['district', 'people', 'mean_income']);
    expect(data.length).toBeGreaterThan(3);
    const jws = (
      await world.server.inject({
        method: 'GET',
        url: `/v1/outputs/${String(first.outputId)}/manifest`,
        headers: { authorization: `Bearer ${op}` },
      })
    ).body;
    const m = await verifyManifest(jws, world.platform.keys.bureauVerifier());
    expect(m.epsilonSpent).toBe(1);
    expect(m.checks.find((c) => c.check === 'differential-privacy')).toMatchObject({
      params: { epsilon: 1, countScale: 2, maxGroupsPerUnit: 1 },
    });
    const next = await submit(sql, { bounds: { income: [0, 100000] } });
    expect(next.statusCode).toBe(409);
    expect(next.json().code).toBe('ERR_BUDGET_EXHAUSTED');
  }, 60_000);
});

describe('dp over linked data, end to end (issue 31)', () => {
  let world: TestWorld;
  let op: string;
  beforeAll(async () => {
    world = await buildWorld({ rows: 4000 });
    op = await world.token('operator', 'org-a');
  }, 60_000);
  afterAll(() => world.close());

  it('residents × their visits: previewed, released with noise, each person bounded, the ε charged once', async () => {
    const body = {
      ...APPLICATION,
      mode: 'dp',
      datasets: [
        { dataset: 'population', columns: ['district', 'gender'] },
        { dataset: 'medical_visit', columns: ['hospital', 'cost'] },
      ],
    };
    // reviewers are told: visits are sensitive facts
    const preview = await world.server.inject({
      method: 'POST',
      url: '/v1/applications/preview',
      headers: { authorization: `Bearer ${op}` },
      payload: { mode: body.mode, datasets: body.datasets },
    });
    expect(preview.json().notices).toHaveLength(1);
    const contractId = await contractFor(world, body, { terms: { epsilon: 3, epsilonPerQuery: 1 } });
    const sql =
      'SELECT p.district, count(*) AS visits, count(DISTINCT p.pds_unit) AS patients, avg(m.cost) AS mean_cost, stddev(m.cost) AS sd FROM population p JOIN medical_visit m ON p.pds_unit = m.pds_unit GROUP BY p.district';
    const dp = { bounds: { cost: [0, 5000] } };
    const priced = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs/preview',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql, dp },
    });
    expect(priced.statusCode, priced.body).toBe(200);
    expect(priced.json().dp.measures.map((m: { kind: string }) => m.kind)).toEqual([
      'count',
      'persons',
      'avg',
      'stddev',
    ]);
    expect(priced.json().dp.epsilon).toBe(1);
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql, dp },
    });
    expect(res.statusCode, res.body).toBe(202);
    const job = await waitForJob(world, op, res.json().id as string);
    expect(job.status, JSON.stringify(job.reasons)).toBe('released');
    const data = (
      await world.server.inject({
        method: 'GET',
        url: `/v1/outputs/${String(job.outputId)}/data?format=json`,
        headers: { authorization: `Bearer ${op}` },
      })
    ).json() as { district: string; visits: number; patients: number; mean_cost: number; sd: number }[];
    expect(Object.keys(data[0]!)).toEqual(['district', 'visits', 'patients', 'mean_cost', 'sd']);
    // districts are a public code list: every one is shown, none selected by the data
    expect(data.map((d) => d.district).sort()).toEqual(
      [...world.platform.policies.catalog.datasets.population!.columns.district!.codes!].sort(),
    );
    // the truth, from the raw domain the operator never sees: visits per district within the noise's reach
    const truth = await readRows<{ district: string; n: number }>(
      domainPath(world.dataDir),
      'SELECT p.district, count(*)::INTEGER AS n FROM population p JOIN medical_visit m ON p.id_number = m.id_number GROUP BY 1',
    );
    for (const row of data) {
      const t = truth.find((x) => x.district === row.district)!;
      // rows are capped at 5 a person, and carry noise of scale 5 / 0.25 = 20 (four shares of ε 1)
      expect(Math.abs(row.visits - t.n)).toBeLessThan(250);
      expect(row.sd).toBeGreaterThanOrEqual(0);
    }
    const spent = await world.platform.store.one<{ s: number }>(
      'SELECT sum(epsilon_micro)::BIGINT AS s FROM privacy_ledger WHERE contract_id = $1',
      [contractId],
    );
    expect(Number(spent!.s)).toBe(1_000_000);
  }, 120_000);
});
