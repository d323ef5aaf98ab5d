import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPdsClient, must, type PdsClient } from '../../src/client/index.ts';
import { injectFetch } from '../../src/client/inject.ts';
import { verifyContract } from '../../src/contracts/index.ts';
import { ReportService } from '../../src/reports/index.ts';
import { APPLICATION, buildWorld, reviewedApplication, type TestWorld } from '../helpers.ts';

/**
 * Decision safety (policies/workflow.yaml decisionSafety; seed 001 第三十一条): an approval against a
 * risk preview that breaks the policy needs an override with a reason, recorded in the signed
 * contract, the application, the audit trail and the contract's risk report.
 */
describe('deciding on a risky application', () => {
  let world: TestWorld;
  let bureau: PdsClient;
  beforeAll(async () => {
    world = await buildWorld({ rows: 3000 });
    bureau = createPdsClient({
      baseUrl: 'http://pds.test',
      token: await world.token('bureau', 'org-bureau', 'wang@bureau'),
      fetch: injectFetch(world.server),
    });
  }, 60_000);
  afterAll(() => world.close());

  const decide = (
    id: string,
    body: { decision: 'approve' | 'reject'; reason: string; override?: { reason: string } },
  ) => must(bureau.POST('/v1/applications/{id}/decision', { params: { path: { id } }, body }));

  it('warns, refuses an approval without an override, and records one with its reason everywhere', async () => {
    // year of birth beside district, gender and education: most people are in classes below k
    const id = await reviewedApplication(world, 'org-a', {
      ...APPLICATION,
      datasets: [
        {
          dataset: 'population',
          columns: ['district', 'gender', 'birth_date', 'education', 'income'],
        },
      ],
    });
    const app = await must(bureau.GET('/v1/applications/{id}', { params: { path: { id } } }));
    expect(app.risk!.population!.k).toBeLessThan(app.risk!.population!.policyK);
    expect(app.warnings).toEqual([
      expect.stringMatching(/^population：k = \d+，低于政策要求的 k = 10；3000 条记录中有 [\d.]+%/),
      expect.stringMatching(/^population：检察官风险 [\d.]+，高于政策上限 0.2/),
    ]);

    await expect(decide(id, { decision: 'approve', reason: '场景合规' })).rejects.toMatchObject({
      status: 409,
      code: 'ERR_DECISION_OVERRIDE_REQUIRED',
      problem: { warnings: app.warnings },
    });
    await expect(
      decide(id, { decision: 'approve', reason: '场景合规', override: { reason: '  ' } }),
    ).rejects.toMatchObject({ code: 'ERR_DECISION_OVERRIDE_REQUIRED' });
    expect((await must(bureau.GET('/v1/applications/{id}', { params: { path: { id } } }))).status).toBe('pending');

    const why = '仅用于区县级汇总统计，输出经披露控制';
    const decided = (await decide(id, { decision: 'approve', reason: '场景合规', override: { reason: why } })) as {
      contractId: string;
    };
    await world.platform.builds.settled(decided.contractId);
    const after = await must(bureau.GET('/v1/applications/{id}', { params: { path: { id } } }));
    expect(after.decision?.override).toEqual({ reason: why, warnings: app.warnings, by: 'wang@bureau' });

    // in the signed contract …
    const jws = await must(
      bureau.GET('/v1/contracts/{id}/jws', { params: { path: { id: decided.contractId } }, parseAs: 'text' }),
    );
    const claims = await verifyContract(jws, world.platform.keys.bureauVerifier());
    expect(claims.decisionOverride).toEqual({ reason: why, warnings: app.warnings, by: 'wang@bureau' });
    // … in the audit trail …
    const trail = await must(bureau.GET('/v1/audit', { params: { query: { objectId: id } } }));
    expect(trail.entries.find((e) => e.action === 'application.approved')?.details).toMatchObject({
      override: { reason: why },
    });
    // … and in the contract's risk report, as a finding
    const made = await new ReportService({
      store: world.platform.store,
      keys: world.platform.keys,
      policies: world.platform.policies,
      osSandbox: 'bubblewrap',
      dataDirEncryption: world.platform.dataDirEncryption,
    }).generate(
      { kind: 'contract', subject: decided.contractId },
      { sub: 'rui@risk', org: 'org-bureau', role: 'risk' },
      'demand',
    );
    expect(made!.report.facts?.decisionOverride).toMatchObject({ reason: why });
    const finding = made!.report.rating.findings.find((f) => f.rule === 'decision-override');
    expect(finding).toMatchObject({ level: 'medium' });
    expect(finding!.finding).toContain(why);
  });

  it('a rejection needs no override, and an application within the policy needs none to approve', async () => {
    const risky = await reviewedApplication(world, 'org-b', {
      ...APPLICATION,
      datasets: [{ dataset: 'population', columns: ['district', 'birth_date', 'income'] }],
    });
    expect((await decide(risky, { decision: 'reject', reason: '风险过高' })).application.status).toBe('rejected');

    const safe = await reviewedApplication(world, 'org-b', {
      ...APPLICATION,
      datasets: [{ dataset: 'population', columns: ['gender', 'income'] }],
    });
    const app = await must(bureau.GET('/v1/applications/{id}', { params: { path: { id: safe } } }));
    expect(app.warnings).toEqual([]);
    const decided = await decide(safe, { decision: 'approve', reason: 'ok' });
    expect(decided.application.decision?.override).toBeNull();
  });
});
