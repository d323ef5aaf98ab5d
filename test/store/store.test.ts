import { afterEach, describe, expect, it } from 'vitest';
import {
  MIGRATIONS,
  StatementKinds,
  Store,
  tablesWritten,
  type DuckDBConnection,
  type Tx,
} from '../../src/store/index.ts';
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

  it("learns a statement's kind from DuckDB: a read writes nothing, a row write its declared table, anything else every table", () => {
    expect(tablesWritten('read', undefined)).toBeUndefined();
    expect(tablesWritten('row', 'Audit_Log')).toBe('audit_log');
    expect(tablesWritten('row', undefined)).toBe('*'); // an undeclared write could be any table
    expect(tablesWritten('schema', 'jobs')).toBe('*');
    expect(() => tablesWritten('read', 'jobs')).toThrow(TypeError);
  });

  it('asks DuckDB once per statement text, and keeps no answer for a text that does not prepare', async () => {
    const { store } = await open();
    const kinds = new StatementKinds();
    const kindsOf = (sql: string) =>
      store.write(async (tx) => {
        void tx;
        return kinds.of((store as unknown as { writer: DuckDBConnection }).writer, sql);
      });
    expect(await kindsOf('SELECT * FROM jobs WHERE id = $1')).toBe('read');
    expect(await kindsOf("SELECT * FROM jobs WHERE id = ';'")).toBe('read');
    expect(await kindsOf('WITH d AS (SELECT 1) SELECT * FROM d')).toBe('read');
    expect(await kindsOf('INSERT INTO jobs (id) VALUES ($1)')).toBe('row');
    expect(await kindsOf('-- a note\nDELETE FROM audit_head')).toBe('row');
    expect(await kindsOf('CREATE TABLE x (a INTEGER)')).toBe('schema');
    expect(await kindsOf('SELECT 1; DELETE FROM contracts')).toBe('schema');
    expect(await kindsOf('SELECT * FROM not_yet_a_table')).toBe('schema');
  });

  describe('every kind of write statement in src drops the memos of the table it wrote, and only those', () => {
    async function world() {
      const { store } = await open();
      await store.write((tx) =>
        tx.run('CREATE TABLE t (k INTEGER PRIMARY KEY, a INTEGER); CREATE TABLE u (a INTEGER)'),
      );
      await store.write(async (tx) => {
        await tx.run('INSERT INTO t VALUES (1, 1)', undefined, 't');
        tx.setMemo('t', 't', 'of t');
        tx.setMemo('u', 'u', 'of u');
      });
      const memos = () => store.write(async (tx) => [tx.memo('t', 't'), tx.memo('u', 'u')]);
      expect(await memos()).toEqual(['of t', 'of u']);
      return { store, memos };
    }
    const cases: [string, string, (tx: Tx) => Promise<unknown>][] = [
      ['INSERT', 't', (tx) => tx.run('INSERT INTO t VALUES ($1, 2)', [2], 't')],
      ['INSERT … RETURNING (tx.one)', 't', (tx) => tx.one('INSERT INTO t VALUES ($1, 2) RETURNING *', [2], 't')],
      ['UPDATE (its count read)', 't', (tx) => tx.one('UPDATE t SET a = $1 WHERE k = 1', [5], 't')],
      ['DELETE', 't', (tx) => tx.run('DELETE FROM t WHERE k = $1', [1], 't')],
      [
        'INSERT … ON CONFLICT',
        't',
        (tx) => tx.run('INSERT INTO t VALUES ($1, 3) ON CONFLICT (k) DO UPDATE SET a = excluded.a', [1], 't'),
      ],
      ['INSERT OR REPLACE', 't', (tx) => tx.run('INSERT OR REPLACE INTO t VALUES ($1, 4)', [1], 't')],
      // the regex took any statement that did not start with the verb for "every table"
      [
        'a CTE-prefixed UPDATE',
        't',
        (tx) => tx.run('WITH d AS (SELECT 9 AS v) UPDATE t SET a = (SELECT v FROM d)', [], 't'),
      ],
      ['a write to the other table', 'u', (tx) => tx.run('INSERT INTO u VALUES ($1)', [1], 'u')],
      ["the audit head's own write", 't', (tx) => tx.run('UPDATE t SET k = $1, a = $2', [7, 7], 't')],
    ];
    for (const [what, table, write] of cases)
      it(what, async () => {
        const { store, memos } = await world();
        await store.write(async (tx) => {
          await write(tx);
          expect(tx.wrote(table)).toBe(true);
          expect(tx.wrote(table === 't' ? 'u' : 't')).toBe(false);
        });
        expect(await memos()).toEqual(table === 't' ? [undefined, 'of u'] : ['of t', undefined]);
      });

    it("a write that declares no table, a migration's CREATE and ALTER, several statements in one: every memo", async () => {
      for (const write of [
        (tx: Tx) => tx.run('INSERT INTO u VALUES ($1)', [1]),
        (tx: Tx) => tx.run('CREATE TABLE IF NOT EXISTS v (a INTEGER)'),
        (tx: Tx) => tx.run('ALTER TABLE u ADD COLUMN b INTEGER'),
        (tx: Tx) => tx.run('INSERT INTO u (a) VALUES (1); INSERT INTO t VALUES (5, 5)'),
      ]) {
        const { store, memos } = await world();
        await store.write(async (tx) => {
          await write(tx);
          expect(tx.wrote('t') && tx.wrote('u')).toBe(true);
        });
        expect(await memos()).toEqual([undefined, undefined]);
      }
    });

    it('reads keep every memo, even one with a semicolon in a literal (the regex dropped them all)', async () => {
      const { store, memos } = await world();
      await store.write(async (tx) => {
        expect(await tx.all("SELECT * FROM t WHERE a::VARCHAR <> ';'")).toHaveLength(1);
        expect(await tx.one('WITH d AS (SELECT a FROM u) SELECT count(*) AS c FROM d')).toBeDefined();
        expect(tx.wrote('t') || tx.wrote('u')).toBe(false);
      });
      expect(await memos()).toEqual(['of t', 'of u']);
      await expect(store.write((tx) => tx.all('SELECT * FROM t', [], 't'))).rejects.toThrow(TypeError);
    });
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
    await store.write((tx) => tx.run('INSERT INTO u VALUES (1)', undefined, 'u'));
    expect(await store.write(async (tx) => tx.memo('k', 't'))).toBe('two');
    expect(store.writtenAt('t')).toBeGreaterThan(at);
    // a write to its table: not trusted in that transaction, nor after it
    await store.write(async (tx) => {
      await tx.run('INSERT INTO t VALUES (1)', undefined, 't');
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
