import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import {
  reportSha256,
  RiskAssessmentReportSchema,
  verifyReport,
  type RiskAssessmentReport,
} from '../../src/reports/index.ts';
import { signReport } from '../../src/reports/report.ts';
import { approvedContract, buildWorld, type TestWorld } from '../helpers.ts';

/** Reports every read can show (issue 32, item 4): refused before they are signed, read leniently when old. */
describe('stored reports', () => {
  let world: TestWorld;
  let risk: string;
  const jwks = () => createLocalJWKSet(world.platform.keys.sets.bureau.jwks() as JSONWebKeySet);
  const get = (url: string) =>
    world.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${risk}` } });
  const make = (contractId: string) =>
    world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: { authorization: `Bearer ${risk}` },
      payload: { contractId },
    });
  const count = async (sql: string, params: string[]) =>
    Number((await world.platform.store.one<{ n: number }>(sql, params))!.n);

  beforeAll(async () => {
    world = await buildWorld({ rows: 300 });
    risk = await world.token('risk', 'org-bureau');
  });
  afterAll(() => world?.close());

  it('a report no read could show is refused with ERR_REPORT_UNRENDERABLE naming the field; nothing is stored or signed', async () => {
    const contractId = await approvedContract(world);
    // a contract row damaged in the store (no version wrote it): its scenario has no purpose, so the
    // report lacks a field its schema requires — before, it was signed and stored, and every read was 500
    await world.platform.store.write(async (tx) => {
      const row = await tx.one<{ claims: string }>('SELECT claims FROM contracts WHERE id = $1', [contractId]);
      const claims = JSON.parse(row!.claims) as { scenario: { purpose?: string } };
      delete claims.scenario.purpose;
      await tx.run('UPDATE contracts SET claims = $2 WHERE id = $1', [contractId, JSON.stringify(claims)]);
    });
    const res = await make(contractId);
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'ERR_REPORT_UNRENDERABLE' });
    expect(res.json().detail).toContain('/scenario/purpose');
    expect(await count('SELECT count(*) AS n FROM reports WHERE subject = $1', [contractId])).toBe(0);
    expect(
      await count(`SELECT count(*) AS n FROM audit_log WHERE action = 'report.generated' AND details LIKE $1`, [
        `%${contractId}%`,
      ]),
    ).toBe(0);
    // the other reports are made as before
    const other = await make(await approvedContract(world));
    expect(other.statusCode, other.body).toBe(201);
    expect(other.json()).not.toHaveProperty('asSigned');
  });

  it('a report an earlier version made and signed reads in today’s shape, with its body as signed, which verifies', async () => {
    const made = (await make(await approvedContract(world))).json() as { report: RiskAssessmentReport };
    // the same report as a version before feedback, trackers and the OS layer made it, with a text indicator
    const old = structuredClone(made.report) as unknown as Record<string, Record<string, unknown>>;
    old.id = `${made.report.id}old` as never;
    delete old.sandbox;
    delete old.dataDirEncryption; // before issue 35
    delete old.figures!.feedback;
    delete old.figures!.trackers;
    delete old.facts!.acknowledgements;
    delete old.facts!.attackCost;
    old.facts!.effectiveness = [
      { year: 2026, passed: false, indicators: [{ name: '调用量', value: 'n/a', met: false }] },
    ];
    const report = old as unknown as RiskAssessmentReport;
    const html = '<!doctype html><title>old</title>';
    const jws = await signReport(world.platform.keys.bureau, report, reportSha256(report), html);
    await world.platform.store.write((tx) =>
      tx.run(
        `INSERT INTO reports SELECT * REPLACE ($2 AS id, $3 AS body, $4 AS html, $5 AS jws, NULL AS schedule_key) FROM reports WHERE id = $1`,
        [made.report.id, report.id, JSON.stringify(report), html, jws],
      ),
    );
    const res = await get(`/v1/reports/${report.id}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { report: RiskAssessmentReport; asSigned: string; jws: string };
    expect(body.report.facts!.effectiveness[0]!.indicators[0]).toMatchObject({ value: null });
    expect(Value.Check(RiskAssessmentReportSchema, body.report)).toBe(true);
    expect(body.report.sandbox).toEqual({ os: '' });
    // what the report did not state is not made up: no encryption state
    expect(body.report.dataDirEncryption).toBeUndefined();
    expect(body.report.figures.trackers).toMatchObject({ isolatingPairs: 0 });
    await expect(verifyReport(body.jws, JSON.parse(body.asSigned), html, jwks())).resolves.toMatchObject({
      jti: report.id,
    });
    // the console page reads it too
    expect((await get(`/v1/reports/${report.id}.html`)).body).toBe(html);
  });
});
