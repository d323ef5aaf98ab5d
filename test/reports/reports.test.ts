import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/audit/index.ts';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import {
  parsePeriod,
  periodAt,
  ReportService,
  RiskAssessmentReportSchema,
  verifyReport,
  type RiskAssessmentReport,
} from '../../src/reports/index.ts';
import { Value } from 'typebox/value';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  readRows,
  waitForJob,
  snapshotFile,
  type TestWorld,
} from '../helpers.ts';

const execFileP = promisify(execFile);
const PDS = path.join(PACKAGE_ROOT, 'bin', 'pds.js');

/** Queries that try to reach beyond the snapshot, each refused by a named analysis rule. */
const ESCAPES = [
  "SELECT * FROM read_csv('/etc/passwd')",
  'SELECT count(*) FROM duckdb_settings()',
  'SELECT count(*) FROM information_schema.tables',
  'SELECT count(*) FROM main.population',
  'SELECT count(*) FROM secrets',
  'SELECT 1; SELECT 2',
  "ATTACH '/tmp/x.duckdb' AS x",
];
const HONEST = 'SELECT district, count(*) AS n, avg(income) AS mean_income FROM population GROUP BY district';

describe('risk assessment reports', () => {
  let world: TestWorld;
  let risky: string;
  let calm: string;
  let risk: string;
  const jwks = () => createLocalJWKSet(world.platform.keys.sets.bureau.jwks() as JSONWebKeySet);

  async function run(contractId: string, sql: string, org: string): Promise<Record<string, unknown>> {
    const op = await world.token('operator', org);
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql },
    });
    expect(res.statusCode, res.body).toBe(202);
    return waitForJob(world, op, res.json().id as string);
  }

  async function report(body: object): Promise<{ report: RiskAssessmentReport; jws: string; html: string }> {
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: { authorization: `Bearer ${risk}` },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(201);
    // every report made matches the published schema exactly (closed objects: nothing extra, nothing missing)
    const made = res.json() as { report: RiskAssessmentReport; jws: string; html: string };
    expect(
      [...Value.Errors(RiskAssessmentReportSchema, made.report)].map((e) => `${e.instancePath} ${e.message}`),
    ).toEqual([]);
    return made;
  }

  beforeAll(async () => {
    world = await buildWorld();
    risk = await world.token('risk', 'org-bureau', 'zhao.lei@risk');
    risky = await approvedContract(world, 'org-a');
    calm = await approvedContract(world, 'org-b', { ...APPLICATION, scenario: { name: '平稳场景', purpose: '统计' } });
    for (const sql of ESCAPES) expect((await run(risky, sql, 'org-a')).status).toBe('rejected');
    expect((await run(risky, HONEST, 'org-a')).status).toBe('released');
    expect((await run(calm, HONEST, 'org-b')).status).toBe('released');
  }, 180_000);
  afterAll(() => world.close());

  it('rates a contract with many refused escape attempts high, with the rule, the figures and what to do', async () => {
    const { report: r, jws } = await report({ contractId: risky });
    expect(r.rating.level).toBe('high');
    expect(r.figures.escapeAttempts).toBe(ESCAPES.length);
    expect(r.figures.jobs).toMatchObject({ submitted: ESCAPES.length + 1, rejected: ESCAPES.length, released: 1 });
    expect(r.figures.outputs.released).toBe(1);
    expect(r.figures.refusals.map((x) => x.rule).sort()).toEqual(
      expect.arrayContaining(['no-table-functions', 'one-select', 'table-in-snapshot', 'unqualified-names']),
    );
    expect(r.figures.refusals.every((x) => x.category === 'escape' && x.layer === 'analysis')).toBe(true);
    expect(r.rating.findings[0]).toMatchObject({
      rule: 'escape-attempts',
      level: 'high',
      finding: expect.stringContaining(`${ESCAPES.length} 次逃逸尝试被拒绝`),
    });
    expect(r.recommendations.join(' ')).toContain('按应急预案暂停合约');
    expect(r.facts!.snapshot[0]).toMatchObject({ table: 'population', policyK: 10 });
    expect(r.partial).toBe(true);
    expect(r.period.label).toBe(periodAt(new Date(), 'quarter', '+08:00').label);
    // signed by the bureau over the canonical JSON and the page
    const claims = await verifyReport(jws, r, undefined, jwks());
    expect(claims).toMatchObject({ jti: r.id, sub: risky, rating: 'high', kind: 'contract' });
  });

  it('rates the contract of an honest operator lower, and says which rules it applied', async () => {
    const { report: r } = await report({ contractId: calm });
    expect(r.figures.escapeAttempts).toBe(0);
    expect(r.rating.level).not.toBe('high');
    expect(r.rating.findings.map((f) => f.rule)).not.toContain('escape-attempts');
    expect(r.rating.rulesApplied.map((x) => x.rule)).toEqual([
      'audit-integrity',
      'escape-attempts',
      'singling-out-attempts',
      'differencing',
      'tracker-pattern',
      'refusal-share',
      'report-unacknowledged',
      'decision-override',
      'worker-forgery',
      'os-sandbox-off',
      'privacy-budget',
      'snapshot-risk',
      'contract-interrupted',
      'effectiveness',
    ]);
  });

  it('a changed figure, finding or page no longer verifies', async () => {
    const res = await report({ contractId: risky });
    const html = (
      await world.server.inject({
        method: 'GET',
        url: `/v1/reports/${res.report.id}.html`,
        headers: { authorization: `Bearer ${risk}` },
      })
    ).body;
    await expect(verifyReport(res.jws, res.report, html, jwks())).resolves.toMatchObject({ jti: res.report.id });
    const lowered = { ...res.report, rating: { ...res.report.rating, level: 'low' as const } };
    await expect(verifyReport(res.jws, lowered, undefined, jwks())).rejects.toMatchObject({
      code: 'ERR_REPORT_SIGNATURE_INVALID',
    });
    const fewer = structuredClone(res.report);
    fewer.figures.escapeAttempts = 0;
    await expect(verifyReport(res.jws, fewer, undefined, jwks())).rejects.toMatchObject({
      code: 'ERR_REPORT_SIGNATURE_INVALID',
    });
    await expect(
      verifyReport(res.jws, res.report, html.replace(/(id="rating"[^>]*>)[^<]*</, '$1低<'), jwks()),
    ).rejects.toMatchObject({ code: 'ERR_REPORT_SIGNATURE_INVALID' });
  });

  it('serves the report as JSON and as a self-contained page; lists and filters; only risk staff and the bureau may read', async () => {
    const { report: r } = await report({ contractId: risky });
    const auth = { authorization: `Bearer ${risk}` };
    const page = await world.server.inject({ method: 'GET', url: `/v1/reports/${r.id}.html`, headers: auth });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).toContain('<svg class="chart" data-chart="jobs-by-outcome"');
    expect(page.body).not.toMatch(/<script|src="http|href="http/);
    const json = await world.server.inject({ method: 'GET', url: `/v1/reports/${r.id}`, headers: auth });
    expect(json.json()).toMatchObject({ report: { id: r.id }, html: `/v1/reports/${r.id}.html` });
    const high = await world.server.inject({
      method: 'GET',
      url: `/v1/reports?subject=${risky}&rating=high`,
      headers: auth,
    });
    expect(high.json().reports.length).toBeGreaterThan(0);
    expect(
      high.json().reports.every((x: { rating: string; subject: string }) => x.rating === 'high' && x.subject === risky),
    ).toBe(true);
    // an operator reads its own contracts' reports, never makes one, never sees another's
    const op = await world.token('operator', 'org-a');
    const opB = await world.token('operator', 'org-b');
    const asOp = (token: string, url: string) =>
      world.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    expect((await asOp(op, `/v1/reports/${r.id}`)).json().report.id).toBe(r.id);
    expect((await asOp(op, `/v1/reports/${r.id}.html`)).statusCode).toBe(200);
    expect((await asOp(opB, `/v1/reports/${r.id}`)).statusCode).toBe(404);
    expect((await asOp(opB, `/v1/reports/${r.id}.html`)).statusCode).toBe(404);
    const mine = (await asOp(opB, '/v1/reports')).json().reports as { operatorOrg: string; kind: string }[];
    expect(mine.length).toBeGreaterThan(0); // the report on its own contract, made above
    expect(mine.every((x) => x.operatorOrg === 'org-b' && x.kind !== 'domain')).toBe(true);
    expect(
      (
        await world.server.inject({
          method: 'POST',
          url: '/v1/reports',
          headers: { authorization: `Bearer ${op}` },
          payload: { contractId: risky },
        })
      ).statusCode,
    ).toBe(403);
    expect((await asOp(await world.token('provider', 'org-psb'), `/v1/reports/${r.id}`)).statusCode).toBe(403);
    expect(
      (await world.server.inject({ method: 'GET', url: '/v1/reports/rpt_doesnotexist0', headers: auth })).statusCode,
    ).toBe(404);
    const audit = await world.platform.store.all<{ actor: string; role: string }>(
      `SELECT actor, role FROM audit_log WHERE action = 'report.generated' AND object_id = $1`,
      [r.id],
    );
    expect(audit).toEqual([{ actor: 'zhao.lei@risk', role: 'risk' }]);
  });

  it('a differencing attack is answered, not held (a hold would be the oracle), and shows in the report as a tracker pattern', async () => {
    const target = await approvedContract(world, 'org-c', {
      ...APPLICATION,
      scenario: { name: '差分场景', purpose: '研究' },
    });
    expect(
      (await run(target, 'SELECT district, count(*) AS n FROM population GROUP BY district', 'org-c')).status,
    ).toBe('released');
    const snapshot = await snapshotFile(world, target);
    const [{ pds_unit: someone }] = (await readRows<{ pds_unit: string }>(
      snapshot,
      'SELECT pds_unit FROM population LIMIT 1',
    )) as [{ pds_unit: string }];
    expect(
      (
        await run(
          target,
          `SELECT district, count(*) AS n FROM population WHERE pds_unit <> '${someone}' GROUP BY district`,
          'org-c',
        )
      ).status,
    ).toBe('released');
    const { report: r } = await report({ contractId: target });
    expect(r.figures.outputs).toMatchObject({ released: 2, held: 0 });
    expect(r.figures.trackers.isolatingPairs).toBeGreaterThanOrEqual(1);
    expect(r.rating.findings.find((f) => f.rule === 'tracker-pattern')).toMatchObject({
      level: expect.stringMatching(/medium|high/),
    });
  });

  it('pds report --api asks a running server, and the files it writes verify offline', async () => {
    const address = await world.server.listen({ port: 0, host: '127.0.0.1' });
    const out = path.join(world.dataDir, 'cli-reports');
    const pds = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      execFileP(process.execPath, [PDS, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 });
    const { stdout } = await pds(['report', '--contract', risky, '--api', address, '--out', out, '--json'], {
      PDS_TOKEN: risk,
    });
    const made = JSON.parse(stdout) as { id: string; rating: string; files: Record<'json' | 'html' | 'jws', string> };
    expect(made.rating).toBe('high');
    const jwksFile = path.join(out, 'jwks.json');
    fs.writeFileSync(jwksFile, JSON.stringify(world.platform.keys.sets.bureau.jwks()));
    expect(
      (await pds(['verify-report', made.files.json, made.files.jws, '--html', made.files.html, '--jwks', jwksFile]))
        .stdout,
    ).toContain(`校验通过：报告 ${made.id}`);
    // the API recorded who asked
    const audit = await world.platform.store.all<{ actor: string }>(
      `SELECT actor FROM audit_log WHERE action = 'report.generated' AND object_id = $1`,
      [made.id],
    );
    expect(audit).toEqual([{ actor: 'zhao.lei@risk' }]);
    await expect(
      pds(['report', '--contract', risky, '--api', address, '--out', out], {
        PDS_TOKEN: await world.token('operator', 'org-a'),
      }),
    ).rejects.toMatchObject({ stderr: expect.stringContaining('ERR_AUTH_FORBIDDEN') });
  }, 60_000);

  it('refuses bad requests naming what is wrong', async () => {
    const auth = { authorization: `Bearer ${risk}` };
    const both = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: auth,
      payload: { contractId: risky, operatorOrg: 'org-a' },
    });
    expect(both.statusCode).toBe(400);
    expect(both.json().detail).toContain('exactly one of contractId, operatorOrg or domain');
    const period = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: auth,
      payload: { contractId: risky, period: '2026-Q5' },
    });
    expect(period.statusCode).toBe(400);
    const future = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: auth,
      payload: { contractId: risky, period: '2999-Q1' },
    });
    expect(future.statusCode).toBe(400);
    expect(future.json().detail).toContain('has not started');
    const before = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: auth,
      payload: { contractId: risky, period: '2020-Q1' },
    });
    expect(before.statusCode).toBe(400);
    expect(before.json()).toMatchObject({
      detail: expect.stringContaining('after 2020-Q1 ended'),
      errors: [{ field: '/body/period' }],
    });
    const nobody = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: auth,
      payload: { operatorOrg: 'org-nobody' },
    });
    expect(nobody.statusCode).toBe(404);
  });

  it('an operator report adds up its contracts and is rated no lower than the riskiest', async () => {
    const second = await approvedContract(world, 'org-a', {
      ...APPLICATION,
      scenario: { name: '第二场景', purpose: '研究' },
    });
    expect((await run(second, HONEST, 'org-a')).status).toBe('released');
    const { report: r } = await report({ operatorOrg: 'org-a' });
    expect(r.kind).toBe('operator');
    expect(r.contracts!.map((c) => c.contractId).sort()).toEqual([risky, second].sort());
    expect(r.contracts!.find((c) => c.contractId === risky)).toMatchObject({
      rating: 'high',
      escapeAttempts: ESCAPES.length,
    });
    expect(r.figures.jobs.released).toBe(2);
    expect(r.rating.level).toBe('high');
    expect(r.rating.findings.map((f) => f.rule)).toContain('contract-rating');
    const page = await world.server.inject({
      method: 'GET',
      url: `/v1/reports/${r.id}.html`,
      headers: { authorization: `Bearer ${risk}` },
    });
    expect(page.body).toContain('data-chart="contracts"');
  });

  it('the domain overview rates each operator by its riskiest contract, and the domain by its riskiest operator', async () => {
    const { report: r } = await report({ domain: true });
    expect(r).toMatchObject({ kind: 'domain', subject: 'domain', operatorOrg: '*' });
    const orgs = Object.fromEntries(r.operators!.map((o) => [o.operatorOrg, o]));
    expect(orgs['org-a']).toMatchObject({ rating: 'high', escapeAttempts: ESCAPES.length });
    expect(orgs['org-b']!.contracts).toBe(1);
    expect(r.figures.escapeAttempts).toBe(ESCAPES.length);
    expect(r.rating.level).toBe('high');
    expect(r.rating.findings.find((f) => f.rule === 'operator-rating' && f.finding.includes('org-a'))).toMatchObject({
      level: 'high',
      finding: expect.stringContaining(risky),
    });
    const page = await world.server.inject({
      method: 'GET',
      url: `/v1/reports/${r.id}.html`,
      headers: { authorization: `Bearer ${risk}` },
    });
    expect(page.body).toContain('data-chart="operators"');
    // the overview is the bureau's: no operator reads it
    const op = await world.token('operator', 'org-a');
    expect(
      (
        await world.server.inject({
          method: 'GET',
          url: `/v1/reports/${r.id}`,
          headers: { authorization: `Bearer ${op}` },
        })
      ).statusCode,
    ).toBe(404);
  });

  it('records refused submissions and shows them, with suspensions and withdrawals, in the report', async () => {
    const bureau = await world.token('bureau', 'org-bureau');
    const s = await world.server.inject({
      method: 'POST',
      url: `/v1/contracts/${calm}/suspend`,
      headers: { authorization: `Bearer ${bureau}` },
      payload: { reason: '核查中' },
    });
    expect(s.statusCode, s.body).toBe(200);
    const op = await world.token('operator', 'org-b');
    const refused = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId: calm, sql: HONEST },
    });
    expect(refused.statusCode).toBe(403);
    // someone else's contract: refused as not found, and recorded against the contract probed
    const probe = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId: risky, sql: HONEST },
    });
    expect(probe.statusCode).toBe(404);
    const audit = await world.platform.store.all<{ object_id: string; details: string; org: string }>(
      `SELECT object_id, details, org FROM audit_log WHERE action = 'job.submission_refused' ORDER BY seq`,
    );
    expect(audit.map((a) => [a.object_id, JSON.parse(a.details).code, a.org])).toEqual([
      [calm, 'ERR_CONTRACT_SUSPENDED', 'org-b'],
      [risky, 'ERR_NOT_FOUND', 'org-b'],
    ]);
    const w = await world.server.inject({
      method: 'POST',
      url: '/v1/datasets/population/withdraw',
      headers: { authorization: `Bearer ${bureau}` },
      payload: { reason: '数据主体异议' },
    });
    expect(w.statusCode, w.body).toBe(200);
    const { report: r } = await report({ contractId: calm });
    expect(r.figures.submissionsRefused).toEqual([{ code: 'ERR_CONTRACT_SUSPENDED', count: 1 }]);
    expect(r.facts!.statusEvents.map((e) => e.action)).toEqual(['contract.suspended']);
    expect(r.facts!.withdrawals).toEqual([expect.objectContaining({ dataset: 'population', reason: '数据主体异议' })]);
    expect(r.rating.findings.find((f) => f.rule === 'contract-interrupted')).toMatchObject({
      level: 'medium',
      finding: expect.stringMatching(
        /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00 合约暂停.*数据集 population 撤回：数据主体异议/,
      ),
    });
    expect(r.rating.level).not.toBe('low');
  });

  it('the scheduler reports each ended period once per contract and operator, with the trend against the period before', async () => {
    const now = periodAt(new Date(), 'quarter', '+08:00');
    const later = new Date(Date.parse(now.end) + 5 * 86_400_000);
    const scheduler = new ReportService({
      store: world.platform.store,
      keys: world.platform.keys,
      policies: world.platform.policies,
      osSandbox: 'bubblewrap (test)',
      dataDirEncryption: world.platform.dataDirEncryption,
      now: () => later,
    });
    const made = await scheduler.runSchedule();
    const contracts = (
      await world.platform.store.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM contracts')
    )[0]!.n;
    const operators = (
      await world.platform.store.all<{ n: number }>('SELECT count(DISTINCT operator_org)::INTEGER AS n FROM contracts')
    )[0]!.n;
    expect(made).toBe(contracts + operators + 1); // and the domain's
    expect(await scheduler.runSchedule()).toBe(0);
    const listed = await scheduler.list({ subject: risky, period: now.label });
    const scheduled = listed.filter((x) => x.trigger === 'schedule');
    expect(scheduled).toHaveLength(1);
    const { report: r } = await scheduler.get(scheduled[0]!.id);
    expect(r).toMatchObject({
      partial: false,
      trigger: 'schedule',
      generatedBy: SYSTEM_ACTOR.sub,
      rating: { level: 'high' },
    });
    // the next quarter, with nothing done, is measured against this one
    const next = await scheduler.generate(
      {
        kind: 'contract',
        subject: risky,
        period: parsePeriod(periodAt(later, 'quarter', '+08:00').label, '+08:00').label,
      },
      SYSTEM_ACTOR,
    );
    expect(next!.report.previousPeriod.label).toBe(now.label);
    expect(next!.report.trend.find((t) => t.metric === 'escape attempts')).toEqual({
      metric: 'escape attempts',
      current: 0,
      previous: ESCAPES.length,
      change: -1,
    });
    expect(next!.report.rating.findings.map((f) => f.rule)).not.toContain('escape-attempts');

    // an API down for two quarters makes up both when it comes back, each once
    const much = new Date(Date.parse(now.end) + 190 * 86_400_000);
    const catchUp = new ReportService({
      store: world.platform.store,
      keys: world.platform.keys,
      policies: world.platform.policies,
      osSandbox: 'bubblewrap (test)',
      dataDirEncryption: world.platform.dataDirEncryption,
      now: () => much,
    });
    expect(await catchUp.runSchedule()).toBe(2 * (contracts + operators + 1));
    expect(await catchUp.runSchedule()).toBe(0);
    const periods = (await catchUp.list({ subject: risky }))
      .filter((x) => x.trigger === 'schedule')
      .map((x) => x.period)
      .sort();
    expect(periods).toHaveLength(3);
    expect(new Set(periods).size).toBe(3);
  });

  // last: it breaks the trail for good
  it('a trail altered in the store rates every report high, naming the first bad entry', async () => {
    const before = await report({ contractId: calm });
    expect(before.report.auditTrail).toMatchObject({ ok: true });
    await world.platform.store.write((tx) => tx.run(`UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 5`));
    const { report: r } = await report({ contractId: calm });
    expect(r.auditTrail).toMatchObject({ ok: false, firstBad: { seq: 5 } });
    expect(r.rating.level).toBe('high');
    expect(r.rating.findings[0]).toMatchObject({
      rule: 'audit-integrity',
      level: 'high',
      finding: expect.stringContaining('第 5 条'),
    });
  });
});
