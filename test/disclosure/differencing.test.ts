import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDifferencing } from '../../src/disclosure/index.ts';
import { approvedContract, buildWorld, readRows, waitForJob, type TestWorld } from '../helpers.ts';

describe('checkDifferencing', () => {
  const fp = (rows: [string, number][]) => ({
    keyColumns: ['district'],
    rows: rows.map(([d, units]) => ({ key: JSON.stringify([d]), units })),
  });
  it('flags groups that differ by fewer than k units, and names the pair', () => {
    const r = checkDifferencing(
      fp([
        ['a', 40],
        ['b', 29],
      ]),
      [
        {
          outputId: 'out_1',
          fingerprint: fp([
            ['a', 40],
            ['b', 30],
          ]),
        },
      ],
      10,
    );
    expect(r).toMatchObject({ passed: false, onFail: 'hold', pairedWith: 'out_1' });
  });
  it('passes identical outputs, differences of k or more, and outputs with other groups', () => {
    expect(checkDifferencing(fp([['a', 40]]), [{ outputId: 'o', fingerprint: fp([['a', 40]]) }], 10).passed).toBe(true);
    expect(checkDifferencing(fp([['a', 40]]), [{ outputId: 'o', fingerprint: fp([['a', 50]]) }], 10).passed).toBe(true);
    expect(
      checkDifferencing(
        fp([['a', 40]]),
        [{ outputId: 'o', fingerprint: { keyColumns: ['gender'], rows: [{ key: '["a"]', units: 39 }] } }],
        10,
      ).passed,
    ).toBe(true);
  });
});

describe('a differencing attack over HTTP', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld();
  }, 60_000);
  afterAll(() => world.close());

  it('two counts whose filters differ by one person: the second is held, naming the earlier one', async () => {
    const contractId = await approvedContract(world);
    const op = await world.token('operator', 'org-a');
    const run = async (sql: string) => {
      const res = await world.server.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: `Bearer ${op}` },
        payload: { contractId, sql },
      });
      return waitForJob(world, op, res.json().id as string);
    };
    const first = await run('SELECT district, count(*) AS n FROM population GROUP BY district');
    expect(first.status).toBe('released');
    const again = await run('SELECT district, count(*) AS n FROM population GROUP BY district');
    expect(again.status).toBe('released'); // the same answer twice tells nothing new
    const snapshot = (await world.platform.store.one<{ snapshot_path: string }>(
      'SELECT snapshot_path FROM contracts WHERE id = $1',
      [contractId],
    ))!.snapshot_path;
    const [{ pds_unit: someone }] = (await readRows<{ pds_unit: string }>(
      snapshot,
      "SELECT pds_unit FROM population WHERE district = '云岩区' LIMIT 1",
    )) as [{ pds_unit: string }];
    const second = await run(
      `SELECT district, count(*) AS n FROM population WHERE pds_unit <> '${someone}' GROUP BY district`,
    );
    expect(second.status).toBe('held');
    const out = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${String(second.outputId)}`,
      headers: { authorization: `Bearer ${op}` },
    });
    const diff = out
      .json()
      .checks.find((c: { check: string; params: { pairedWith?: string } }) => c.check === 'differencing');
    expect(diff).toMatchObject({ passed: false });
    expect([first.outputId, again.outputId]).toContain(diff.params.pairedWith);
    expect(
      (
        await world.server.inject({
          method: 'GET',
          url: `/v1/outputs/${String(second.outputId)}/data`,
          headers: { authorization: `Bearer ${op}` },
        })
      ).statusCode,
    ).toBe(404);
  });
});
