import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createPlatform } from '../../src/platform/index.ts';
import { checkIntegrity, repairStore, Store } from '../../src/store/index.ts';
import { approvedContract, buildWorld, silentLogger, testConfig, waitForJob } from '../helpers.ts';

describe('control store integrity', () => {
  it('a store whose audit head is behind its log stops start-up with the repair command; the repair rebuilds it', async () => {
    const world = await buildWorld({ rows: 300 });
    try {
      const contractId = await approvedContract(world);
      const op = await world.token('operator', 'org-a');
      const res = await world.server.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: `Bearer ${op}` },
        payload: { contractId, sql: 'SELECT district, count(*) AS n FROM population GROUP BY district' },
      });
      await waitForJob(world, op, res.json().id as string);
      expect(await checkIntegrity(world.platform.store)).toEqual([]);
      // what a crash between the log and its head would leave
      await world.platform.store.write((tx) => tx.run('UPDATE audit_head SET seq = seq - 1'));
      await world.server.close();
      await world.platform.close();

      await expect(createPlatform(testConfig(world.dataDir), silentLogger)).rejects.toMatchObject({
        code: 'ERR_STORE_DAMAGED',
        detail: expect.stringContaining('pds store repair'),
      });
      const { kept } = await repairStore(world.dataDir);
      expect(fs.existsSync(kept)).toBe(true);
      const store = await Store.open(world.dataDir);
      try {
        expect(await checkIntegrity(store)).toEqual([]);
        // nothing lost: the job and its output are there
        expect((await store.one<{ n: number }>('SELECT count(*)::INTEGER AS n FROM outputs'))?.n).toBe(1);
      } finally {
        await store.close();
      }
      const platform = await createPlatform(testConfig(world.dataDir), silentLogger);
      Object.assign(world, { platform, server: { close: async () => undefined } });
    } finally {
      await world.close();
    }
  });
});
