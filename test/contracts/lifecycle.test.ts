import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractClaims } from '../../src/contracts/index.ts';
import type { EmbeddedExecutor } from '../../src/jobs/index.ts';
import { outputIdFor } from '../../src/ids/index.ts';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  waitForJob,
  snapshotFile,
  SLOWDOWN,
  type TestWorld,
  TEST_OVERRIDE,
  settledContract,
  signedContract,
} from '../helpers.ts';

/**
 * The contract workflow and lifecycle over HTTP against a real platform: application, reviews,
 * decision with terms, suspend/resume/revoke with their effect on jobs, effectiveness
 * assessments, review deadlines and key rotation.
 */
describe('contract workflow and lifecycle', () => {
  let world: TestWorld;
  let op: string;
  let opB: string;
  let prov: string;
  let provHrss: string;
  let bur: string;
  let bur2: string;
  let risk: string;
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  const post = (t: string, url: string, payload: object) =>
    world.server.inject({ method: 'POST', url, headers: auth(t), payload });
  const get = (t: string, url: string) => world.server.inject({ method: 'GET', url, headers: auth(t) });
  const executor = () => world.platform.executor as EmbeddedExecutor;
  const submit = (contractId: string) =>
    post(op, '/v1/jobs', { contractId, sql: 'SELECT district, count(*) AS n FROM population GROUP BY district' });
  /** Submits a job while the executor is paused, makes `change` while it waits, then lets the executor go. */
  const queueThen = async (contractId: string, change: (jobId: string) => Promise<unknown>): Promise<string> => {
    executor().pause();
    try {
      const jobId = (await submit(contractId)).json().id as string;
      await change(jobId);
      return jobId;
    } finally {
      executor().resume();
    }
  };

  beforeAll(async () => {
    world = await buildWorld();
    [op, opB, prov, provHrss, bur, bur2, risk] = await Promise.all([
      world.token('operator', 'org-a'),
      world.token('operator', 'org-b'),
      world.token('provider', 'org-psb'),
      world.token('provider', 'org-hrss'),
      world.token('bureau', 'org-bureau'),
      world.token('bureau', 'org-bureau', 'second@bureau'),
      world.token('risk', 'org-risk'),
    ]);
  });
  afterAll(async () => world.close());

  describe('applications and decisions', () => {
    it('refuses a term over three years (seed 002 第三十二条) naming the field', async () => {
      const res = await post(op, '/v1/applications', { ...APPLICATION, termMonths: 37 });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'ERR_VALIDATION',
        errors: [expect.objectContaining({ field: '/body/termMonths' })],
      });
    });

    it('an operator cannot apply for another organisation', async () => {
      const res = await post(op, '/v1/applications', { ...APPLICATION, operatorOrg: 'org-b' });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'ERR_AUTH_FORBIDDEN', errors: [{ field: '/body/operatorOrg' }] });
      const own = await post(op, '/v1/applications', { ...APPLICATION, operatorOrg: 'org-a' });
      expect(own.statusCode).toBe(201);
      expect(own.json().operatorOrg).toBe('org-a');
    });

    it('a provider cannot review another provider’s dataset; one rejection blocks approval (409)', async () => {
      const body = {
        ...APPLICATION,
        datasets: [...APPLICATION.datasets, { dataset: 'social_insurance', columns: ['month', 'base_salary'] }],
      };
      const app = await post(op, '/v1/applications', body);
      expect(app.statusCode).toBe(201);
      const id = app.json().id as string;
      const wrong = await post(prov, `/v1/applications/${id}/reviews`, {
        dataset: 'social_insurance',
        decision: 'approve',
      });
      expect(wrong.statusCode).toBe(403);
      expect(wrong.json().code).toBe('ERR_REVIEW_NOT_PROVIDER');
      expect(
        (await post(prov, `/v1/applications/${id}/reviews`, { dataset: 'population', decision: 'approve' })).statusCode,
      ).toBe(200);
      const noReason = await post(provHrss, `/v1/applications/${id}/reviews`, {
        dataset: 'social_insurance',
        decision: 'reject',
      });
      expect(noReason.json().code).toBe('ERR_REVIEW_REASON_REQUIRED');
      expect(
        (
          await post(provHrss, `/v1/applications/${id}/reviews`, {
            dataset: 'social_insurance',
            decision: 'reject',
            reason: '缴费基数不在授权范围',
          })
        ).statusCode,
      ).toBe(200);
      const decision = await post(bur, `/v1/applications/${id}/decision`, {
        decision: 'approve',
        reason: 'ok',
        override: TEST_OVERRIDE,
      });
      expect(decision.statusCode).toBe(409);
      expect(decision.json().code).toBe('ERR_APPLICATION_REVIEWS_INCOMPLETE');
      expect(decision.json().detail).toContain('social_insurance (rejected)');
    });

    it('the bureau may tighten terms, never loosen them, and the contract is signed with the tightened terms', async () => {
      const app = await post(op, '/v1/applications', APPLICATION);
      const id = app.json().id as string;
      await post(prov, `/v1/applications/${id}/reviews`, { dataset: 'population', decision: 'approve' });
      const loosen = await post(bur, `/v1/applications/${id}/decision`, {
        decision: 'approve',
        reason: 'x',
        override: TEST_OVERRIDE,
        terms: {
          termMonths: 13,
          minUnits: 3,
          maxRows: 20000,
          epsilon: 1,
          columns: { population: ['district', 'id_number'], enterprise: ['industry'] },
        },
      });
      expect(loosen.statusCode).toBe(400);
      expect(
        loosen
          .json()
          .errors.map((e: { field: string }) => e.field)
          .sort(),
      ).toEqual([
        '/body/terms/columns/enterprise',
        '/body/terms/columns/population',
        '/body/terms/epsilon',
        '/body/terms/maxRows',
        '/body/terms/minUnits',
        '/body/terms/termMonths',
      ]);
      const ok = await post(bur, `/v1/applications/${id}/decision`, {
        decision: 'approve',
        reason: '收紧',
        override: TEST_OVERRIDE,
        terms: { termMonths: 6, minUnits: 20, maxRows: 500, columns: { population: ['district', 'income'] } },
      });
      const contract = await settledContract(world, await signedContract(world, ok));
      const claims = contract.claims as ContractClaims;
      expect(claims.disclosure).toEqual({ minUnits: 20, maxRows: 500 });
      expect(claims.datasets[0]!.columns.map((c: { column: string }) => c.column)).toEqual(['district', 'income']);
      expect(claims.snapshot.tables.population!.columns).not.toContain('gender');
      expect(ok.json().application.decision.terms).toMatchObject({
        termMonths: 6,
        minUnits: 20,
        maxRows: 500,
        epsilon: null,
      });
      const months = (Date.parse(String(contract.expiresAt)) - Date.parse(String(contract.notBefore))) / 86_400_000;
      expect(months).toBeGreaterThan(180);
      expect(months).toBeLessThan(186);
    });

    it('signs a dp-mode contract with an ε budget within the policy ceiling', async () => {
      const app = await post(op, '/v1/applications', { ...APPLICATION, mode: 'dp' });
      const id = app.json().id as string;
      await post(prov, `/v1/applications/${id}/reviews`, { dataset: 'population', decision: 'approve' });
      const over = await post(bur, `/v1/applications/${id}/decision`, {
        decision: 'approve',
        reason: 'x',
        override: TEST_OVERRIDE,
        terms: { epsilon: 11 },
      });
      expect(over.json().errors).toEqual([expect.objectContaining({ field: '/body/terms/epsilon' })]);
      const ok = await post(bur, `/v1/applications/${id}/decision`, {
        decision: 'approve',
        reason: 'x',
        override: TEST_OVERRIDE,
        terms: { epsilon: 4 },
      });
      expect(ok.json().contract.claims.privacyBudget).toEqual({ epsilon: 4, epsilonPerQuery: 1 });
      const job = await submit(await signedContract(world, ok));
      // dp jobs run now (test/jobs/dp.test.ts): this one is accepted and queued
      expect(job.statusCode).toBe(202);
    });
  });

  describe('suspend, resume, revoke', () => {
    it('enforces who may do what, and which transitions exist', async () => {
      const contractId = await approvedContract(world);
      const byOperator = await post(op, `/v1/contracts/${contractId}/suspend`, { reason: 'x' });
      expect(byOperator.statusCode).toBe(403);
      const noReason = await post(risk, `/v1/contracts/${contractId}/suspend`, {});
      expect(noReason.statusCode).toBe(400);
      const suspended = await post(risk, `/v1/contracts/${contractId}/suspend`, { reason: '疑似重识别' });
      expect(suspended.statusCode).toBe(200);
      expect(suspended.json()).toMatchObject({
        status: 'suspended',
        statusReason: '疑似重识别',
        statusChangedBy: 'risk-user@org-risk',
      });
      expect((await submit(contractId)).json().code).toBe('ERR_CONTRACT_SUSPENDED');
      expect((await post(risk, `/v1/contracts/${contractId}/resume`, { reason: 'x' })).statusCode).toBe(403);
      expect((await post(risk, `/v1/contracts/${contractId}/suspend`, { reason: 'again' })).json().code).toBe(
        'ERR_CONTRACT_STATE',
      );
      expect((await post(bur, `/v1/contracts/${contractId}/resume`, { reason: '整改完成' })).json().status).toBe(
        'active',
      );
      expect((await submit(contractId)).statusCode).toBe(202);
      await executor().idle();
      const revoked = await post(bur, `/v1/contracts/${contractId}/revoke`, { reason: '违规使用' });
      expect(revoked.json().status).toBe('revoked');
      expect((await post(bur, `/v1/contracts/${contractId}/resume`, { reason: 'x' })).json().code).toBe(
        'ERR_CONTRACT_STATE',
      );
      expect((await submit(contractId)).json().code).toBe('ERR_CONTRACT_REVOKED');
      // revocation closes supply: the snapshot is gone, and the audit says so
      expect(fs.existsSync(`${world.dataDir}/snapshots/${contractId}.duckdb`)).toBe(false);
      const audit = (await get(bur, `/v1/audit?objectId=${contractId}`)).json().entries as {
        action: string;
        reason: string | null;
        actor: string;
      }[];
      expect(audit.map((e) => e.action)).toEqual(
        expect.arrayContaining(['contract.suspended', 'contract.resumed', 'contract.revoked', 'snapshot.deleted']),
      );
      expect(audit.find((e) => e.action === 'contract.suspended')).toMatchObject({
        actor: 'risk-user@org-risk',
        reason: '疑似重识别',
      });
    });

    it('a job queued, then its contract revoked before a worker picks it up, fails with ERR_CONTRACT_REVOKED and nothing is released', async () => {
      const contractId = await approvedContract(world);
      const jobId = await queueThen(contractId, async (id) => {
        expect((await get(op, `/v1/jobs/${id}`)).json().status).toBe('queued');
        expect((await post(bur, `/v1/contracts/${contractId}/revoke`, { reason: '授权终止' })).statusCode).toBe(200);
      });
      expect(await waitForJob(world, op, jobId)).toMatchObject({
        status: 'failed',
        outputId: null,
        reasons: [{ code: 'ERR_CONTRACT_REVOKED' }],
      });
      await executor().idle();
      expect(await world.platform.store.all('SELECT id FROM outputs WHERE contract_id = $1', [contractId])).toEqual([]);
    });

    it('the check right before a run stops a queued job even when the status changed behind the API', async () => {
      const contractId = await approvedContract(world);
      // another API instance revoked it and this queue never heard: the worker must still refuse
      const jobId = await queueThen(contractId, () =>
        world.platform.store.write((tx) =>
          tx.run("UPDATE contracts SET status = 'revoked', status_reason = 'elsewhere' WHERE id = $1", [contractId]),
        ),
      );
      expect(await waitForJob(world, op, jobId)).toMatchObject({
        status: 'failed',
        reasons: [{ code: 'ERR_CONTRACT_REVOKED' }],
      });
    });

    it('a contract whose term ended while a job waited: the job fails with ERR_CONTRACT_EXPIRED', async () => {
      const contractId = await approvedContract(world);
      const jobId = await queueThen(contractId, () =>
        world.platform.store.write((tx) =>
          tx.run("UPDATE contracts SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = $1", [contractId]),
        ),
      );
      expect(await waitForJob(world, op, jobId)).toMatchObject({
        status: 'failed',
        reasons: [{ code: 'ERR_CONTRACT_EXPIRED' }],
      });
      expect((await get(op, `/v1/contracts/${contractId}`)).json().status).toBe('expired');
    });

    it('housekeeping closes an ended contract for good: recorded, its queued job failed, its snapshot deleted', async () => {
      const contractId = await approvedContract(world);
      const suspended = await approvedContract(world);
      expect((await post(risk, `/v1/contracts/${suspended}/suspend`, { reason: '核查' })).statusCode).toBe(200);
      const snapshot = await snapshotFile(world, contractId);
      const jobId = await queueThen(contractId, async () => {
        await world.platform.store.write((tx) =>
          tx.run("UPDATE contracts SET expires_at = '2001-01-01T00:00:00.000Z' WHERE id IN ($1, $2)", [
            contractId,
            suspended,
          ]),
        );
        await world.platform.contracts.expireDue();
      });
      // the platform's own housekeeping may have been first: either way each ends once
      const rows = await world.platform.store.all<{ id: string; status: string }>(
        'SELECT id, status FROM contracts WHERE id IN ($1, $2) ORDER BY id',
        [contractId, suspended],
      );
      expect(rows.map((r) => r.status)).toEqual(['expired', 'expired']);
      expect(await waitForJob(world, op, jobId)).toMatchObject({
        status: 'failed',
        reasons: [{ code: 'ERR_CONTRACT_EXPIRED' }],
      });
      expect(fs.existsSync(snapshot)).toBe(false);
      const audit = await world.platform.store.all<{ action: string; actor: string }>(
        'SELECT action, actor FROM audit_log WHERE object_id = $1 ORDER BY seq',
        [contractId],
      );
      // the deletion's destruction record is sealed after the files are gone (docs/architecture.md §19)
      expect(audit.map((a) => a.action).slice(-3)).toEqual(['contract.expired', 'snapshot.deleted', 'data.destroyed']);
      expect(audit.filter((a) => a.action === 'contract.expired')).toEqual([
        { action: 'contract.expired', actor: 'system' },
      ]);
      expect(await world.platform.contracts.expireDue()).toEqual([]);
      // an ended contract is not resumed
      expect((await post(bur, `/v1/contracts/${suspended}/resume`, { reason: 'x' })).json().code).toBe(
        'ERR_CONTRACT_STATE',
      );
    });

    it('a revocation that commits after the output was written stops the release inside its transaction', async () => {
      const contractId = await approvedContract(world);
      const outputs = world.platform.outputs;
      const keep = outputs.keep.bind(outputs);
      // the revocation lands after the output's files are kept, before the release transaction
      outputs.keep = async (...args) => {
        const forms = await keep(...args);
        await world.platform.store.write((tx) =>
          tx.run("UPDATE contracts SET status = 'revoked' WHERE id = $1", [contractId]),
        );
        return forms;
      };
      let jobId: string;
      try {
        jobId = (await submit(contractId)).json().id as string;
        expect(await waitForJob(world, op, jobId)).toMatchObject({
          status: 'failed',
          outputId: null,
          reasons: [{ code: 'ERR_CONTRACT_REVOKED' }],
        });
      } finally {
        outputs.keep = keep;
      }
      expect(await world.platform.store.all('SELECT id FROM outputs WHERE contract_id = $1', [contractId])).toEqual([]);
      // the files written before the transaction are gone with it
      expect(fs.readdirSync(`${world.dataDir}/outputs`).filter((f) => f.startsWith(outputIdFor(jobId)))).toEqual([]);
    });

    it('suspension cancels queued and running jobs', async () => {
      const contractId = await approvedContract(world);
      // hold the first job between its run and its release: it is running when the suspension lands
      // (waiting on that event, not on a poll that a fast job may outrun)
      const outputs = world.platform.outputs;
      const keep = outputs.keep.bind(outputs);
      let reached!: () => void;
      const held = new Promise<void>((r) => (reached = r));
      let go!: () => void;
      const gate = new Promise<void>((r) => (go = r));
      outputs.keep = async (...args) => {
        reached();
        await gate;
        return keep(...args);
      };
      try {
        executor().pause();
        const queued = [(await submit(contractId)).json().id as string, (await submit(contractId)).json().id as string];
        executor().resume();
        await held;
        expect((await get(op, `/v1/jobs/${queued[0]}`)).json().status).toBe('running');
        const res = await post(bur, `/v1/contracts/${contractId}/suspend`, { reason: '应急预案触发' });
        expect(res.json().status).toBe('suspended');
        go();
        await executor().idle();
        for (const id of queued)
          expect((await get(op, `/v1/jobs/${id}`)).json()).toMatchObject({
            status: 'cancelled',
            outputId: null,
            reasons: [{ code: 'ERR_CONTRACT_SUSPENDED' }],
          });
      } finally {
        outputs.keep = keep;
        go();
      }
      expect(await world.platform.store.all('SELECT id FROM outputs WHERE contract_id = $1', [contractId])).toEqual([]);
    });

    it('lists contracts by status; an operator sees only its own', async () => {
      const mine = (await get(op, '/v1/contracts')).json() as { operatorOrg: string }[];
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.every((c) => c.operatorOrg === 'org-a')).toBe(true);
      expect((await get(opB, '/v1/contracts')).json()).toEqual([]);
      const revoked = (await get(bur, '/v1/contracts?status=revoked')).json() as { status: string }[];
      expect(revoked.length).toBeGreaterThanOrEqual(2);
      expect(revoked.every((c) => c.status === 'revoked')).toBe(true);
    });
  });

  describe('effectiveness assessments (seed 002 第三十五条)', () => {
    const assessment = (year: number, passed: boolean) => ({
      year,
      passed,
      assessor: '第三方评估机构',
      indicators: [{ name: '数据产品调用量', value: passed ? 1200 : 3, target: 100, met: passed }],
    });

    it('two consecutive failing years revoke the contract with that reason', async () => {
      const contractId = await approvedContract(world);
      const year = new Date().getUTCFullYear();
      expect((await post(risk, `/v1/contracts/${contractId}/assessments`, assessment(year, false))).statusCode).toBe(
        403,
      );
      expect(
        (await post(bur, `/v1/contracts/${contractId}/assessments`, assessment(year - 5, false))).json().code,
      ).toBe('ERR_VALIDATION');
      const first = await post(bur, `/v1/contracts/${contractId}/assessments`, assessment(year, false));
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({ revoked: false, contract: { status: 'active' } });
      expect((await post(bur2, `/v1/contracts/${contractId}/assessments`, assessment(year, true))).json().code).toBe(
        'ERR_CONFLICT',
      );
      const second = await post(bur, `/v1/contracts/${contractId}/assessments`, assessment(year + 1, false));
      expect(second.json()).toMatchObject({ revoked: true, contract: { status: 'revoked' } });
      expect(second.json().contract.statusReason).toContain(`${year}, ${year + 1}`);
      expect(second.json().contract.statusReason).toContain('第三十五条');
      const list = (await get(op, `/v1/contracts/${contractId}/assessments`)).json() as {
        year: number;
        passed: boolean;
      }[];
      expect(list.map((a) => [a.year, a.passed])).toEqual([
        [year, false],
        [year + 1, false],
      ]);
    });

    it('an indicator is a number or not measured (null): "n/a" is refused naming the field, and an old text value stored earlier never breaks a report (issue 32)', async () => {
      const contractId = await approvedContract(world);
      const year = new Date().getUTCFullYear();
      const text = await post(bur, `/v1/contracts/${contractId}/assessments`, {
        ...assessment(year, true),
        indicators: [{ name: '调用量', value: 'n/a', met: true }],
      });
      expect(text.statusCode).toBe(400);
      expect(text.json().errors[0].field).toMatch(/^\/body\/indicators\/0\/value/);
      const unmeasured = await post(bur, `/v1/contracts/${contractId}/assessments`, {
        ...assessment(year, true),
        indicators: [{ name: '调用量', value: null, target: 100, met: false }],
      });
      expect(unmeasured.statusCode, unmeasured.body).toBe(201);
      // a text value stored before the schema was strict: reports of the contract still render and read
      await world.platform.store.write((tx) =>
        tx.run(
          `UPDATE effectiveness_assessments SET indicators = '[{"name":"调用量","value":"n/a","target":"100","met":false}]' WHERE contract_id = $1`,
          [contractId],
        ),
      );
      const made = await post(risk, '/v1/reports', { contractId });
      expect(made.statusCode, made.body).toBe(201);
      const reportId = made.json().report.id as string;
      const read = await get(risk, `/v1/reports/${reportId}`);
      expect(read.statusCode, read.body).toBe(200);
      const listed = (await get(op, `/v1/contracts/${contractId}/assessments`)).json() as {
        indicators: { value: unknown; target?: unknown }[];
      }[];
      expect(listed[0]!.indicators[0]).toMatchObject({ value: null, target: 100 });
    });

    it('a pass between two failures does not revoke', async () => {
      const contractId = await approvedContract(world, 'org-a', { ...APPLICATION, termMonths: 36 });
      const year = new Date().getUTCFullYear();
      await post(bur, `/v1/contracts/${contractId}/assessments`, assessment(year, false));
      await post(bur, `/v1/contracts/${contractId}/assessments`, assessment(year + 1, true));
      const third = await post(bur, `/v1/contracts/${contractId}/assessments`, assessment(year + 2, false));
      expect(third.json()).toMatchObject({ revoked: false, contract: { status: 'active' } });
    });
  });

  describe('review deadlines', () => {
    it('each review carries a due date; overdue reviews are listed for the bureau and the provider', async () => {
      const app = await post(op, '/v1/applications', APPLICATION);
      const { id, reviews, createdAt } = app.json();
      expect(Date.parse(reviews[0].dueAt)).toBeGreaterThan(Date.parse(createdAt) + 5 * 86_400_000);
      expect(reviews[0].overdue).toBe(false);
      expect(
        ((await get(bur, '/v1/reviews?overdue=true')).json() as { applicationId: string }[]).map(
          (r) => r.applicationId,
        ),
      ).not.toContain(id);
      await world.platform.store.write((tx) =>
        tx.run("UPDATE application_reviews SET due_at = '2026-01-01T00:00:00.000Z' WHERE application_id = $1", [id]),
      );
      const overdue = (await get(bur, '/v1/reviews?overdue=true')).json() as {
        applicationId: string;
        overdue: boolean;
        provider: string;
        scenario: string;
      }[];
      expect(overdue.find((r) => r.applicationId === id)).toMatchObject({
        overdue: true,
        provider: 'org-psb',
        scenario: APPLICATION.scenario.name,
      });
      expect(
        ((await get(prov, '/v1/reviews?overdue=true')).json() as { applicationId: string }[]).map(
          (r) => r.applicationId,
        ),
      ).toContain(id);
      expect((await get(provHrss, '/v1/reviews?overdue=true')).json()).toEqual([]);
      expect((await get(op, '/v1/reviews')).statusCode).toBe(403);
      expect((await get(op, `/v1/applications/${id}`)).json().reviews[0].overdue).toBe(true);
    });
  });

  describe('key rotation', () => {
    it('contracts signed before a rotation keep running jobs; new ones are signed by the new key', async () => {
      const before = await approvedContract(world);
      const oldKid = world.platform.keys.bureau.kid;
      world.platform.keys.sets.bureau.rotate();
      const jwks = (await world.server.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as {
        keys: { kid: string }[];
      };
      expect(jwks.keys.map((k) => k.kid)).toEqual([world.platform.keys.bureau.kid, oldKid]);
      const jobId = (await submit(before)).json().id as string;
      expect(await waitForJob(world, op, jobId)).toMatchObject({ status: 'released' });
      const after = await approvedContract(world);
      const header = JSON.parse(
        Buffer.from((await get(op, `/v1/contracts/${after}/jws`)).body.split('.')[0]!, 'base64url').toString(),
      );
      expect(header.kid).toBe(world.platform.keys.bureau.kid);
      expect(header.kid).not.toBe(oldKid);
      // the running platform's housekeeping puts the rotation in the audit trail
      const rotated = async () =>
        (
          await world.platform.store.all<{ details: string }>(
            `SELECT details FROM audit_log WHERE action = 'keys.current' AND object_id = 'bureau' ORDER BY seq`,
          )
        ).map((r) => JSON.parse(r.details) as { kid: string; previous: string | null });
      const deadline = Date.now() + 15_000 * SLOWDOWN;
      while ((await rotated()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(await rotated()).toEqual([
        { kid: oldKid, previous: null },
        { kid: header.kid, previous: oldKid },
      ]);
    }, 30_000);
  });
});
