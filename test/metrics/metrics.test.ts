import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvedContract, buildWorld, runJob, type TestWorld } from '../helpers.ts';

const TOKEN = 'm'.repeat(16) + 'etrics-credential-0123456789';

/** The value of one sample line of the exposition format, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld({ rows: 600, config: { metricsToken: TOKEN } });
  });
  afterAll(() => world?.close());

  const scrape = (authorization?: string) =>
    world.server.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });

  it('answers only the metrics credential', async () => {
    expect((await scrape()).statusCode).toBe(401);
    expect((await scrape('Bearer not-the-credential')).statusCode).toBe(401);
    // a person's token, even the bureau's, is not a scraper's
    const bureau = await world.token('bureau', 'org-bureau');
    expect((await scrape(`Bearer ${bureau}`)).statusCode).toBe(401);
    const ok = await scrape(`Bearer ${TOKEN}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toContain('text/plain');
  });

  it('counts jobs by status and mode, refusals by layer and rule, and times runs, snapshots and audit appends', async () => {
    const before = (await scrape(`Bearer ${TOKEN}`)).body;
    const contractId = await approvedContract(world);
    const op = await world.token('operator', 'org-a');
    const submit = (sql: string) => runJob(world, op, contractId, sql);
    expect((await submit('SELECT district, count(*) AS n FROM population GROUP BY 1')).status).toBe('released');
    expect((await submit("SELECT * FROM read_csv('/etc/passwd')")).status).toBe('rejected');
    const text = (await scrape(`Bearer ${TOKEN}`)).body;
    expect(sample(text, 'pds_jobs', { status: 'released', mode: 'aggregate' })).toBe(1);
    expect(sample(text, 'pds_jobs', { status: 'rejected', mode: 'aggregate' })).toBe(1);
    expect(sample(text, 'pds_queue_depth')).toBe(0);
    expect(sample(text, 'pds_job_refusals', { layer: 'analysis', rule: 'no-table-functions' })).toBe(1);
    expect(sample(text, 'pds_cells_suppressed')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'pds_epsilon_spent')).toBe(0);
    const runs = (t: string) => sample(t, 'pds_job_run_seconds_count', { mode: 'aggregate', status: 'released' }) ?? 0;
    expect(runs(text) - runs(before)).toBe(1);
    expect(sample(text, 'pds_job_queue_seconds_count', { mode: 'aggregate' })).toBeGreaterThanOrEqual(1);
    expect(
      (sample(text, 'pds_snapshot_build_seconds_count') ?? 0) -
        (sample(before, 'pds_snapshot_build_seconds_count') ?? 0),
    ).toBe(1);
    expect(
      sample(text, 'pds_audit_append_seconds_count')! - (sample(before, 'pds_audit_append_seconds_count') ?? 0),
    ).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'pds_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('is off, and says so, without a configured credential', async () => {
    const off = await buildWorld({ rows: 200 });
    try {
      const res = await off.server.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.statusCode).toBe(404);
      expect(res.json().detail).toContain('METRICS_TOKEN');
    } finally {
      await off.close();
    }
  });
});
