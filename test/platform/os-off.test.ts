import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureOsSandbox } from '../../src/sandbox/index.ts';
import { approvedContract, buildWorld, waitForJob, type TestWorld } from '../helpers.ts';

/**
 * SANDBOX_OS=off is never a silent downgrade: the API says so in /healthz, every run's start is
 * recorded without the OS layer, and the risk report rates it and shows it on its page.
 */
describe('the API with SANDBOX_OS=off', () => {
  let world: TestWorld;
  let contractId: string;

  beforeAll(async () => {
    world = await buildWorld({ rows: 1500, config: { sandboxOs: 'off' } });
    contractId = await approvedContract(world);
  }, 120_000);
  afterAll(async () => {
    await world.close();
    await configureOsSandbox('bwrap');
  });

  it('says so in /healthz, in the audit of each run, and in the risk report', async () => {
    const health = await world.server.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).toMatchObject({ status: 'ok', sandbox: { os: 'off (SANDBOX_OS=off)' } });

    const op = await world.token('operator', 'org-a');
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql: 'SELECT district, count(*) AS n FROM population GROUP BY district' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const jobId = res.json().id as string;
    expect(await waitForJob(world, op, jobId)).toMatchObject({ status: 'released' });
    const started = await world.platform.store.one<{ details: string }>(
      `SELECT details FROM audit_log WHERE object_id = $1 AND action = 'job.started'`,
      [jobId],
    );
    expect(JSON.parse(started!.details)).toMatchObject({ osSandbox: 'off' });

    const risk = await world.token('risk', 'org-bureau');
    const made = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: { authorization: `Bearer ${risk}` },
      payload: { contractId },
    });
    expect(made.statusCode, made.body).toBe(201);
    const { report, html } = made.json() as {
      report: {
        sandbox: { os: string };
        figures: { runsOutsideOsSandbox: number };
        rating: { findings: { rule: string }[] };
      };
      html: string;
    };
    expect(report.sandbox.os).toBe('off (SANDBOX_OS=off)');
    expect(report.figures.runsOutsideOsSandbox).toBe(1);
    expect(report.rating.findings.map((f) => f.rule)).toContain('os-sandbox-off');
    const page = await world.server.inject({ method: 'GET', url: html, headers: { authorization: `Bearer ${risk}` } });
    expect(page.body).toContain(
      '操作系统沙箱 <strong><code>off (SANDBOX_OS=off)</code></strong>；<strong>1 次运行未在其中</strong>',
    );
  });
});
