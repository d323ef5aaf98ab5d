import fs from 'node:fs';
import path from 'node:path';
import { isPdsError, PdsError } from '../errors/index.ts';
import {
  exec,
  openInstance,
  queryRows,
  StatementCache,
  type DuckDBConnection,
  type DuckDBInstance,
  type Row,
  type SqlParams,
} from '../duckdb/index.ts';
import { isStoreDamaged, storeDamaged } from './integrity.ts';
import { isStoreLocked, storeLocked } from './locked.ts';
import { MIGRATIONS, type Migration } from './migrations.ts';
import { ensureFreeSpace, isDiskFull, storageFull } from './space.ts';
import { StatementKinds, tablesWritten } from './written.ts';

export * from '../duckdb/index.ts';
export { MIGRATIONS, type Migration } from './migrations.ts';
export { resolveStored, storedPath } from './paths.ts';
export { ensureFreeSpace, freeBytes, isDiskFull, storageFull } from './space.ts';
export {
  checkDataDirEncryption,
  cryptBacked,
  dataDirNotEncrypted,
  DataDirEncryptionSchema,
  fscryptStatusEncrypted,
  isCryptUuid,
  lsattrEncrypted,
  mountOf,
  parseMountinfo,
  type DataDirEncryption,
  type EncryptionProbe,
  type MountEntry,
} from './encryption.ts';
export { assertIntact, checkIntegrity, isStoreDamaged, storeDamaged, type IntegrityProblem } from './integrity.ts';
export { repairStore, type RepairReport } from './repair.ts';
export { isStoreLocked, lockHolderPid, storeLocked } from './locked.ts';
export { StatementKinds, tablesWritten, type StatementKind } from './written.ts';

/**
 * A handle for statements inside one store transaction. A statement that writes rows (INSERT,
 * UPDATE, DELETE) names its table in `writes`; one that does not counts as writing every table
 * (which drops every memo; see src/store/written.ts).
 */
export interface Tx {
  all<T extends Row = Row>(sql: string, params?: SqlParams, writes?: string): Promise<T[]>;
  one<T extends Row = Row>(sql: string, params?: SqlParams, writes?: string): Promise<T | undefined>;
  run(sql: string, params?: SqlParams, writes?: string): Promise<void>;
  /**
   * Runs `flush` before the transaction commits, or before any later statement of it that names
   * one of `tables` (so a read inside the transaction sees what was deferred). One flush per key.
   */
  defer(key: string, tables: readonly string[], flush: (tx: Tx) => Promise<void>): void;
  /**
   * A value kept between transactions by the store's one writer (e.g. the audit chain's head),
   * answered while no statement has written `table` since a committed transaction set it.
   */
  memo<T>(key: string, table: string): T | undefined;
  /** Keeps `value` under `key` once this transaction commits (dropped if it rolls back). */
  setMemo<T>(key: string, table: string, value: T): void;
  /** Whether a statement of this transaction wrote `table` (or could have: DDL and the like). */
  wrote(table: string): boolean;
}

/**
 * DuckDB makes an UPDATE … RETURNING of a keyed table a delete and an insert in its index; when
 * the commit then fails (a full disk), undoing it re-inserts the key and aborts the process
 * (FatalException, duplicate key). Statements read the count an UPDATE answers instead
 * (docs/architecture.md §14).
 */
const UPDATE_RETURNING = /^\s*UPDATE\b[\s\S]*\bRETURNING\b/i;

/** One write transaction's statements, deferred work and memos (see Tx). */
class Transaction {
  /** Tables written by this transaction's own statements and by its deferred work. */
  readonly written = new Set<string>();
  /** Tables written by the caller's statements (deferred work excluded): memos of those are not trusted. */
  private readonly touched = new Set<string>();
  private readonly deferred = new Map<string, { names: RegExp; flush: (tx: Tx) => Promise<void> }>();
  readonly staged = new Map<string, { table: string; value: unknown }>();
  readonly tx: Tx;

