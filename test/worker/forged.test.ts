import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../src/auth/index.ts';
import { verifyManifest } from '../../src/outputs/index.ts';
import { approvedContract, buildWorld, PDS_ENTRY, waitForJob, type TestWorld } from '../helpers.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

/**
 * One trusted release path (docs/architecture.md, "The run protocol"): a worker executes what it
 * is handed and nothing it says decides a release. A forged worker — a registered credential in
 * the wrong hands, with or without the queue's claim tickets — is refused at every step, each
 * refusal recorded, nothing released; a real `pds worker` runs jobs end to end beside it.
 */

const QUICK = 'SELECT district, count(*) AS n FROM population GROUP BY district';
const BUREAU = { sub: 'bureau-user@org-bureau', org: 'org-bureau', roles: ['bureau'] };

describe('a forged worker against the run protocol (BullMQ executor)', () => {
  let redis: TestRedis;
  let world: TestWorld;
  let contractId: string;
  let op: string;
  let forged: string;
  let other: string;
  let real: ChildProcess | undefined;

  const post = (url: string, credential: string, payload: unknown) =>
    world.server.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${credential}` },
      payload: payload as object,
    });
  const submit = async (sql = QUICK) => {
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql },
    });
    expect(res.statusCode, res.body).toBe(202);
    return res.json().id as string;
  };
  const refusals = async (jobId: string) =>
    (
      await world.platform.store.all<{ actor: string; details: string }>(
        "SELECT actor, details FROM audit_log WHERE action = 'worker.refused' AND object_id = $1 ORDER BY seq",
        [jobId],
      )
    ).map((r) => ({ actor: r.actor, ...(JSON.parse(r.details) as object) }));
  /** A new job, claimed by the forged worker, which reports `outcome` for it. */
  const claimAndReport = async (outcome: unknown) => {
    const id = await submit();
    const spec = (await post('/v1/worker/claims', forged, { jobId: id, ticket: ticket(id) })).json() as {
      attempt: number;
    };
    return { id, res: await post('/v1/worker/outcomes', forged, { jobId: id, attempt: spec.attempt, outcome }) };
  };
  const outputsOf = (jobId: string) => world.platform.store.all('SELECT id FROM outputs WHERE job_id = $1', [jobId]);
  const ticket = (jobId: string) => world.platform.workers.ticket(jobId); // what the queue carries

  beforeAll(async () => {
    redis = await startRedis();
    world = await buildWorld({ rows: 2000, config: { redisUrl: redis.url, reconcileMs: 300, workerLeaseMs: 1500 } });
    contractId = await approvedContract(world);
    op = await world.token('operator', 'org-a');
    forged = (await world.platform.workers.register(BUREAU, { name: 'forged' })).credential;
    other = (await world.platform.workers.register(BUREAU, { name: 'another worker' })).credential;
  }, 60_000);
  afterAll(async () => {
    real?.kill('SIGKILL');
    await world.close();
    await redis.stop();
  });

  it("a claim without the job's ticket is refused and recorded", async () => {
    const id = await submit();
    const res = await post('/v1/worker/claims', forged, { jobId: id, ticket: 'A'.repeat(43) });
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json().code).toBe('ERR_WORKER_CLAIM_REFUSED');
    expect(await refusals(id)).toEqual([
      expect.objectContaining({
        code: 'ERR_WORKER_CLAIM_REFUSED',
        request: 'claim',
        actor: expect.stringMatching(/^wrk_/),
      }),
    ]);
    const job = await world.platform.store.one<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [id]);
    expect(job!.status).toBe('queued');
  });

  it('a claimed run carries only what to execute; a forged outcome is refused, recorded, and nothing is released', async () => {
    const id = await submit();
    const claim = await post('/v1/worker/claims', forged, { jobId: id, ticket: ticket(id) });
    expect(claim.statusCode, claim.body).toBe(200);
    const spec = claim.json() as { attempt: number; sql: string };
    expect(Object.keys(spec).sort()).toEqual(['attempt', 'jobId', 'lease', 'limits', 'snapshot', 'sql']);
    // the attack of the issue: an invented units column and invented rows
    const res = await post('/v1/worker/outcomes', forged, {
      jobId: id,
      attempt: spec.attempt,
      outcome: {
        ok: true,
        columns: [
          { name: 'district', type: 'VARCHAR' },
          { name: 'n', type: 'BIGINT' },
          { name: 'pds_units_forged', type: 'BIGINT' },
        ],
        rows: [['FORGED-BY-WORKER', 12345, 99999]],
        elapsedMs: 1,
      },
    });
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().code).toBe('ERR_WORKER_OUTCOME_INVALID');
    expect(await waitForJob(world, op, id)).toMatchObject({
      status: 'failed',
      reasons: [{ code: 'ERR_WORKER_OUTCOME_INVALID' }],
      outputId: null,
    });
    expect(await outputsOf(id)).toHaveLength(0);
    expect(await refusals(id)).toEqual([
      expect.objectContaining({ code: 'ERR_WORKER_OUTCOME_INVALID', request: 'outcome' }),
    ]);
  });

  it('an outcome that brings its own analysis or dp plan is off the protocol: refused, recorded, the run fails', async () => {
    for (const extra of [
      { analysis: { unitsColumn: 'n', countColumns: [], keyColumns: [0] } },
      { dp: { measures: [], sumColumns: [], keyColumns: [0], outputColumns: ['district'], maxGroupsPerUnit: 1 } },
    ]) {
      const { id, res } = await claimAndReport({ ok: true, columns: [], rows: [], elapsedMs: 1, ...extra });
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().code).toBe('ERR_WORKER_OUTCOME_INVALID');
      expect(await waitForJob(world, op, id)).toMatchObject({
        status: 'failed',
        reasons: [{ code: 'ERR_WORKER_OUTCOME_INVALID' }],
      });
      expect(await outputsOf(id)).toHaveLength(0);
      expect(await refusals(id)).toHaveLength(1);
    }
  });

  it('right columns but too many rows, a wrong type, or an error code a run cannot end with: refused', async () => {
    const cases = [
      (cols: unknown[]) => ({ ok: true, columns: cols, rows: [['x', 'not a number', 3]], elapsedMs: 1 }),
      () => ({ ok: false, error: { code: 'ERR_CONTRACT_REVOKED', message: 'the worker says so' } }),
      // a count past BIGINT's range is no value the engine renders: refused, not our fault (issue 32)
      (cols: unknown[]) => ({ ok: true, columns: cols, rows: [['x', '99999999999999999999', 3]], elapsedMs: 1 }),
    ];
    for (const make of cases) {
      const id = await submit();
      const spec = (await post('/v1/worker/claims', forged, { jobId: id, ticket: ticket(id) })).json() as {
        attempt: number;
      };
      const run = await world.platform.store.one<{ plan: string }>('SELECT plan FROM job_runs WHERE job_id = $1', [id]);
      const expected = (JSON.parse(run!.plan) as { expected: unknown[] }).expected;
      const res = await post('/v1/worker/outcomes', forged, {
        jobId: id,
        attempt: spec.attempt,
        outcome: make(expected),
      });
      expect(res.statusCode, res.body).toBe(422);
      expect(await waitForJob(world, op, id)).toMatchObject({ status: 'failed' });
      expect(await outputsOf(id)).toHaveLength(0);
    }
  });

  it("a worker's error text never reaches the operator: the API writes the reason from the code and the facts it allows (issue 32)", async () => {
    const leak = 'LEAK 王伟 110101199003074578 income 123456';
    for (const [error, shown] of [
      [
        { code: 'ERR_SQL_RUNTIME', message: leak },
        /^a runtime error while running the query \(the value itself is withheld/,
      ],
      [
        { code: 'ERR_SQL_RUNTIME', message: leak, facts: { type: 'INT32', column: 'x110101199003074578' } },
        /^a runtime error while running the query: a value could not be converted to INT32 \(the value/,
      ],
      [
        { code: 'ERR_LIMIT_EXCEEDED', message: leak, facts: { limit: 'time' } },
        /^the job was interrupted at its wall-clock limit$/,
      ],
    ] as const) {
      const { id, res } = await claimAndReport({ ok: false, error });
      expect(res.statusCode, res.body).toBe(204);
      const job = await waitForJob(world, op, id);
      const seen = await world.server.inject({
        method: 'GET',
        url: `/v1/jobs/${id}`,
        headers: { authorization: `Bearer ${op}` },
      });
      expect(seen.body).not.toContain('LEAK');
      expect(seen.body).not.toContain('110101199003074578');
      expect((job.reasons as { message: string }[])[0]!.message).toMatch(shown);
    }
  });

  it('another worker cannot take a leased run, nor report or renew it; after the lease expires the job runs again and the old holder is refused', async () => {
    const id = await submit();
    const first = (await post('/v1/worker/claims', forged, { jobId: id, ticket: ticket(id) })).json() as {
      attempt: number;
    };
    const steal = await post('/v1/worker/claims', other, { jobId: id, ticket: ticket(id) });
    expect(steal.statusCode, steal.body).toBe(409);
    expect(steal.json().code).toBe('ERR_WORKER_LEASE_HELD');
    const report = await post('/v1/worker/outcomes', other, {
      jobId: id,
      attempt: first.attempt,
      outcome: { ok: false, error: { code: 'ERR_SQL_RUNTIME', message: 'x' } },
    });
    expect(report.json().code).toBe('ERR_WORKER_NOT_LEASE_HOLDER');
    const renew = await post('/v1/worker/leases', other, { jobId: id, attempt: first.attempt });
    expect(renew.json().code).toBe('ERR_WORKER_NOT_LEASE_HOLDER');
    expect((await refusals(id)).map((r) => (r as unknown as { code: string }).code)).toEqual([
      'ERR_WORKER_LEASE_HELD',
      'ERR_WORKER_NOT_LEASE_HOLDER',
      'ERR_WORKER_NOT_LEASE_HOLDER',
    ]);
    // the holder renews while it runs; once it stops renewing, the lease runs out
    expect((await post('/v1/worker/leases', forged, { jobId: id, attempt: first.attempt })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1700));
    const second = await post('/v1/worker/claims', other, { jobId: id, ticket: ticket(id) });
    expect(second.statusCode, second.body).toBe(200);
    expect(second.json().attempt).toBe(first.attempt + 1);
    const late = await post('/v1/worker/outcomes', forged, {
      jobId: id,
      attempt: first.attempt,
      outcome: { ok: false, error: { code: 'ERR_SQL_RUNTIME', message: 'late' } },
    });
    expect(late.json().code).toBe('ERR_WORKER_NOT_LEASE_HOLDER');
    expect(
      await world.platform.store.one<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [id]),
    ).toMatchObject({ status: 'running' });
    await post('/v1/worker/outcomes', other, {
      jobId: id,
      attempt: second.json().attempt,
      outcome: { ok: false, error: { code: 'ERR_SQL_RUNTIME', message: 'runtime' } },
    });
    expect(await waitForJob(world, op, id)).toMatchObject({ status: 'rejected', attempts: 2 });
  });

  it('a revoked or rotated credential is refused; a user token never makes its bearer a worker', async () => {
    const { worker, credential } = await world.platform.workers.register(BUREAU, { name: 'to revoke' });
    const id = await submit();
    const bureau = await world.token('bureau', 'org-bureau');
    const rotated = await world.server.inject({
      method: 'POST',
      url: `/v1/workers/${worker.id}/rotate`,
      headers: { authorization: `Bearer ${bureau}` },
      payload: {},
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect((await post('/v1/worker/claims', credential, { jobId: id, ticket: ticket(id) })).json().code).toBe(
      'ERR_WORKER_REVOKED',
    );
    const fresh = rotated.json().credential as string;
    await world.server.inject({
      method: 'POST',
      url: `/v1/workers/${worker.id}/revoke`,
      headers: { authorization: `Bearer ${bureau}` },
      payload: { reason: 'credential leaked' },
    });
    expect((await post('/v1/worker/claims', fresh, { jobId: id, ticket: ticket(id) })).json().code).toBe(
      'ERR_WORKER_REVOKED',
    );
    const list = (
      await world.server.inject({ method: 'GET', url: '/v1/workers', headers: { authorization: `Bearer ${bureau}` } })
    ).json() as { id: string; status: string }[];
    expect(list.find((w) => w.id === worker.id)).toMatchObject({ status: 'revoked' });
    const asWorker = await issueToken(world.platform.keys, { sub: 'x', org: 'org-a', roles: ['worker' as never] });
    expect((await post('/v1/worker/claims', asWorker, { jobId: id, ticket: ticket(id) })).json().code).toBe(
      'ERR_AUTH_INVALID_TOKEN',
    );
    const asBureau = await post('/v1/worker/claims', bureau, { jobId: id, ticket: ticket(id) });
    expect(asBureau.json().code).toBe('ERR_AUTH_FORBIDDEN');
  });

  it("a worker credential gets 403 on every route that is not the worker's (walked from the OpenAPI document)", async () => {
    const doc = (await world.server.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { tags?: string[]; security?: unknown[] }>>;
    };
    const publicPaths = ['/healthz', '/.well-known/jwks.json', '/openapi.json'];
    let walked = 0;
    for (const [route, methods] of Object.entries(doc.paths)) {
      if (publicPaths.includes(route) || route.startsWith('/docs')) continue;
      for (const method of Object.keys(methods)) {
        if (route.startsWith('/v1/worker/')) continue;
        // an operation that asks no credential at all (the public register) is anyone's
        if (Array.isArray(methods[method]!.security) && methods[method]!.security.length === 0) continue;
        const url = route.replace(/\{[^}]+\}/g, (m) => (m.includes('id') ? 'ctr_0000000000000000' : 'x'));
        const res = await world.server.inject({
          method: method.toUpperCase() as 'GET',
          url,
          headers: { authorization: `Bearer ${forged}` },
          payload: method === 'get' ? undefined : {},
        });
        expect(res.statusCode, `${method.toUpperCase()} ${route}: ${res.body}`).toBe(403);
        expect(res.json().code).toBe('ERR_AUTH_FORBIDDEN');
        walked++;
      }
    }
    expect(walked).toBeGreaterThan(30);
  });

  it('a real pds worker runs jobs end to end beside the forged one; the manifest and the trail name it', async () => {
    const { worker, credential } = await world.platform.workers.register(BUREAU, { name: 'real' });
    real = spawn(
      process.execPath,
      [...PDS_ENTRY, 'worker', '--data-dir', world.dataDir, '--api', await listen(), '--concurrency', '1'],
      {
        env: { ...process.env, REDIS_URL: redis.url.toString(), LOG_LEVEL: 'info', PDS_WORKER_TOKEN: credential },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      let out = '';
      real!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('worker ready')) resolve();
      });
      real!.once('exit', (code) => reject(new Error(`worker exited ${code}: ${out}`)));
    });
    const id = await submit();
    const job = await waitForJob(world, op, id, 60_000);
    expect(job).toMatchObject({ status: 'released' });
    const manifest = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${job.outputId as string}/manifest`,
      headers: { authorization: `Bearer ${op}` },
    });
    const claims = await verifyManifest(manifest.body, world.platform.keys.bureauVerifier());
    expect(claims.ranBy).toBe(worker.id);
    const started = await world.platform.store.one<{ actor: string }>(
      "SELECT actor FROM audit_log WHERE object_id = $1 AND action = 'job.started'",
      [id],
    );
    expect(started!.actor).toBe(worker.id);
  }, 90_000);

  async function listen(): Promise<string> {
    await world.server.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(world.server.server.address() as { port: number }).port}`;
  }
});

describe('the embedded executor takes no remote claims', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld();
  }, 60_000);
  afterAll(() => world.close());

  it('refuses any claim, recorded, even with a valid ticket', async () => {
    const { credential } = await world.platform.workers.register(BUREAU, { name: 'stray' });
    const contractId = await approvedContract(world);
    const op = await world.token('operator', 'org-a');
    await world.platform.executor.stop(); // the job stays queued for the stray worker to try
    const id = (
      await world.server.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: `Bearer ${op}` },
        payload: { contractId, sql: QUICK },
      })
    ).json().id as string;
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/worker/claims',
      headers: { authorization: `Bearer ${credential}` },
      payload: { jobId: id, ticket: world.platform.workers.ticket(id) },
    });
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json().code).toBe('ERR_WORKER_CLAIM_REFUSED');
    const audit = await world.platform.store.all(
      "SELECT 1 FROM audit_log WHERE action = 'worker.refused' AND object_id = $1",
      [id],
    );
    expect(audit).toHaveLength(1);
    expect(
      await world.platform.store.one<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [id]),
    ).toMatchObject({ status: 'queued' });
  });
});
