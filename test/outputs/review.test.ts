import { createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken, type UserRole } from '../../src/auth/index.ts';
import { ApiError, createPdsClient, must, type PdsClient } from '../../src/client/index.ts';
import { injectFetch } from '../../src/client/inject.ts';
import { verifyDestruction } from '../../src/destruction/index.ts';
import { verifyOutputFile } from '../../src/outputs/index.ts';
import { APPLICATION, approvedContract, buildWorld, type TestWorld } from '../helpers.ts';

/**
 * Review without blindness (docs/architecture.md §12): independent votes, then consolidation;
 * request changes with a thread; the author never reviews; the packet beside the output; every
 * download form sealed. Spoken through the typed client.
 */
describe('reviewing a held output', () => {
  let world: TestWorld;
  let contractId: string;
  let op: PdsClient;
  let alice: PdsClient;
  let bob: PdsClient;
  let risk: PdsClient;
  const as = async (role: UserRole, org: string, sub?: string, roles?: UserRole[]) =>
    createPdsClient({
      baseUrl: 'http://pds.test',
      token: roles
        ? await issueToken(world.platform.keys, { sub: sub!, org, roles })
        : await world.token(role, org, sub),
      fetch: injectFetch(world.server),
    });

  beforeAll(async () => {
    world = await buildWorld();
    contractId = await approvedContract(world, 'org-c', {
      ...APPLICATION,
      mode: 'custom',
      scenario: { name: '自定义分析', purpose: '模型研发' },
    });
    op = await as('operator', 'org-c', 'ana@org-c');
    alice = await as('bureau', 'org-bureau', 'alice@bureau');
    bob = await as('bureau', 'org-bureau', 'bob@bureau');
    risk = await as('risk', 'org-bureau', 'rui@risk');
  }, 60_000);
  afterAll(() => world.close());

  const SQL = 'SELECT district, education, income FROM population WHERE income > 30000 ORDER BY income DESC LIMIT 10';

  async function finished(client: PdsClient, id: string) {
    for (;;) {
      const job = await must(client.GET('/v1/jobs/{id}', { params: { path: { id } } }));
      if (job.status !== 'queued' && job.status !== 'running') return job;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function heldOutput(by = op, sql = SQL): Promise<{ jobId: string; outputId: string }> {
    const job = await must(by.POST('/v1/jobs', { body: { contractId, sql } }));
    const done = await finished(by, job.id);
    expect(done.status).toBe('held');
    return { jobId: job.id, outputId: done.outputId! };
  }

  const output = (client: PdsClient, id: string) => must(client.GET('/v1/outputs/{id}', { params: { path: { id } } }));
  const vote = (client: PdsClient, id: string, decision: 'approve' | 'reject' | 'request-changes', reason?: string) =>
    must(
      client.POST('/v1/outputs/{id}/reviews', {
        params: { path: { id } },
        body: { decision, ...(reason ? { reason } : {}) },
      }),
    );

  it('votes are independent: neither the output, the list nor the audit trail shows a vote before both are in', async () => {
    const { outputId } = await heldOutput();
    const mine = await vote(alice, outputId, 'request-changes', 'drop the income column: ten single people');
    expect(mine).toMatchObject({ status: 'held', votes: { recorded: 1, needed: 2 } });
    expect(mine.reviews).toEqual([expect.objectContaining({ reviewer: 'alice@bureau', decision: 'request-changes' })]);

    // bob, before voting: a vote is in, but not whose or which
    expect(await output(bob, outputId)).toMatchObject({ reviews: [], votes: { recorded: 1 } });
    const queue = await must(bob.GET('/v1/outputs', { params: { query: { status: 'held' } } }));
    expect(queue.find((o) => o.id === outputId)?.reviews).toEqual([]);
    expect(await output(op, outputId)).toMatchObject({ reviews: [] });
    const trail = await must(bob.GET('/v1/audit', { params: { query: { objectId: outputId } } }));
    const text = JSON.stringify(trail);
    expect(text).toContain('output.review.submitted');
    expect(text).not.toContain('request-changes');
    expect(text).not.toContain('single people');

    // the second vote consolidates: the more cautious vote decides, and the job goes back to its operator
    const done = await vote(bob, outputId, 'approve');
    expect(done.status).toBe('changes-requested');
    expect(done.reviews.map((r) => [r.reviewer, r.decision])).toEqual([
      ['alice@bureau', 'request-changes'],
      ['bob@bureau', 'approve'],
    ]);
    const job = await must(op.GET('/v1/jobs/{id}', { params: { path: { id: done.jobId } } }));
    expect(job).toMatchObject({ status: 'changes-requested', reasons: [{ code: 'ERR_CHANGES_REQUESTED' }] });

    // the thread carries the reviewer's comment; the operator answers in it
    const thread = await must(op.GET('/v1/jobs/{id}/thread', { params: { path: { id: done.jobId } } }));
    expect(thread).toEqual([
      expect.objectContaining({
        author: 'alice@bureau',
        role: 'bureau',
        body: expect.stringContaining('single people'),
      }),
    ]);
    const reply = await must(
      op.POST('/v1/jobs/{id}/thread', {
        params: { path: { id: done.jobId } },
        body: { body: 'resubmitted with district and education only' },
      }),
    );
    expect(reply).toMatchObject({ seq: 2, role: 'operator', author: 'ana@org-c' });
    expect(await must(alice.GET('/v1/jobs/{id}/thread', { params: { path: { id: done.jobId } } }))).toHaveLength(2);

    // the operator revises it: the new job names the one it revises, and so does its review packet
    const revised = await must(
      op.POST('/v1/jobs', {
        body: { contractId, sql: 'SELECT district, education FROM population LIMIT 10', revisionOf: done.jobId },
      }),
    );
    expect(revised.revisionOf).toBe(done.jobId);
    const again = await finished(op, revised.id);
    expect(again.status).toBe('held'); // custom mode: every output is reviewed
    const packet = await must(alice.GET('/v1/outputs/{id}/review', { params: { path: { id: again.outputId! } } }));
    expect(packet.job.revisionOf).toBe(done.jobId);
    // only a job sent back is revised
    await expect(
      must(op.POST('/v1/jobs', { body: { contractId, sql: SQL, revisionOf: revised.id } })),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION', problem: { errors: [{ field: '/body/revisionOf' }] } });

    // the trail now holds both votes, in one consolidated entry, and the data is gone
    const after = await must(risk.GET('/v1/audit', { params: { query: { objectId: outputId } } }));
    const consolidated = after.entries.find((e) => e.action === 'output.review.consolidated');
    expect(consolidated?.details).toMatchObject({
      outcome: 'changes-requested',
      votes: [{ reviewer: 'alice@bureau' }, { reviewer: 'bob@bureau' }],
    });
    await expect(
      must(alice.GET('/v1/outputs/{id}/data', { params: { path: { id: outputId } }, parseAs: 'text' })),
    ).rejects.toMatchObject({ status: 404 });
  });

  it('a request for changes or a rejection needs a reason; the consolidated outcome is the more cautious vote', async () => {
    const { outputId } = await heldOutput();
    await expect(vote(alice, outputId, 'request-changes')).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await vote(alice, outputId, 'reject', 'a table of ten named incomes');
    expect((await vote(bob, outputId, 'request-changes', 'aggregate it')).status).toBe('rejected');
    // its data goes with a sealed destruction record (why: request), verified against the bureau's keys
    const sealed = async () => {
      for (;;) {
        const { records } = await must(
          risk.GET('/v1/destruction-records', { params: { query: { contract: contractId } } }),
        );
        const r = records.find((x) => x.subjectId === outputId);
        if (r?.jws) return r;
        await new Promise((ok) => setTimeout(ok, 50));
      }
    };
    const record = await sealed();
    expect(record).toMatchObject({ kind: 'output', why: 'request', status: 'done' });
    const jwks = createLocalJWKSet((await must(risk.GET('/.well-known/jwks.json'))) as never);
    const claims = await verifyDestruction(record.jws!, jwks);
    expect(claims).toMatchObject({ kind: 'output', why: 'request' });
    expect(claims.files.length).toBeGreaterThan(0);
  });

  it('the author of a job never reviews its output, even holding the bureau role', async () => {
    const dual = await as('bureau', 'org-c', 'dual@org-c', ['operator', 'bureau']);
    const { outputId } = await heldOutput(dual);
    const err = await vote(dual, outputId, 'approve').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, code: 'ERR_REVIEW_OWN_WORK' });
    expect(await output(alice, outputId)).toMatchObject({ status: 'held', votes: { recorded: 0 } });
  });

  it('reviewers read the SQL, the analysis and the SQL that ran, every check, the rows and the thread; operators do not', async () => {
    const { jobId, outputId } = await heldOutput();
    const packet = await must(alice.GET('/v1/outputs/{id}/review', { params: { path: { id: outputId } } }));
    expect(packet.job).toMatchObject({ id: jobId, sql: SQL, submittedBy: 'ana@org-c' });
    expect(packet.analysis).toMatchObject({ mode: 'custom', tables: ['population'] });
    expect(packet.analysis!.resultColumns.map((c) => c.name)).toEqual(['district', 'education', 'income']);
    expect(packet.analysis!.ranSql.length).toBeGreaterThan(0);
    expect(packet.output.checks.length).toBeGreaterThan(0);
    expect(packet.output.heldBecause.length).toBeGreaterThan(0);
    expect(packet.preview.columns.map((c) => c.name)).toEqual(['district', 'education', 'income']);
    expect(packet.preview.rows.length).toBe(packet.preview.totalRows);
    expect(packet.thread).toEqual([]);
    // the same SQL on the contract's dummy data, in the sandbox: the answer's shape, none of the data
    expect(packet.dummy).toMatchObject({ ok: true, dummyRows: 500 });
    const dummy = packet.dummy as { columns: { name: string }[]; rows: unknown[][] };
    expect(dummy.columns.map((c) => c.name)).toEqual(['district', 'education', 'income']);
    expect(dummy.rows.length).toBeGreaterThan(0);
    expect(dummy.rows.length).toBeLessThanOrEqual(10);
    expect(await must(risk.GET('/v1/outputs/{id}/review', { params: { path: { id: outputId } } }))).toBeTruthy();
    await expect(must(op.GET('/v1/outputs/{id}/review', { params: { path: { id: outputId } } }))).rejects.toMatchObject(
      { status: 403 },
    );
    // opening the packet is an inspection of held data: audited
    const trail = await must(risk.GET('/v1/audit', { params: { query: { objectId: outputId } } }));
    expect(trail.entries.some((e) => e.action === 'output.inspected')).toBe(true);
  });

  it('two approvals release it; every download form verifies against the manifest, and a changed byte does not', async () => {
    const { outputId } = await heldOutput();
    await vote(alice, outputId, 'approve');
    expect((await vote(bob, outputId, 'approve')).status).toBe('released');
    const manifest = await must(
      op.GET('/v1/outputs/{id}/manifest', { params: { path: { id: outputId } }, parseAs: 'text' }),
    );
    const jwks = createLocalJWKSet(await must(op.GET('/.well-known/jwks.json')));
    for (const format of ['csv', 'json', 'parquet'] as const) {
      const bytes = Buffer.from(
        (await must(
          op.GET('/v1/outputs/{id}/data', {
            params: { path: { id: outputId }, query: { format } },
            parseAs: 'arrayBuffer',
          }),
        )) as ArrayBuffer,
      );
      const check = await verifyOutputFile(bytes, format, manifest, jwks);
      expect(check, format).toMatchObject({ ok: true, format, outputId, contractId, rows: 10 });
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 1;
      expect((await verifyOutputFile(bytes, format, manifest, jwks)).ok, `${format} tampered`).toBe(false);
    }
  });
});