  constructor(
    private readonly statements: StatementCache,
    kinds: StatementKinds,
    conn: DuckDBConnection,
    private readonly memos: Map<string, { table: string; at: number; value: unknown }>,
    private readonly writtenAt: (table: string) => number,
  ) {
    const statement = async (sql: string, own: boolean, writes: string | undefined) => {
      if (UPDATE_RETURNING.test(sql))
        throw new TypeError(`UPDATE … RETURNING in a store transaction: ${sql.slice(0, 80)}`);
      if (own) for (const [key, d] of [...this.deferred]) if (d.names.test(sql)) await this.flush(key);
      const kind = await kinds.of(conn, sql);
      const table = tablesWritten(kind, writes);
      if (table) {
        this.written.add(table);
        if (own) this.touched.add(table);
      }
      // a schema change may leave prepared statements stale
      if (kind === 'schema') statements.clear();
    };
    const make = (own: boolean): Tx => ({
      all: async (sql, params, writes) => (await statement(sql, own, writes), statements.rows(sql, params)),
      one: async (sql, params, writes) => (
        await statement(sql, own, writes),
        (await statements.rows(sql, params))[0] as never
      ),
      run: async (sql, params, writes) => (await statement(sql, own, writes), statements.run(sql, params)),
      defer: (key, tables, flush) => {
        if (!this.deferred.has(key))
          this.deferred.set(key, { names: new RegExp(`\\b(${tables.join('|')})\\b`, 'i'), flush });
      },
      memo: <T>(key: string, table: string): T | undefined => {
        if (this.touched.has(table) || this.touched.has('*')) return undefined;
        if (this.staged.has(key)) return this.staged.get(key)!.value as T;
        return this.current(key)?.value as T | undefined;
      },
      setMemo: (key, table, value) => void this.staged.set(key, { table, value }),
      wrote: (table) => this.touched.has(table) || this.touched.has('*'),
    });
    this.tx = make(true);
    this.inner = make(false);
  }

  /** The handle deferred work writes through: its statements do not distrust the memos. */
  private readonly inner: Tx;

  private current(key: string) {
    const m = this.memos.get(key);
    return m && this.writtenAt(m.table) <= m.at ? m : undefined;
  }

  private async flush(key: string): Promise<void> {
    const d = this.deferred.get(key);
    if (!d) return;
    this.deferred.delete(key);
    await d.flush(this.inner);
  }

  async flushAll(): Promise<void> {
    while (this.deferred.size > 0) await this.flush(this.deferred.keys().next().value!);
  }
}

/**
 * One thread: the store answers many small statements, and a second thread doubles the CPU each of
 * them costs (bench:jobs, docs/architecture.md §17).
 */
const STORE_OPTIONS = { threads: '1' };

/**
 * The control store: one DuckDB file owned by the API process, its only writer (docs/architecture.md §2).
 * Writes are serialized through one queue so that read-modify-write sequences (state machines,
 * the audit chain's head) never interleave; reads use their own connection and see committed data.
 */
export class Store {
  private tail: Promise<unknown> = Promise.resolve();
  private commits = 0;
  private statements: StatementCache;
  /** Each statement text's kind, as DuckDB parses it (src/store/written.ts). */
  private readonly kinds = new StatementKinds();
  /** The commit that last wrote each table ('*': a statement that could have written any). */
  private readonly writtenBy = new Map<string, number>();
  private readonly memos = new Map<string, { table: string; at: number; value: unknown }>();
  /** Set when DuckDB reported a fatal error: the database is invalidated and nothing more is written. */
  private fatal: string | undefined;
  private readonly fatalListeners: ((reason: string) => void)[] = [];
  private readonly reopenListeners: ((reason: string) => void)[] = [];
  /** While the instance is closed and opened again: reads wait for it. */
  private reopening: Promise<void> | undefined;
  private reads = 0;
  private readsIdle: (() => void)[] = [];
  /** The instance was closed and could not be opened again: nothing is read or written. */
  private closed = false;

