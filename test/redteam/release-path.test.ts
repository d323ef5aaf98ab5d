import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { approvedContract, buildWorld, waitForJob, type TestWorld } from '../helpers.ts';
import { ATTACKS } from './cases.ts';
import { redTeam, type RedTeam } from './harness.ts';

/**
 * The suites exercise exactly what production runs: with one check of the release decision
 * switched off (the minimum-units suppression, here by replacing the disclosure part's
 * applyDisclosureControl for this file only), the red-team suite's small-cell attacks get through
 * — so the suite would fail — and a job through the real HTTP API and executor releases the same
 * kind of small cells. Both go through decideRelease; nothing else decides.
 */

vi.mock('../../src/disclosure/index.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/disclosure/index.ts')>();
  return {
    ...real,
    applyDisclosureControl: (
      input: Parameters<typeof real.applyDisclosureControl>[0],
      opts: Parameters<typeof real.applyDisclosureControl>[1],
    ) => real.applyDisclosureControl(input, { ...opts, minUnits: 0 }),
  };
});

describe('with the minimum-units check switched off in the release decision', () => {
  let rt: RedTeam;
  let world: TestWorld;
  beforeAll(async () => {
    rt = await redTeam();
    world = await buildWorld();
  }, 120_000);
  afterAll(async () => {
    rt.close();
    await world.close();
  });

  it("the red-team suite's small-cell attacks are no longer stopped (the suite would fail)", async () => {
    const smallCells = ATTACKS.filter(
      (a) => a.category === 'small-cells' && a.mode === 'aggregate' && a.stoppedBy.join() === 'disclosure',
    );
    expect(smallCells.length).toBeGreaterThanOrEqual(2);
    const results = await Promise.all(smallCells.map((a) => rt.outcome(a)));
    expect(
      results.filter((o) => o.stopped),
      JSON.stringify(results),
    ).toEqual([]);
  });

  it('and production releases small cells the same way, through the API and the executor', async () => {
    const contractId = await approvedContract(world);
    const op = await world.token('operator', 'org-a');
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: {
        contractId,
        sql: 'SELECT income, count(*) AS n FROM population GROUP BY income ORDER BY income DESC LIMIT 50',
      },
    });
    const job = await waitForJob(world, op, res.json().id as string);
    expect(job).toMatchObject({ status: 'released' });
    const output = (
      await world.server.inject({
        method: 'GET',
        url: `/v1/outputs/${job.outputId as string}`,
        headers: { authorization: `Bearer ${op}` },
      })
    ).json() as { checks: { check: string; rowsSuppressed?: number }[]; rowCount: number };
    expect(output.checks.find((c) => c.check === 'min-units')).toMatchObject({ rowsSuppressed: 0 });
    expect(output.rowCount).toBe(50); // incomes of one person each, released: what the check is there to stop
  });
});
