import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape } from '../../src/metrics/index.ts';
import type { RunOutcome, RunSpec } from '../../src/protocol/index.ts';
import type { RiskAssessmentReport } from '../../src/reports/index.ts';
import { executeRun } from '../../src/sandbox/index.ts';
import { approvedContract, buildWorld, submitJob, waitForJob, type TestWorld } from '../helpers.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

/**
 * Spot checks of remote work (docs/architecture.md §4, issue 32): a worker that lies — it runs the
 * query as handed, then inflates the hidden unit counts and the counts of its result, in the right
 * shape — is caught when the API re-executes the run on its own runner: its credential revoked,
 * the forged result never released, every output of it no check verified withheld, and the
 * forgery in the audit trail, the risk report and the metrics. An honest worker's checked result
 * is released and recorded as verified.
 */

const SQL = 'SELECT district, count(*) AS n FROM population GROUP BY district';
const BUREAU = { sub: 'bureau-user@org-bureau', org: 'org-bureau', roles: ['bureau'] };

type Lie = (outcome: Extract<RunOutcome, { ok: true }>, plan: { unitsColumn: string }) => RunOutcome;

/** The forgery: every cell's units and count ten times what they are. */
const inflate: Lie = (o, plan) => {
  const units = o.columns.findIndex((c) => c.name === plan.unitsColumn);
  const n = o.columns.findIndex((c) => c.name === 'n');
  const times10 = (v: unknown) => (typeof v === 'string' ? String(BigInt(v) * 10n) : Number(v) * 10);
  return { ...o, rows: o.rows.map((r) => r.map((v, i) => (i === units || i === n ? times10(v) : v))) };
};

