import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPlatform } from '../../src/platform/index.ts';
import {
  approvedContract,
  buildWorld,
  silentLogger,
  testConfig,
  waitForJob,
  snapshotFile,
  type TestWorld,
} from '../helpers.ts';

const SQL = 'SELECT district, count(*) AS n FROM population GROUP BY 1';

describe('jobs', () => {
  let world: TestWorld;
  let contractId: string;
  let op: string;
  beforeEach(async () => {
    world = await buildWorld();
    contractId = await approvedContract(world);
    op = await world.token('operator', 'org-a');
  });
  afterEach(async () => world.close());

  const submit = (sql = SQL) =>
    world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql },
    });

  it('running a job twice releases one output (idempotent steps)', async () => {
    const id = (await submit()).json().id as string;
    await waitForJob(world, op, id);
    await world.platform.runs.runHere(id, new AbortController().signal);
    const outputs = await world.platform.store.all('SELECT id FROM outputs WHERE job_id = $1', [id]);
    expect(outputs).toHaveLength(1);
    const releases = await world.platform.store.all("SELECT seq FROM audit_log WHERE action = 'output.released'");
    expect(releases).toHaveLength(1);
  });

  it('re-queues a job left running by a crashed process and runs it once', async () => {
    const id = (await submit()).json().id as string;
    await waitForJob(world, op, id);
    // simulate a crash mid-run: the job is back to running with no output
    await world.platform.store.write(async (tx) => {
      await tx.run('DELETE FROM outputs WHERE job_id = $1', [id]);
      await tx.run("UPDATE jobs SET status = 'running', output_id = NULL WHERE id = $1", [id]);
    });
    await world.platform.close();
    const platform = await createPlatform(testConfig(world.dataDir), silentLogger);
    try {
      await platform.executor.idle!();
      const row = await platform.store.one<{ status: string; attempts: number }>(
        'SELECT status, attempts FROM jobs WHERE id = $1',
        [id],
      );
      expect(row).toMatchObject({ status: 'released', attempts: 2 });
      expect(await platform.store.all('SELECT id FROM outputs WHERE job_id = $1', [id])).toHaveLength(1);
    } finally {
      await platform.close();
      world.platform.close = async () => undefined;
    }
  });

  it('cancels a queued job and never runs it', async () => {
    await world.platform.executor.stop();
    const id = (await submit()).json().id as string;
    const res = await world.server.inject({
      method: 'POST',
      url: `/v1/jobs/${id}/cancel`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(res.json().status).toBe('cancelled');
    await world.platform.runs.runHere(id, new AbortController().signal);
    expect((await world.platform.jobs.getJob({ sub: 'x', org: 'org-a', roles: ['operator'] }, id)).status).toBe(
      'cancelled',
    );
    const again = await world.server.inject({
      method: 'POST',
      url: `/v1/jobs/${id}/cancel`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(again.json().code).toBe('ERR_JOB_NOT_CANCELLABLE');
  });

  it('checks the snapshot against the contract before every run', async () => {
    const contract = { snapshot_path: await snapshotFile(world, contractId) };
    fs.chmodSync(contract.snapshot_path, 0o600);
    fs.appendFileSync(contract.snapshot_path, Buffer.from('tampered'));
    const id = (await submit()).json().id as string;
    expect(await waitForJob(world, op, id)).toMatchObject({
      status: 'failed',
      reasons: [{ code: 'ERR_SNAPSHOT_MISMATCH' }],
    });
  });

  it('refuses to run under a contract that is no longer active', async () => {
    const id = (await submit()).json().id as string;
    await waitForJob(world, op, id);
    await world.platform.store.write((tx) =>
      tx.run("UPDATE contracts SET status = 'suspended' WHERE id = $1", [contractId]),
    );
    const res = await submit();
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('ERR_CONTRACT_SUSPENDED');
  });

  it('a query that binds to nothing is rejected with the binder message, before it runs', async () => {
    const id = (await submit('SELECT nonexistent, count(*) FROM population GROUP BY 1')).json().id as string;
    expect(await waitForJob(world, op, id)).toMatchObject({
      status: 'rejected',
      reasons: [{ code: 'ERR_SQL_INVALID', layer: 'analysis' }],
    });
  });

  it('a refused query says which layer and which rule stopped it, and where', async () => {
    const id = (await submit('SELECT district,\n  max(pds_unit) FROM population GROUP BY 1')).json().id as string;
    const job = await waitForJob(world, op, id);
    expect(job).toMatchObject({
      status: 'rejected',
      reasons: [{ code: 'ERR_SQL_SHAPE_NOT_ALLOWED', layer: 'analysis', rule: 'identifier-only-counted' }],
    });
    expect((job.reasons as { message: string }[])[0]!.message).toContain('line 2 column 7');
  });
});
