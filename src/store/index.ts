import fs from 'node:fs';
import path from 'node:path';
import { PdsError } from '../errors/index.ts';
import {
  exec,
  openInstance,
  queryRows,
  type DuckDBConnection,
  type DuckDBInstance,
  type Row,
  type SqlParams,
} from '../duckdb/index.ts';
import { MIGRATIONS, type Migration } from './migrations.ts';
import { ensureFreeSpace, isDiskFull } from './space.ts';

export * from '../duckdb/index.ts';
export { MIGRATIONS, type Migration } from './migrations.ts';
export { resolveStored, storedPath } from './paths.ts';
export { ensureFreeSpace, freeBytes, isDiskFull } from './space.ts';
export { assertIntact, checkIntegrity, repairStore, type IntegrityProblem } from './integrity.ts';

/** A handle for statements inside one store transaction. */
export interface Tx {
  all<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]>;
  one<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T | undefined>;
  run(sql: string, params?: SqlParams): Promise<void>;
}

function txOf(conn: DuckDBConnection): Tx {
  return {
    all: (sql, params) => queryRows(conn, sql, params),
    one: async (sql, params) => (await queryRows(conn, sql, params))[0] as never,
    run: (sql, params) => exec(conn, sql, params),
  };
}

/**
 * The control store: one DuckDB file owned by the API process, its only writer (docs/architecture.md §2).
 * Writes are serialized through one queue so that read-modify-write sequences (state machines,
 * the audit chain's head) never interleave; reads use their own connection and see committed data.
 */
export class Store {
  private tail: Promise<unknown> = Promise.resolve();
  private commits = 0;
  /** Set when DuckDB reported a fatal error: the database is invalidated and nothing more is written. */
  private fatal: string | undefined;
  private readonly fatalListeners: ((reason: string) => void)[] = [];

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly reader: DuckDBConnection,
    private readonly writer: DuckDBConnection,
    readonly file: string,
    private readonly minFreeBytes: number,
  ) {}

  /**
   * Opens (creating if needed) `DATA_DIR/control.duckdb` and applies pending migrations. Every
   * write first checks that DATA_DIR has `minFreeBytes` free (default 64 MB).
   */
  static async open(dataDir: string, opts: { minFreeBytes?: number } = {}): Promise<Store> {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, 'control.duckdb');
    const instance = await openInstance(file, { threads: '2' });
    const store = new Store(
      instance,
      await instance.connect(),
      await instance.connect(),
      file,
      opts.minFreeBytes ?? 64 * 1024 * 1024,
    );
    await store.migrate(MIGRATIONS);
    return store;
  }

  /**
   * How many write transactions have committed: a read cached at one generation is current while
   * the generation is unchanged (this process is the store's only writer).
   */
  get generation(): number {
    return this.commits;
  }

  /** Why the store stopped taking writes, when DuckDB reported a fatal error; undefined while healthy. */
  get failure(): string | undefined {
    return this.fatal;
  }

  /** Called once if the database is invalidated: the process should stop serving and be restarted. */
  onFatal(listener: (reason: string) => void): void {
    this.fatalListeners.push(listener);
  }

  private noteFatal(err: unknown): void {
    const message = (err as Error)?.message ?? String(err);
    if (this.fatal || !/FATAL|database has been invalidated|must be restarted/i.test(message)) return;
    this.fatal = message;
    for (const l of this.fatalListeners) l(message);
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
          await tx.run('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            new Date().toISOString(),
          ]);
        });
      } catch (err) {
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
      // a commit that cannot be written can invalidate the database: refuse before beginning
      ensureFreeSpace(path.dirname(this.file), this.minFreeBytes, 'write to the control store');
      await exec(this.writer, 'BEGIN TRANSACTION');
      try {
        const result = await fn(txOf(this.writer));
        await exec(this.writer, 'COMMIT');
        this.commits++;
        return result;
      } catch (err) {
        await exec(this.writer, 'ROLLBACK').catch(() => undefined);
        this.noteFatal(err);
        if (isDiskFull(err))
          throw new PdsError(
            'ERR_STORAGE_FULL',
            `the disk holding ${path.dirname(this.file)} is full; nothing was written — free some space and retry`,
            { cause: err, extra: { directory: path.dirname(this.file) } },
          );
        throw err;
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  all<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return queryRows<T>(this.reader, sql, params);
  }

  async one<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async close(): Promise<void> {
    await this.tail;
    this.reader.closeSync();
    this.writer.closeSync();
    this.instance.closeSync();
  }
}
