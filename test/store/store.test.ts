import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, Store } from '../../src/store/index.ts';
import { tmpDataDir } from '../helpers.ts';

describe('Store', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  async function open(dir?: string) {
    const t = dir ? { dir, cleanup: () => undefined } : tmpDataDir();
    const store = await Store.open(t.dir);
    cleanups.push(t.cleanup, () => store.close());
    return { store, dir: t.dir };
  }

  it('applies every migration once and records its version', async () => {
    const { store, dir } = await open();
    expect(await store.version()).toBe(MIGRATIONS.at(-1)!.version);
    await store.close();
    cleanups.pop();
    const again = await Store.open(dir);
    cleanups.push(() => again.close());
    expect(await again.migrate(MIGRATIONS)).toEqual([]);
  });

  it('applies a new migration version in its own transaction', async () => {
    const { store } = await open();
    const next = { version: 999, name: 'test table', sql: 'CREATE TABLE t999 (x INTEGER)' };
    expect(await store.migrate([...MIGRATIONS, next])).toEqual([999]);
    expect(await store.version()).toBe(999);
  });

  it('a failed migration leaves nothing behind and names itself', async () => {
    const { store } = await open();
    const bad = { version: 1000, name: 'broken', sql: 'CREATE TABLE ok1000 (x INTEGER); CREATE TABLE nope (' };
    await expect(store.migrate([...MIGRATIONS, bad])).rejects.toMatchObject({ code: 'ERR_STORE_MIGRATION' });
    expect(await store.all("SELECT * FROM duckdb_tables() WHERE table_name = 'ok1000'")).toEqual([]);
    expect(await store.version()).toBe(MIGRATIONS.at(-1)!.version);
  });

  it('rolls a write back when its function throws', async () => {
    const { store } = await open();
    await expect(
      store.write(async (tx) => {
        await tx.run(
          `INSERT INTO jobs (id, contract_id, operator_org, submitted_by, sql, status, reasons, created_at) VALUES ('job_x', 'c', 'o', 's', 'q', 'queued', '[]', 'now')`,
        );
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.all('SELECT * FROM jobs')).toEqual([]);
  });

  it('serializes concurrent writes so read-modify-write never interleaves', async () => {
    const { store } = await open();
    await store.write((tx) => tx.run('CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0)'));
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.write(async (tx) => {
          const row = await tx.one<{ n: number }>('SELECT n FROM counter');
          await new Promise((r) => setTimeout(r, 1));
          await tx.run('UPDATE counter SET n = $1', [row!.n + 1]);
        }),
      ),
    );
    expect((await store.one<{ n: number }>('SELECT n FROM counter'))!.n).toBe(20);
  });
});
