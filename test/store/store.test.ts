import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, Store, tablesWritten } from '../../src/store/index.ts';
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

  it('refuses UPDATE … RETURNING in a transaction: a failed commit of one aborts DuckDB (issue 32)', async () => {
    const { store } = await open();
    await expect(
      store.write((tx) => tx.all("UPDATE schema_migrations SET name = 'x' WHERE version = 1 RETURNING version")),
    ).rejects.toThrow(TypeError);
    expect((await store.one('SELECT name FROM schema_migrations WHERE version = 1'))?.name).not.toBe('x');
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

  it('names the table a statement writes, and every table when it cannot tell', () => {
    expect(tablesWritten('SELECT * FROM jobs WHERE id = $1')).toBeUndefined();
    expect(tablesWritten('  BEGIN TRANSACTION')).toBeUndefined();
    expect(tablesWritten('INSERT INTO audit_log VALUES ($1)')).toBe('audit_log');
    expect(tablesWritten('INSERT OR REPLACE INTO "Contracts" (id) VALUES (1)')).toBe('contracts');
    expect(tablesWritten('UPDATE jobs SET status = $2 WHERE id = $1 RETURNING id')).toBe('jobs');
    expect(tablesWritten('DELETE FROM audit_head')).toBe('audit_head');
    // anything else could write anything: DDL, CTEs, several statements
    expect(tablesWritten('CREATE TABLE x (a INTEGER)')).toBe('*');
    expect(tablesWritten('WITH d AS (SELECT 1) UPDATE jobs SET status = 1')).toBe('*');
    expect(tablesWritten('SELECT 1; DELETE FROM contracts')).toBe('*');
    expect(tablesWritten('UPDATE jobs SET a = 1; DELETE FROM contracts')).toBe('*');
  });

  it('runs deferred work once, before commit or before a statement that names its table; never after a rollback', async () => {
    const { store } = await open();
    await store.write((tx) => tx.run('CREATE TABLE log (n INTEGER)'));
    let flushes = 0;
    const later = (tx: import('../../src/store/index.ts').Tx, n: number) =>
      tx.defer('log', ['log'], async (inner) => {
        flushes++;
        await inner.run('INSERT INTO log VALUES ($1)', [n]);
      });
    await store.write(async (tx) => {
      later(tx, 1);
      later(tx, 2); // one flush per key: the first one registered
      await tx.all('SELECT 1');
      expect(flushes).toBe(0);
    });
    expect(flushes).toBe(1);
    expect(await store.all('SELECT n FROM log')).toEqual([{ n: 1 }]);
    await store.write(async (tx) => {
      later(tx, 3);
      // a read of the table inside the transaction sees what was deferred
      expect(await tx.all('SELECT count(*)::INTEGER AS c FROM log')).toEqual([{ c: 2 }]);
    });
    await expect(
      store.write(async (tx) => {
        later(tx, 4);
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await store.all('SELECT n FROM log ORDER BY n')).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('keeps a memo while no statement writes its table, and drops one a rollback staged', async () => {
    const { store } = await open();
    await store.write((tx) => tx.run('CREATE TABLE t (a INTEGER)'));
    const at = store.writtenAt('t');
    await store.write(async (tx) => tx.setMemo('k', 't', 'one'));
    expect(await store.write(async (tx) => tx.memo('k', 't'))).toBe('one');
    // other tables do not touch it
    await store.write((tx) => tx.run('CREATE TABLE IF NOT EXISTS u (a INTEGER)'));
    expect(await store.write(async (tx) => tx.memo('k', 't'))).toBeUndefined(); // DDL: every table
    await store.write(async (tx) => tx.setMemo('k', 't', 'two'));
    await store.write((tx) => tx.run('INSERT INTO u VALUES (1)'));
    expect(await store.write(async (tx) => tx.memo('k', 't'))).toBe('two');
    expect(store.writtenAt('t')).toBeGreaterThan(at);
    // a write to its table: not trusted in that transaction, nor after it
    await store.write(async (tx) => {
      await tx.run('INSERT INTO t VALUES (1)');
      expect(tx.wrote('t')).toBe(true);
      expect(tx.memo('k', 't')).toBeUndefined();
    });
    expect(await store.write(async (tx) => tx.memo('k', 't'))).toBeUndefined();
    await expect(
      store.write(async (tx) => {
        tx.setMemo('k', 't', 'three');
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await store.write(async (tx) => tx.memo('k', 't'))).toBeUndefined();
  });
});
