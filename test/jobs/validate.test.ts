import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvedContract, buildWorld, waitForJob, type TestWorld } from '../helpers.ts';
import { ATTACKS, HONEST } from '../redteam/cases.ts';

/**
 * POST /v1/jobs/validate and GET /v1/jobs (issue 18, item 3): validation gives the reasons a
 * submission gets, runs nothing, counts drafts against nobody but escape attempts against the
 * operator; the job list pages through what each principal may see.
 */

interface Reason {
  code: string;
  layer?: string;
  rule?: string;
  message: string;
}

describe('validating SQL and listing jobs', () => {
  let world: TestWorld;
  let contractId: string;
  let op: string;

  beforeAll(async () => {
    world = await buildWorld({ rows: 1500 });
    contractId = await approvedContract(world);
    op = await world.token('operator', 'org-a');
  }, 120_000);
  afterAll(() => world.close());

  const call = async (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
    world.server.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload ? { payload } : {}),
    });
  const validate = async (sql: string, token = op) => {
    const res = await call('POST', '/v1/jobs/validate', token, { contractId, sql });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { valid: boolean; reasons: Reason[]; columns?: { name: string }[] };
  };
  const jobCount = async () =>
    (await world.platform.store.one<{ n: number }>('SELECT count(*)::INTEGER AS n FROM jobs'))!.n;

  // every query of both sets, custom-mode ones too: under this aggregate contract they meet its analysis
  const QUERIES = [...HONEST, ...ATTACKS];

  it(`answers ${QUERIES.length} red-team and honest queries with analysis reasons only, running none`, async () => {
    expect(QUERIES.length).toBeGreaterThanOrEqual(100);
    const before = await jobCount();
    let valid = 0;
    for (const q of QUERIES) {
      const v = await validate(q.sql);
      if (v.valid) {
        valid++;
        expect(v.reasons).toEqual([]);
      } else {
        expect(v.reasons).toHaveLength(1);
        expect(v.reasons[0]!.layer, `${q.id}: ${JSON.stringify(v.reasons)}`).toBe('analysis');
      }
    }
    expect(valid).toBeGreaterThan(0);
    expect(await jobCount()).toBe(before);
  }, 300_000);

  it(`agrees with what a submission of the same SQL gets, on all ${QUERIES.length + 2} queries`, async () => {
    const all = [
      ...QUERIES,
      { sql: 'SELECT religion, count(*) FROM population GROUP BY 1' },
      { sql: 'SELEC district FROM population' },
    ];
    let ran = 0;
    for (const [i, q] of all.entries()) {
      // a user submits at most 60 a minute (refusals count): the queries are spread over a few
      const token = await world.token('operator', 'org-a', `analyst-${Math.floor(i / 50)}@org-a`);
      const v = await validate(q.sql, token);
      const res = await call('POST', '/v1/jobs', token, { contractId, sql: q.sql });
      expect(res.statusCode, res.body).toBe(202);
      const id = res.json().id as string;
      // the analysis is made when the job is claimed: refused there, or running past it
      let job: { status: string; reasons: Reason[] };
      for (;;) {
        job = (await call('GET', `/v1/jobs/${id}`, token)).json();
        if (job.status !== 'queued') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      if (v.valid) {
        ran++;
        expect(
          job.reasons.map((r) => r.layer),
          q.sql,
        ).not.toContain('analysis');
        // past the analysis is all this compares: stop what still runs (a query may run to its limit)
        if (job.status === 'running') await call('POST', `/v1/jobs/${id}/cancel`, token);
        await waitForJob(world, token, id);
      } else {
        expect(job.status, q.sql).toBe('rejected');
        expect(job.reasons, q.sql).toEqual(v.reasons);
      }
    }
    expect(ran).toBeGreaterThan(10);
  }, 600_000);

  it('says a column is not in the contract, naming what is', async () => {
    const v = await validate('SELECT religion, count(*) AS n FROM population GROUP BY religion');
    expect(v.valid).toBe(false);
    expect(v.reasons[0]!.message).toMatch(
      new RegExp(`^column religion is not in contract ${contractId} \\(granted: population: .*district`),
    );
  });

  it('audits an escape attempt made through validation and counts it in the risk report; a typo is not', async () => {
    const risk = await world.token('risk', 'org-bureau');
    const escapes = async () => {
      const res = await call('POST', '/v1/reports', risk, { contractId });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().report.figures.escapeAttempts as number;
    };
    const before = await escapes();
    expect((await validate('SELEC 1')).valid).toBe(false);
    expect(await escapes()).toBe(before);
    const escape = await validate("SELECT count(*) FROM read_csv('/etc/passwd')");
    expect(escape.reasons[0]).toMatchObject({ layer: 'analysis', rule: 'no-table-functions' });
    expect(await escapes()).toBe(before + 1);
    const audited = await world.platform.store.all<{ actor: string; details: string }>(
      `SELECT actor, details FROM audit_log WHERE action = 'job.validation_refused' AND object_id = $1`,
      [contractId],
    );
    expect(audited.map((a) => JSON.parse(a.details))).toContainEqual(
      expect.objectContaining({ rule: 'no-table-functions', sqlSha256: expect.stringMatching(/^[0-9a-f]{64}$/) }),
    );
  });

  it('lists jobs newest first, filtered and paged; another operator sees none of them', async () => {
    const all = await call('GET', `/v1/jobs?contractId=${contractId}&limit=1000`, op);
    expect(all.statusCode, all.body).toBe(200);
    const jobs = all.json().jobs as { id: string; status: string; createdAt: string }[];
    expect(jobs.length).toBeGreaterThanOrEqual(12);
    expect([...jobs].sort((a, b) => b.id.localeCompare(a.id))).toEqual(jobs);
    // pages of 5 give the same jobs in the same order
    const paged: string[] = [];
    let next: string | null = null;
    do {
      const page = await call('GET', `/v1/jobs?contractId=${contractId}&limit=5${next ? `&before=${next}` : ''}`, op);
      const body = page.json() as { jobs: { id: string }[]; next: string | null };
      paged.push(...body.jobs.map((j) => j.id));
      next = body.next;
    } while (next);
    expect(paged).toEqual(jobs.map((j) => j.id));
    const rejected = (await call('GET', `/v1/jobs?status=rejected&since=${jobs.at(-1)!.createdAt}`, op)).json().jobs;
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every((j: { status: string }) => j.status === 'rejected')).toBe(true);
    const other = await call('GET', '/v1/jobs', await world.token('operator', 'org-b'));
    expect(other.json()).toEqual({ jobs: [], next: null });
    const bureau = await call(
      'GET',
      `/v1/jobs?contractId=${contractId}&limit=1000`,
      await world.token('bureau', 'org-bureau'),
    );
    expect(bureau.json().jobs).toHaveLength(jobs.length);
    expect((await call('GET', '/v1/jobs?limit=5000', op)).statusCode).toBe(400);
  });
});
