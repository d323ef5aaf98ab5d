import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/api/index.ts';
import { createPlatform } from '../../src/platform/index.ts';
import { resolveStored, storedPath } from '../../src/store/index.ts';
import {
  approvedContract,
  buildWorld,
  silentLogger,
  testConfig,
  tmpDataDir,
  waitForJob,
  type TestWorld,
} from '../helpers.ts';

describe('paths in the store', () => {
  it('are relative to DATA_DIR, and a stored path cannot leave it', () => {
    expect(storedPath('/data', '/data/snapshots/ctr_1.duckdb')).toBe('snapshots/ctr_1.duckdb');
    expect(() => storedPath('/data', '/elsewhere/x.duckdb')).toThrow(/not inside DATA_DIR/);
    expect(resolveStored('/copy', 'snapshots/ctr_1.duckdb')).toBe('/copy/snapshots/ctr_1.duckdb');
    expect(() => resolveStored('/copy', '../data/snapshots/ctr_1.duckdb')).toThrow(/leaves DATA_DIR/);
  });

  describe('a copied DATA_DIR', () => {
    let world: TestWorld;
    const copy = tmpDataDir('pds-copy-');
    afterAll(async () => {
      await world.close();
      copy.cleanup();
    });

    it('serves its own snapshots and outputs, never the original location', async () => {
      world = await buildWorld({ rows: 500 });
      const contractId = await approvedContract(world);
      const op = await world.token('operator', 'org-a');
      const submit = async (server: TestWorld['server']) => {
        const res = await server.inject({
          method: 'POST',
          url: '/v1/jobs',
          headers: { authorization: `Bearer ${op}` },
          payload: { contractId, sql: 'SELECT district, count(*) AS n FROM population GROUP BY district' },
        });
        expect(res.statusCode, res.body).toBe(202);
        return res.json().id as string;
      };
      const first = await waitForJob(world, op, await submit(world.server));
      expect(first.status).toBe('released');
      const stored = await world.platform.store.one<{ snapshot_path: string }>(
        'SELECT snapshot_path FROM contracts WHERE id = $1',
        [contractId],
      );
      expect(stored!.snapshot_path).toBe(`snapshots/${contractId}.duckdb`);

      // stop, copy the whole DATA_DIR, and make the original's files unusable
      await world.server.close();
      await world.platform.close();
      fs.cpSync(world.dataDir, copy.dir, { recursive: true });
      const original = `${world.dataDir}/snapshots/${contractId}.duckdb`;
      fs.chmodSync(original, 0o600);
      fs.writeFileSync(original, 'not a snapshot');
      fs.rmSync(`${world.dataDir}/outputs`, { recursive: true, force: true });

      const platform = await createPlatform(testConfig(copy.dir), silentLogger);
      const server = await createServer(platform, silentLogger);
      Object.assign(world, { platform, server, dataDir: copy.dir });
      // the copy's own output downloads, and a new job runs on the copy's snapshot
      const data = await server.inject({
        method: 'GET',
        url: `/v1/outputs/${first.outputId as string}/data`,
        headers: { authorization: `Bearer ${op}` },
      });
      expect(data.statusCode, data.body).toBe(200);
      const second = await waitForJob(world, op, await submit(server));
      expect(second.status, JSON.stringify(second.reasons)).toBe('released');
    });
  });
});

describe('start-up after a crash', () => {
  it('clears job temp folders and half-built snapshots a killed process left behind', async () => {
    const t = tmpDataDir('pds-leftovers-');
    try {
      fs.mkdirSync(`${t.dir}/tmp/job_x-1`, { recursive: true });
      fs.writeFileSync(`${t.dir}/tmp/job_x-1/result.json`, '{}');
      fs.mkdirSync(`${t.dir}/snapshots`, { recursive: true });
      fs.writeFileSync(`${t.dir}/snapshots/ctr_x.duckdb.building`, '');
      fs.writeFileSync(`${t.dir}/snapshots/ctr_y.duckdb`, 'a sealed snapshot stays');
      const platform = await createPlatform(testConfig(t.dir), silentLogger);
      await platform.close();
      expect(fs.readdirSync(`${t.dir}/tmp`)).toEqual([]);
      expect(fs.readdirSync(`${t.dir}/snapshots`)).toEqual(['ctr_y.duckdb']);
    } finally {
      t.cleanup();
    }
  });
});
