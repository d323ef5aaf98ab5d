import { createHash } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT_AUDIENCE, CONTRACT_ISSUER, type ContractClaims } from '../../src/contracts/index.ts';
import { buildWorld, type TestWorld, TEST_OVERRIDE } from '../helpers.ts';

/**
 * The first path end to end over a real port, as the four roles with real tokens: catalog →
 * application → provider review → bureau decision → signed contract → masked snapshot →
 * sandboxed job → disclosure control → signed release → audit.
 */
describe('end-to-end flow over HTTP', () => {
  let world: TestWorld;
  let base: string;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    world = await buildWorld({ rows: 3000 });
    await world.server.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(world.server.server.address() as { port: number }).port}`;
    tokens.operator = await world.token('operator', 'org-shuzhi');
    tokens.provider = await world.token('provider', 'org-psb');
    tokens.otherProvider = await world.token('provider', 'org-health');
    tokens.bureau = await world.token('bureau', 'org-bureau');
    tokens.risk = await world.token('risk', 'org-bureau');
  });
  afterAll(async () => world.close());

  async function call(who: string, method: string, path: string, body?: unknown) {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
  }

  /** As a client would: the contract until it leaves `building` (its build's progress never goes back). */
  async function untilBuilt(contractId: string): Promise<Record<string, unknown>> {
    let last = 0;
    for (;;) {
      const c = (await call('operator', 'GET', `/v1/contracts/${contractId}`)).json();
      if (c.status !== 'building') return c;
      expect(c.build.done, JSON.stringify(c.build)).toBeGreaterThanOrEqual(last);
      last = c.build.done;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('runs application → review → decision → contract → job → release → audit', async () => {
    const catalog = await call('operator', 'GET', '/v1/catalog');
    expect(catalog.status).toBe(200);
    const population = catalog.json().datasets.find((d: { name: string }) => d.name === 'population');
    expect(population.columns.find((c: { name: string }) => c.name === 'religion').negativeList).toBe(true);
    expect(population.columns.find((c: { name: string }) => c.name === 'id_number')).toMatchObject({
      role: 'direct',
      classification: 'general-L4',
      format: 'id-number',
    });
    expect(population.version).toMatchObject({
      version: 1,
      rows: 3000,
      contentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(
      catalog
        .json()
        .datasets.map((d: { name: string }) => d.name)
        .sort(),
    ).toEqual(['enterprise', 'medical_visit', 'population', 'social_insurance', 'utility_usage']);

    const refused = await call('operator', 'POST', '/v1/applications', {
      scenario: { name: 'x', purpose: 'y' },
      mode: 'aggregate',
      termMonths: 12,
      datasets: [{ dataset: 'population', columns: ['district', 'religion'] }],
      emergencyPlan: { contact: 'c', triggers: ['t'], actions: ['a'] },
    });
    expect(refused.status).toBe(400);
    expect(refused.json()).toMatchObject({
      code: 'ERR_COLUMN_NOT_GRANTABLE',
      errors: [{ field: '/body/datasets/0/columns/1' }],
    });

    const app = await call('operator', 'POST', '/v1/applications', {
      scenario: { name: '区县收入结构', purpose: '普惠金融' },
      mode: 'aggregate',
      termMonths: 6,
      datasets: [
        {
          dataset: 'population',
          columns: ['district', 'education', 'income', 'id_number'],
          masking: { id_number: 'pseudonymize' },
        },
      ],
      emergencyPlan: { contact: 'sec@shuzhi', triggers: ['re-identification suspected'], actions: ['suspend'] },
    });
    expect(app.status).toBe(201);
    const appId = app.json().id as string;
    // seed 001 第三十一条: the risk of the snapshot-to-be is shown before anyone decides
    expect(app.json().risk.population).toMatchObject({
      quasiIdentifiers: ['district', 'education'],
      sensitive: ['income'],
      records: 3000,
      policyK: 10,
    });
    expect(app.json().risk.population.k).toBeGreaterThanOrEqual(1);

    const early = await call('bureau', 'POST', `/v1/applications/${appId}/decision`, {
      decision: 'approve',
      reason: 'too early',
      override: TEST_OVERRIDE,
    });
    expect(early.json().code).toBe('ERR_APPLICATION_REVIEWS_INCOMPLETE');
    const wrongProvider = await call('otherProvider', 'POST', `/v1/applications/${appId}/reviews`, {
      dataset: 'population',
      decision: 'approve',
    });
    expect(wrongProvider.status).toBe(404);
    const noReason = await call('provider', 'POST', `/v1/applications/${appId}/reviews`, {
      dataset: 'population',
      decision: 'reject',
    });
    expect(noReason.json().code).toBe('ERR_REVIEW_REASON_REQUIRED');
    expect(
      (
        await call('provider', 'POST', `/v1/applications/${appId}/reviews`, {
          dataset: 'population',
          decision: 'approve',
          reason: 'ok',
        })
      ).status,
    ).toBe(200);

    const loosen = await call('bureau', 'POST', `/v1/applications/${appId}/decision`, {
      decision: 'approve',
      reason: 'x',
      override: TEST_OVERRIDE,
      terms: { minUnits: 3 },
    });
    expect(loosen.json().code).toBe('ERR_VALIDATION');
    const decision = await call('bureau', 'POST', `/v1/applications/${appId}/decision`, {
      decision: 'approve',
      reason: '合规',
      override: TEST_OVERRIDE,
      terms: { minUnits: 12 },
    });
    // answered at once: the contract is building its snapshot, signed and active once it is sealed
    expect(decision.status).toBe(202);
    const contractId = decision.json().contractId as string;
    expect(decision.json().contract).toMatchObject({
      status: 'building',
      notBefore: null,
      build: { attempts: expect.any(Number), error: null },
    });
    expect(decision.json().contract.claims.snapshot).toBeUndefined();
    const contract = await untilBuilt(contractId);
    expect(contract).toMatchObject({ status: 'active', build: null });
    expect(contract.claims).toMatchObject({ disclosure: { minUnits: 12 } });
    expect((contract.claims as ContractClaims).snapshot.tables.population!.risk).toMatchObject({
      records: 3000,
      policyK: 12,
      k: app.json().risk.population.k,
    });
    expect(
      (
        await call('bureau', 'POST', `/v1/applications/${appId}/decision`, {
          decision: 'approve',
          reason: 'again',
          override: TEST_OVERRIDE,
        })
      ).json().code,
    ).toBe('ERR_APPLICATION_NOT_PENDING');

    // the contract verifies with plain jose against the public JWKS
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const jws = await call('operator', 'GET', `/v1/contracts/${contractId}/jws`);
    expect(jws.type).toContain('application/jose');
    const { payload, protectedHeader } = await jwtVerify(jws.text, jwks, {
      issuer: CONTRACT_ISSUER,
      audience: CONTRACT_AUDIENCE,
    });
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'pds-contract+jwt' });
    expect(payload).toMatchObject({ jti: contractId, sub: 'org-shuzhi', mode: 'aggregate' });
    expect((payload.exp! - payload.nbf!) / 86400).toBeGreaterThan(180);
    expect((payload.exp! - payload.nbf!) / 86400).toBeLessThan(185);

    const job = await call('operator', 'POST', '/v1/jobs', {
      contractId,
      name: 'by district and education',
      sql: 'SELECT district, education, count(*) AS people, round(avg(income)) AS avg_income FROM population GROUP BY ALL ORDER BY 1, 2',
    });
    expect(job.status).toBe(202);
    let status: Record<string, unknown> = job.json();
    while (['queued', 'running'].includes(String(status.status))) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await call('operator', 'GET', `/v1/jobs/${job.json().id}`)).json();
    }
    expect(status.status).toBe('released');

    const outputId = String(status.outputId);
    const output = (await call('operator', 'GET', `/v1/outputs/${outputId}`)).json();
    expect(output.checks.map((c: { check: string }) => c.check)).toEqual([
      'perturbation',
      'min-units',
      'secondary-suppression',
      'dominance',
      'round-counts',
      'identifier-scan',
      'max-rows',
      'earlier-answers',
      'differencing',
    ]);
    expect(output.checks[0].params).toMatchObject({ countMaxNoise: 3, countVariance: 1 });
    expect(output.checks[1].params.k).toBe(12);
    expect(output.cellsSuppressed).toBeGreaterThan(0);

    const csv = await call('operator', 'GET', `/v1/outputs/${outputId}/data?format=csv`);
    expect(csv.type).toContain('text/csv');
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('district,education,people,avg_income');
    expect(lines.length - 1).toBe(output.rowCount);
    // nothing under k left the domain, and counts are rounded to 5 (a true 12 shows as 10)
    expect(lines.slice(1).every((l) => Number(l.split(',')[2]) >= 10 && Number(l.split(',')[2]) % 5 === 0)).toBe(true);

    const asJson = (await call('operator', 'GET', `/v1/outputs/${outputId}/data?format=json`)).json();
    expect(asJson).toHaveLength(output.rowCount);
    expect(typeof asJson[0].people).toBe('number');

    const manifest = await call('operator', 'GET', `/v1/outputs/${outputId}/manifest`);
    const m = await jwtVerify(manifest.text, jwks, { issuer: CONTRACT_ISSUER });
    expect(m.protectedHeader.typ).toBe('pds-manifest+jwt');
    expect(m.payload).toMatchObject({
      contractId,
      jobId: job.json().id,
      output: { id: outputId, sha256: createHash('sha256').update(csv.text).digest('hex'), rows: output.rowCount },
      dataSources: [{ dataset: 'population', provider: 'org-psb', providerName: '市公安局' }],
      snapshotHash: payload.snapshot && (payload.snapshot as { hash: string }).hash,
      cellsSuppressed: output.cellsSuppressed,
    });

    // the bureau sees a released output but cannot download it (reviewers read only held data); only its operator can
    expect((await call('bureau', 'GET', `/v1/outputs/${outputId}`)).status).toBe(200);
    expect((await call('bureau', 'GET', `/v1/outputs/${outputId}/data`)).status).toBe(404);

    const audit = (await call('risk', 'GET', '/v1/audit?limit=1000')).json().entries as { action: string }[];
    const actions = audit.map((e) => e.action);
    for (const a of [
      'application.submitted',
      'review.approved',
      'application.approved',
      'snapshot.built',
      'contract.signed',
      'job.submitted',
      'job.started',
      'output.released',
      'output.downloaded',
    ]) {
      expect(actions).toContain(a);
    }
    expect((await call('risk', 'GET', '/v1/audit/verify')).json()).toMatchObject({ ok: true });

    // an export of the trail is JSON Lines, and taking it is recorded, naming up to which entry
    const exported = await call('risk', 'GET', '/v1/audit/export');
    expect(exported.type).toMatch(/^application\/x-ndjson/);
    const trail = exported.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; seq: number });
    const last = trail.filter((l) => l.type === 'entry').at(-1)!;
    const after = (await call('risk', 'GET', `/v1/audit?after=${last.seq}`)).json().entries as {
      action: string;
      details: { entries: number };
    }[];
    expect(after[0]).toMatchObject({ action: 'audit.exported', details: { entries: last.seq } });
  });

  it('rejects an escape attempt with a reason and records it', async () => {
    const app = await call('operator', 'POST', '/v1/applications', {
      scenario: { name: 's', purpose: 'p' },
      mode: 'aggregate',
      termMonths: 1,
      datasets: [{ dataset: 'population', columns: ['district'] }],
      emergencyPlan: { contact: 'c', triggers: ['t'], actions: ['a'] },
    });
    const appId = app.json().id;
    await call('provider', 'POST', `/v1/applications/${appId}/reviews`, { dataset: 'population', decision: 'approve' });
    const contractId = (
      await call('bureau', 'POST', `/v1/applications/${appId}/decision`, {
        decision: 'approve',
        reason: 'ok',
        override: TEST_OVERRIDE,
      })
    ).json().contractId;
    expect(await untilBuilt(contractId)).toMatchObject({ status: 'active' });
    const job = await call('operator', 'POST', '/v1/jobs', {
      contractId,
      sql: "SELECT * FROM read_parquet('/etc/shadow')",
    });
    let status: Record<string, unknown> = job.json();
    while (['queued', 'running'].includes(String(status.status))) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await call('operator', 'GET', `/v1/jobs/${job.json().id}`)).json();
    }
    expect(status).toMatchObject({
      status: 'rejected',
      reasons: [{ code: 'ERR_SQL_FUNCTION_NOT_ALLOWED' }],
      outputId: null,
    });
    const audit = (await call('bureau', 'GET', `/v1/audit?objectId=${job.json().id}`)).json().entries as {
      action: string;
      details: { reasons?: string[] };
    }[];
    expect(audit.find((e) => e.action === 'job.rejected')?.details.reasons).toEqual(['ERR_SQL_FUNCTION_NOT_ALLOWED']);
  });

  it('serves health, JWKS and the OpenAPI document without a token', async () => {
    expect((await call('', 'GET', '/healthz')).json()).toMatchObject({
      status: 'ok',
      executor: 'embedded',
      sandbox: { os: expect.stringMatching(/^bubblewrap [0-9.]+, seccomp on$/) },
    });
    const jwks = (await call('', 'GET', '/.well-known/jwks.json')).json();
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(jwks.keys[0].d).toBeUndefined();
    const openapi = (await call('', 'GET', '/openapi.json')).json();
    expect(openapi.openapi).toBe('3.1.0');
    for (const p of [
      '/v1/applications',
      '/v1/applications/{id}/reviews',
      '/v1/applications/{id}/decision',
      '/v1/jobs',
      '/v1/outputs/{id}/data',
      '/v1/audit/verify',
    ]) {
      expect(Object.keys(openapi.paths)).toContain(p);
    }
    expect((await call('', 'GET', '/docs/')).status).toBe(200);
    const missing = await call('', 'GET', '/v1/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.type).toContain('application/problem+json');
  });
});
