import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildCli } from '../../src/cli/program.ts';
import { createPlatform } from '../../src/platform/index.ts';
import { checkIntegrity, Store } from '../../src/store/index.ts';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  silentLogger,
  submitJob,
  testConfig,
  waitForJob,
  type TestWorld,
} from '../helpers.ts';

/**
 * A control store with a block whose bytes no longer match its checksum (issue 32): a failing
 * disk under the jobs table. Mid-run, start-up and `pds store repair` each name the file and what
 * to do; before, a request answered DuckDB's raw IO error as 500 ERR_INTERNAL and start-up served.
 */

/** Flips one byte inside the first block DuckDB stored `table`'s rows in. */
async function damage(store: Store, table: string): Promise<void> {
  await store.all('CHECKPOINT');
  const [{ size }] = (await store.all<{ size: number }>(
    'SELECT block_size::INTEGER AS size FROM pragma_database_size() WHERE database_name = current_database()',
  )) as [{ size: number }];
  const [{ b }] = (await store.all<{ b: number }>(
    `SELECT min(block_id)::INTEGER AS b FROM pragma_storage_info('${table}') WHERE block_id >= 0`,
  )) as [{ b: number }];
  // the file's three 4 KiB headers, then the blocks, each after its 8-byte checksum
  const at = 3 * 4096 + b * size + 100;
  const fd = fs.openSync(store.file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    fs.writeSync(fd, byte, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}

describe('a checksum-damaged control store', () => {
  let world: TestWorld;
  let op: string;
  let jobId: string;
  let file: string;
  beforeAll(async () => {
    world = await buildWorld({ rows: 200 });
    op = await world.token('operator', 'org-a');
    jobId = await submitJob(
      world,
      op,
      await approvedContract(world),
      'SELECT district, count(*) AS n FROM population GROUP BY 1',
    );
    await waitForJob(world, op, jobId);
    file = world.platform.store.file;
  }, 120_000);
  afterAll(() => world.close());

  const as = () => ({ authorization: `Bearer ${op}` });
  const named = { code: 'ERR_STORE_DAMAGED', detail: expect.stringMatching(/pds store repair --data-dir/) };

  it('met mid-run: the request, /healthz and writes answer ERR_STORE_DAMAGED naming the file, not a raw DuckDB error', async () => {
    await damage(world.platform.store, 'jobs');
    // the start-up check read every block into memory: drop them, as a store larger than memory would
    await world.platform.store.all("SET memory_limit = '1MB'");
    await world.platform.store.all("SET memory_limit = '2GB'");
    const read = await world.server.inject({ method: 'GET', url: `/v1/jobs/${jobId}`, headers: as() });
    expect(read.statusCode, read.body).toBe(500);
    expect(read.headers['content-type']).toContain('application/problem+json');
    expect(read.json()).toMatchObject(named);
    expect(read.json().detail).toContain(file);
    expect(read.body).not.toMatch(/IO Error|checksum \d/);
    // reads of what is intact go on; nothing more is written over the damage
    expect((await world.server.inject({ method: 'GET', url: '/v1/catalog', headers: as() })).statusCode).toBe(200);
    const health = await world.server.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(500);
    expect(health.json()).toMatchObject(named);
    const write = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: as(),
      payload: APPLICATION,
    });
    expect(write.statusCode, write.body).toBe(500);
    expect(write.json()).toMatchObject(named);
  });

  it('at start-up: refused with ERR_STORE_DAMAGED naming the file and the table, and `pds store repair`', async () => {
    await world.server.close();
    await world.platform.close();
    Object.assign(world, { server: { close: async () => undefined }, platform: { close: async () => undefined } });
    await expect(createPlatform(testConfig(world.dataDir), silentLogger)).rejects.toMatchObject({
      ...named,
      detail: expect.stringContaining(`${file} is damaged`),
    });
    await expect(createPlatform(testConfig(world.dataDir), silentLogger)).rejects.toMatchObject({
      detail: expect.stringContaining('a block of jobs does not match its checksum'),
    });
  });

  it('`pds store repair` copies what reads, names what it lost, and puts the new store in place only when told', async () => {
    const repair = async (...args: string[]) => {
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        await buildCli().parseAsync(['node', 'pds', 'store', 'repair', '--data-dir', world.dataDir, '--json', ...args]);
        return JSON.parse(String(log.mock.calls.at(-1)![0])) as Record<string, unknown>;
      } finally {
        log.mockRestore();
        process.exitCode = undefined;
      }
    };
    // for a person, first: in Chinese, naming the table and rows lost (table names and paths as they are)
    const human = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await buildCli().parseAsync(['node', 'pds', 'store', 'repair', '--data-dir', world.dataDir]);
      expect(String(human.mock.calls.at(-1)![0])).toMatch(
        /^已复制 \d+ 张表，\d+ 行\n丢失 jobs 的 1 行：它们所在的数据块校验和不符\n损坏的控制库保持原位；新控制库为 \S+。/,
      );
    } finally {
      human.mockRestore();
      process.exitCode = undefined;
    }
    const first = await repair();
    // the job's row was in the damaged block: lost, and said so; the damaged store stays in place
    expect(first).toMatchObject({ installed: false, kept: file });
    expect(first.tables).toEqual(
      expect.arrayContaining([
        { table: 'jobs', rows: 0, lost: 1 },
        { table: 'outputs', rows: 1, lost: 0 },
        expect.objectContaining({ table: 'audit_log', lost: 0 }),
      ]),
    );
    expect(fs.existsSync(String(first.repaired))).toBe(true);
    await expect(createPlatform(testConfig(world.dataDir), silentLogger)).rejects.toMatchObject(named);

    const second = await repair('--accept-loss');
    expect(second).toMatchObject({ installed: true, repaired: file, problems: [], audit: { ok: true } });
    expect(fs.existsSync(String(second.kept))).toBe(true);
    expect(path.dirname(String(second.kept))).toBe(world.dataDir);
    const platform = await createPlatform(testConfig(world.dataDir), silentLogger);
    try {
      expect(await checkIntegrity(platform.store)).toEqual([]);
      expect(await platform.store.all('SELECT id FROM jobs')).toEqual([]);
      expect((await platform.store.one<{ n: number }>('SELECT count(*)::INTEGER AS n FROM outputs'))?.n).toBe(1);
    } finally {
      await platform.close();
    }
  });
});
