import { createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPdsClient, must, type PdsClient } from '../../src/client/index.ts';
import { injectFetch } from '../../src/client/inject.ts';
import { verifyAcknowledgement } from '../../src/reports/index.ts';
import { approvedContract, buildWorld, type TestWorld } from '../helpers.ts';

/**
 * Feedback to providers (seed 002 第二十二条) and acknowledgements of risk reports (seed 002
 * 第三十四条(四)): filed, answered, due and overdue, sealed, and both in the reports.
 */
describe('feedback and acknowledgements', () => {
  let world: TestWorld;
  let contractId: string;
  let op: PdsClient;
  let otherOp: PdsClient;
  let psb: PdsClient;
  let hrss: PdsClient;
  let risk: PdsClient;
  const client = async (role: 'operator' | 'provider' | 'risk', org: string) =>
    createPdsClient({
      baseUrl: 'http://pds.test',
      token: await world.token(role, org),
      fetch: injectFetch(world.server),
    });

  beforeAll(async () => {
    world = await buildWorld();
    contractId = await approvedContract(world, 'org-a');
    op = await client('operator', 'org-a');
    otherOp = await client('operator', 'org-b');
    psb = await client('provider', 'org-psb');
    hrss = await client('provider', 'org-hrss');
    risk = await client('risk', 'org-bureau');
  }, 60_000);
  afterAll(() => world.close());

  const file = (by: PdsClient, dataset: string, contract = contractId) =>
    must(
      by.POST('/v1/datasets/{id}/feedback', {
        params: { path: { id: dataset } },
        body: { kind: 'data-quality', contractId: contract, subject: '收入字段缺失', body: '约 3% 的记录收入为空' },
      }),
    );

  it('an operator files feedback on data it used; its provider alone sees and answers it, once, by the review deadline', async () => {
    const filed = await file(op, 'population');
    expect(filed).toMatchObject({
      dataset: 'population',
      provider: 'org-psb',
      operatorOrg: 'org-a',
      overdue: false,
      answer: null,
    });
    // due like a review: five working days, ending at local midnight
    const days = (Date.parse(filed.dueAt) - Date.parse(filed.createdAt)) / 86_400_000;
    expect(days).toBeGreaterThanOrEqual(5);
    expect(days).toBeLessThanOrEqual(12);

    // on data it did not use, or under someone else's contract: refused
    await expect(file(op, 'social_insurance')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(file(otherOp, 'population')).rejects.toMatchObject({ status: 404 });

    expect((await must(psb.GET('/v1/feedback', { params: { query: { open: true } } }))).map((f) => f.id)).toContain(
      filed.id,
    );
    expect(await must(hrss.GET('/v1/feedback'))).toEqual([]);
    expect(await must(otherOp.GET('/v1/feedback'))).toEqual([]);
    await expect(
      must(hrss.POST('/v1/feedback/{id}/answer', { params: { path: { id: filed.id } }, body: { body: '不是我们的' } })),
    ).rejects.toMatchObject({ status: 404 });

    const answered = await must(
      psb.POST('/v1/feedback/{id}/answer', {
        params: { path: { id: filed.id } },
        body: { body: '已补录，下个版本生效' },
      }),
    );
    expect(answered.answer).toMatchObject({ body: '已补录，下个版本生效', by: 'provider-user@org-psb' });
    await expect(
      must(psb.POST('/v1/feedback/{id}/answer', { params: { path: { id: filed.id } }, body: { body: 'again' } })),
    ).rejects.toMatchObject({ code: 'ERR_FEEDBACK_ANSWERED' });
    expect((await must(op.GET('/v1/feedback'))).find((f) => f.id === filed.id)?.answer?.body).toBe(
      '已补录，下个版本生效',
    );
  });

  it('unanswered past its due date, feedback is overdue, and the contract report counts it', async () => {
    const late = await file(op, 'population');
    await world.platform.store.write((tx) =>
      tx.run("UPDATE dataset_feedback SET due_at = '2000-01-01T00:00:00.000Z' WHERE id = $1", [late.id]),
    );
    expect(
      (await must(psb.GET('/v1/feedback', { params: { query: { open: true } } }))).find((f) => f.id === late.id)
        ?.overdue,
    ).toBe(true);
    const made = await must(risk.POST('/v1/reports', { body: { contractId } }));
    expect(made.report.figures.feedback).toEqual({ filed: 2, answered: 1, overdue: 1 });
  });

  it('the operator acknowledges a report about it with a statement, sealed with the report; the next report shows it', async () => {
    const first = await must(risk.POST('/v1/reports', { body: { contractId } }));
    const id = first.report.id;
    await expect(
      must(otherOp.POST('/v1/reports/{id}/acknowledgement', { params: { path: { id } }, body: { statement: 'x' } })),
    ).rejects.toMatchObject({ status: 404 });
    const ack = await must(
      op.POST('/v1/reports/{id}/acknowledgement', {
        params: { path: { id } },
        body: { statement: '已核查并整改：收紧查询维度，增加内部复核' },
      }),
    );
    expect(ack).toMatchObject({ reportId: id, org: 'org-a' });
    await expect(
      must(op.POST('/v1/reports/{id}/acknowledgement', { params: { path: { id } }, body: { statement: 'again' } })),
    ).rejects.toMatchObject({ code: 'ERR_REPORT_ACKNOWLEDGED' });

    const got = await must(risk.GET('/v1/reports/{id}', { params: { path: { id } } }));
    expect(got.acknowledgements).toEqual([expect.objectContaining({ statement: ack.statement, by: ack.by })]);
    const jwks = createLocalJWKSet(await must(op.GET('/.well-known/jwks.json')));
    expect(await verifyAcknowledgement(ack, got.jws, jwks)).toMatchObject({ statement: ack.statement, org: 'org-a' });
    // sealed to this report's signature: against another report's it does not verify
    await expect(verifyAcknowledgement(ack, `${got.jws}x`, jwks)).rejects.toMatchObject({ code: 'ERR_VALIDATION' });

    const next = await must(risk.POST('/v1/reports', { body: { contractId } }));
    const listed = next.report.facts?.acknowledgements?.find((a) => a.reportId === id);
    expect(listed).toMatchObject({ statement: ack.statement });
    expect(listed?.acknowledgedAt).toBeTruthy();
    // an earlier report rated medium or high that nobody acknowledged is a finding of its own
    // (the report of the test before is rated medium — this contract was approved by override — and stands unanswered)
    const open = next.report.facts!.acknowledgements!.filter((a) => a.rating !== 'low' && !a.acknowledgedAt);
    expect(open.length).toBeGreaterThan(0);
    const finding = next.report.rating.findings.find((f) => f.rule === 'report-unacknowledged');
    expect(finding?.finding).toContain(open[0]!.reportId);
    expect(finding?.finding).not.toContain(id);
  });
});