  private constructor(
    private instance: DuckDBInstance,
    private reader: DuckDBConnection,
    private writer: DuckDBConnection,
    readonly file: string,
    private readonly minFreeBytes: number,
  ) {
    this.statements = new StatementCache(writer);
  }

  /**
   * Opens (creating if needed) `DATA_DIR/control.duckdb` and applies pending migrations. Every
   * write first checks that DATA_DIR has `minFreeBytes` free (default 64 MB).
   */
  static async open(dataDir: string, opts: { minFreeBytes?: number } = {}): Promise<Store> {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, 'control.duckdb');
    let store: Store | undefined;
    try {
      const instance = await openInstance(file, STORE_OPTIONS);
      store = new Store(
        instance,
        await instance.connect(),
        await instance.connect(),
        file,
        opts.minFreeBytes ?? 64 * 1024 * 1024,
      );
      await store.migrate(MIGRATIONS);
      return store;
    } catch (err) {
      await store?.close().catch(() => undefined);
      if (isPdsError(err)) throw err;
      // another process (a running server) holds the file's lock
      if (isStoreLocked(err)) throw storeLocked(file, err);
      // a block of the catalog that fails its checksum: DuckDB cannot even open the file
      throw isStoreDamaged(err) ? storeDamaged(file, err) : err;
    }
  }

  /**
   * The number of the last committed transaction that wrote `table` (0 if none since this process
   * opened the store): a read of `table` cached at one such number is current while it is unchanged.
   */
  writtenAt(table: string): number {
    return Math.max(this.writtenBy.get(table) ?? 0, this.writtenBy.get('*') ?? 0);
  }

  /**
   * Set when a read or write met a block that fails its checksum: the store answers what it can
   * still read and takes no more writes (a checkpoint over the damaged block could lose more);
   * `/healthz` names it. Start-up then stops at the same block (docs/architecture.md §14).
   */
  get damage(): PdsError | undefined {
    return this.damaged;
  }

  private damaged: PdsError | undefined;

  /** ERR_STORE_DAMAGED for a DuckDB error that says a block is damaged, remembered; other errors as they are. */
  private translate(err: unknown): unknown {
    if (!isStoreDamaged(err) || isPdsError(err)) return err;
    this.damaged ??= storeDamaged(this.file, err);
    return storeDamaged(this.file, err);
  }

  /** Why the store stopped taking writes, when DuckDB reported a fatal error; undefined while healthy. */
  get failure(): string | undefined {
    return this.fatal;
  }

  /** Called once if the database is invalidated: the process should stop serving and be restarted. */
  onFatal(listener: (reason: string) => void): void {
    this.fatalListeners.push(listener);
  }

  /** Called after the store was reopened following a failed commit (for the log). */
  onReopen(listener: (reason: string) => void): void {
    this.reopenListeners.push(listener);
  }

  private noteFatal(err: unknown): void {
    const message = (err as Error)?.message ?? String(err);
    if (/FATAL|database has been invalidated|must be restarted/i.test(message)) this.markFatal(message);
  }

  private markFatal(reason: string): void {
    if (this.fatal) return;
    this.fatal = reason;
    for (const l of this.fatalListeners) l(reason);
  }

  /**
   * After a commit that failed part-way (its WAL could not be written), DuckDB's tables and indexes
   * in memory need not be what the file holds: the instance is closed without the checkpoint a
   * close makes (which would write that memory to the file) and opened again, replaying the WAL —
   * the store is then exactly what was committed. If it cannot be opened, the store is failed:
   * `pds serve` exits 70 for its supervisor (docs/architecture.md §14).
   */
  private async reopen(cause: unknown): Promise<void> {
    const why = `a commit failed (${(cause as Error)?.message ?? String(cause)})`;
    let done!: () => void;
    this.reopening = new Promise<void>((r) => (done = r));
    try {
      while (this.reads > 0) await new Promise<void>((r) => this.readsIdle.push(r));
      await exec(this.writer, 'PRAGMA disable_checkpoint_on_shutdown').catch(() => undefined);
      this.statements.clear();
      this.closed = true;
      this.reader.closeSync();
      this.writer.closeSync();
      this.instance.closeSync();
      // opening a file that is gone would make an empty store
      if (!fs.existsSync(this.file)) throw new Error(`${this.file} is gone`);
      this.instance = await openInstance(this.file, STORE_OPTIONS);
      this.reader = await this.instance.connect();
      this.writer = await this.instance.connect();
      this.statements = new StatementCache(this.writer);
      this.closed = false;
      // what was cached may hold what the failed commit did: every table counts as written
      this.memos.clear();
      this.writtenBy.set('*', ++this.commits);
      for (const l of this.reopenListeners) l(why);
    } catch (err) {
      this.markFatal(`the control store could not be reopened after ${why}: ${(err as Error).message}`);
    } finally {
      this.reopening = undefined;
      done();
    }
  }

  /** Applies every migration newer than the store's version, each in its own transaction. */
  async migrate(migrations: Migration[]): Promise<number[]> {
    await exec(
      this.writer,
      `CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at VARCHAR NOT NULL)`,
    );
    const done = new Set(
      (await queryRows<{ version: number }>(this.writer, 'SELECT version FROM schema_migrations')).map(
        (r) => r.version,
      ),
    );
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      try {
        await this.write(async (tx) => {
          await tx.run(m.sql);
          await tx.run(
            'INSERT INTO schema_migrations VALUES ($1, $2, $3)',
            [m.version, m.name, new Date().toISOString()],
            'schema_migrations',
          );
        });
      } catch (err) {
        if (isStoreDamaged(err)) throw this.translate(err);
        throw new PdsError(
          'ERR_STORE_MIGRATION',
          `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      applied.push(m.version);
    }
    return applied;
  }

  async version(): Promise<number> {
    const row = await this.one<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    return row?.v ?? 0;
  }

  /** Runs `fn` in one serialized write transaction; rolls back on any error. */
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      if (this.fatal)
        throw new PdsError(
          'ERR_STORE_UNAVAILABLE',
          'the control store failed earlier; the API takes no writes until restarted',
        );
      if (this.damaged) throw this.damaged;
      // a commit that cannot be written can invalidate the database: refuse before beginning
      ensureFreeSpace(path.dirname(this.file), this.minFreeBytes, 'write to the control store');
      await exec(this.writer, 'BEGIN TRANSACTION');
      const t = new Transaction(this.statements, this.kinds, this.writer, this.memos, (table) => this.writtenAt(table));
      let committing = false;
      try {
        const result = await fn(t.tx);
        await t.flushAll();
        committing = true;
        await exec(this.writer, 'COMMIT');
        const at = ++this.commits;
        for (const table of t.written) this.writtenBy.set(table, at);
        for (const [key, m] of t.staged) this.memos.set(key, { ...m, at });
        return result;
      } catch (err) {
        await exec(this.writer, 'ROLLBACK').catch(() => undefined);
        this.noteFatal(err);
        if (committing && !this.fatal) await this.reopen(err);
        if (isDiskFull(err)) throw storageFull(path.dirname(this.file), 'nothing was written', err);
        throw this.translate(err);
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  async all<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    while (this.reopening) await this.reopening;
    if (this.closed) throw new PdsError('ERR_STORE_UNAVAILABLE', `the control store failed: ${this.fatal}`);
    this.reads++;
    try {
      return await queryRows<T>(this.reader, sql, params);
    } catch (err) {
      throw this.translate(err);
    } finally {
      if (--this.reads === 0) for (const idle of this.readsIdle.splice(0)) idle();
    }
  }

  async one<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async close(): Promise<void> {
    await this.tail;
    if (this.closed) return;
    this.statements.clear();
    this.reader.closeSync();
    this.writer.closeSync();
    this.instance.closeSync();
  }
}