describe('spot checks of remote workers (BullMQ executor)', () => {
  let redis: TestRedis;
  let world: TestWorld;
  let contractId: string;
  let op: string;
  const spot = () => world.platform.policies.sandbox.spotCheck;

  const post = (url: string, credential: string, payload: object) =>
    world.server.inject({ method: 'POST', url, headers: { authorization: `Bearer ${credential}` }, payload });
  const asOperator = (url: string) =>
    world.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${op}` } });
  const register = async (name: string) => {
    const { worker, credential } = await world.platform.workers.register(BUREAU, { name });
    return { id: worker.id, credential };
  };

  /** A worker's whole run of a new job: claim, execute as handed, lie if it lies, report (`times` at once). */
  async function runAs(credential: string, lie?: Lie, times = 1) {
    const id = await submitJob(world, op, contractId, SQL);
    const claim = await post('/v1/worker/claims', credential, { jobId: id, ticket: world.platform.workers.ticket(id) });
    expect(claim.statusCode, claim.body).toBe(200);
    const spec = claim.json() as RunSpec;
    const honest = await executeRun(spec, {
      dataDir: world.dataDir,
      tmpDir: path.join(world.dataDir, 'tmp', 'test-worker'),
      signal: new AbortController().signal,
    });
    if (!honest.ok) throw new Error(`the query failed: ${honest.error.code}`);
    const run = await world.platform.store.one<{ plan: string }>('SELECT plan FROM job_runs WHERE job_id = $1', [id]);
    const outcome = lie ? lie(honest, JSON.parse(run!.plan) as { unitsColumn: string }) : honest;
    const all = await Promise.all(
      Array.from({ length: times }, () =>
        post('/v1/worker/outcomes', credential, { jobId: id, attempt: spec.attempt, outcome }),
      ),
    );
    return { id, res: all[0]!, all, job: await waitForJob(world, op, id) };
  }
  const checksOf = (jobId: string) =>
    world.platform.store.all<{ result: string; reasons: string; worker_sha256: string; api_sha256: string | null }>(
      'SELECT result, reasons, worker_sha256, api_sha256 FROM spot_checks WHERE job_id = $1',
      [jobId],
    );
  const outputStatus = async (jobId: string) =>
    (await world.platform.store.one<{ status: string }>('SELECT status FROM outputs WHERE job_id = $1', [jobId]))
      ?.status;
  const audit = (action: string, objectId: string) =>
    world.platform.store.all<{ reason: string | null; details: string }>(
      'SELECT reason, details FROM audit_log WHERE action = $1 AND object_id = $2 ORDER BY seq',
      [action, objectId],
    );

  beforeAll(async () => {
    redis = await startRedis();
    world = await buildWorld({ rows: 2000, config: { redisUrl: redis.url, reconcileMs: 300, workerLeaseMs: 5000 } });
    contractId = await approvedContract(world);
    op = await world.token('operator', 'org-a');
  }, 60_000);
  afterAll(async () => {
    await world?.close();
    await redis?.stop();
  });

  it('an honest worker, every run checked: released, and the run recorded as verified with equal hashes', async () => {
    Object.assign(spot(), { rate: 1, firstRuns: 5 });
    const honest = await register('honest');
    const { id, res, job } = await runAs(honest.credential);
    expect(res.statusCode, res.body).toBe(204);
    expect(job).toMatchObject({ status: 'released' });
    const [check] = await checksOf(id);
    expect(check).toMatchObject({ result: 'matched' });
    expect(JSON.parse(check!.reasons)).toEqual(['sampled', 'new-credential']);
    expect(check!.api_sha256).toBe(check!.worker_sha256);
    expect(await audit('worker.spot_check.matched', honest.id)).toHaveLength(1);
  }, 60_000);

  it('a worker that lies is caught at rate 1: revoked, its forgery never released, its unverified outputs withheld, recorded everywhere', async () => {
    Object.assign(spot(), { rate: 1, firstRuns: 0 });
    const liar = await register('liar');
    // a run it did honestly, checked and verified: its output stays released
    const verified = await runAs(liar.credential);
    expect(verified.job).toMatchObject({ status: 'released' });
    // unchecked at rate 0: a forgery and an honest run both released, neither verified
    Object.assign(spot(), { rate: 0 });
    const slipped = await runAs(liar.credential, inflate);
    const unverified = await runAs(liar.credential);
    for (const r of [slipped, unverified]) {
      expect(r.job).toMatchObject({ status: 'released' });
      expect(await checksOf(r.id)).toEqual([]);
    }
    const manifestUrl = `/v1/outputs/${slipped.job.outputId as string}/manifest`;
    expect((await asOperator(manifestUrl)).statusCode).toBe(200);

    Object.assign(spot(), { rate: 1 });
    const caught = await runAs(liar.credential, inflate);
    expect(caught.res.statusCode, caught.res.body).toBe(422);
    expect(caught.res.json().code).toBe('ERR_WORKER_OUTCOME_MISMATCH');
    expect(caught.job).toMatchObject({
      status: 'failed',
      outputId: null,
      reasons: [{ code: 'ERR_WORKER_OUTCOME_MISMATCH' }],
    });
    expect(await outputStatus(caught.id)).toBeUndefined();
    const [check] = await checksOf(caught.id);
    expect(check).toMatchObject({ result: 'mismatched' });
    expect(check!.api_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(check!.api_sha256).not.toBe(check!.worker_sha256);

    // the credential is revoked: its next request is refused
    const next = await post('/v1/worker/claims', liar.credential, { jobId: caught.id, ticket: 'x'.repeat(43) });
    expect(next.json().code).toBe('ERR_WORKER_REVOKED');
    expect(await world.platform.workers.get(liar.id)).toMatchObject({ status: 'revoked', revokedBy: 'system' });

    // what it produced unverified is withheld: no longer served, back to two reviewers; the verified one stays
    for (const r of [slipped, unverified]) {
      expect(await outputStatus(r.id)).toBe('held');
      expect((await waitForJob(world, op, r.id)).status).toBe('held');
    }
    expect(await outputStatus(verified.id)).toBe('released');
    expect((await asOperator(manifestUrl)).json().code).toBe('ERR_OUTPUT_NOT_RELEASED');
    expect((await asOperator(`/v1/outputs/${slipped.job.outputId as string}/data`)).statusCode).toBe(404);
    const withheld = await audit('output.withheld', slipped.job.outputId as string);
    expect(withheld).toHaveLength(1);
    expect(JSON.parse(withheld[0]!.details)).toMatchObject({
      was: 'released',
      worker: liar.id,
      forgedJobId: caught.id,
    });
    // the output says so as facts (the console's Chinese sentence is made from them, issue 33)
    const held = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${slipped.job.outputId as string}`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
    });
    expect(held.json().withheld).toEqual({ workerId: liar.id, forgedJobId: caught.id, at: expect.any(String) });
    expect(Date.parse(held.json().withheld.at)).not.toBeNaN();

    // the audit trail names the worker, the run and both hashes
    const [entry] = await audit('worker.spot_check.mismatched', liar.id);
    expect(JSON.parse(entry!.details)).toEqual({
      jobId: caught.id,
      attempt: 1,
      reasons: ['sampled'],
      workerSha256: check!.worker_sha256,
      apiSha256: check!.api_sha256,
      outputsWithheld: [slipped.job.outputId, unverified.job.outputId],
    });
    expect(await audit('worker.revoked', liar.id)).toHaveLength(1);

    // the metrics and the contract's risk report say so
    const metrics = (await scrape(world.platform.store, world.platform.dataDirEncryption)).body;
    expect(metrics).toMatch(/^pds_worker_spot_checks\{result="mismatched"\} 1$/m);
    expect(metrics).toMatch(/^pds_outputs_withheld 2$/m);
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
      payload: { contractId },
    });
    expect(res.statusCode, res.body).toBe(201);
    const report = res.json().report as RiskAssessmentReport;
    expect(report.figures.spotChecks).toMatchObject({ mismatches: 1, outputsWithheld: 2 });
    expect(report.rating.level).toBe('high');
    expect(report.rating.findings.map((f) => f.rule)).toContain('worker-forgery');
  }, 120_000);

  it('at rate 0 a flagged run is still checked: a new credential, or a cell lifted to k', async () => {
    Object.assign(spot(), { rate: 0, firstRuns: 5 });
    const fresh = await register('fresh liar');
    const first = await runAs(fresh.credential, inflate);
    expect(first.res.json().code).toBe('ERR_WORKER_OUTCOME_MISMATCH');
    expect(JSON.parse((await checksOf(first.id))[0]!.reasons)).toEqual(['new-credential']);

    Object.assign(spot(), { rate: 0, firstRuns: 0, nearThreshold: 3 });
    const k = (await world.platform.contracts.verifiedActive(contractId)).claims.disclosure.minUnits;
    const subtle = await register('subtle liar');
    // unflagged and unsampled: not re-executed
    const plain = await runAs(subtle.credential);
    expect(plain.job).toMatchObject({ status: 'released' });
    expect(await checksOf(plain.id)).toEqual([]);
    // the forgery that releases a small cell: its units set to exactly k
    const lifted = await runAs(subtle.credential, (o, plan) => {
      const units = o.columns.findIndex((c) => c.name === plan.unitsColumn);
      return { ...o, rows: o.rows.map((r, i) => (i === 0 ? r.map((v, j) => (j === units ? k : v)) : r)) };
    });
    expect(lifted.res.json().code).toBe('ERR_WORKER_OUTCOME_MISMATCH');
    expect(lifted.job).toMatchObject({ status: 'failed', outputId: null });
    expect(JSON.parse((await checksOf(lifted.id))[0]!.reasons)).toEqual(['near-threshold']);
    // the earlier unchecked output of the same worker is withheld with it
    expect(await outputStatus(plain.id)).toBe('held');
  }, 120_000);

  it('a forged outcome posted twice at once is judged once: one answer is the refusal, the other changes nothing', async () => {
    Object.assign(spot(), { rate: 1, firstRuns: 0 });
    const twice = await register('impatient liar');
    const { id, all, job } = await runAs(twice.credential, inflate, 2);
    expect(all.map((r) => r.statusCode).sort()).toEqual([204, 422]);
    expect(job).toMatchObject({ status: 'failed', outputId: null });
    expect(await checksOf(id)).toHaveLength(1);
    expect(await outputStatus(id)).toBeUndefined();
  }, 60_000);
});
