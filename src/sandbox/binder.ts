import { createHash } from 'node:crypto';
import { PdsError, type RefusalFacts } from '../errors/index.ts';
import {
  exec,
  openInstance,
  quoteIdent,
  quoteLiteral,
  type DuckDBConnection,
  type DuckDBInstance,
} from '../duckdb/index.ts';

export interface BoundColumn {
  name: string;
  type: string;
}

/** Schemas kept at once; past this the binder starts a fresh instance (they are cheap to make again). */
const MAX_SCHEMAS = 500;
/** A bind that takes longer than this is interrupted (binding never reads data; this is a backstop). */
const BIND_TIMEOUT_MS = 5000;

/**
 * Binds a query against empty tables with a snapshot's schema, to learn the columns and types its
 * result will have — without opening the snapshot. The API checks a worker's outcome against
 * them (docs/architecture.md, "The run protocol"). Binding plans the query and never runs it;
 * constant folding is switched off so no expression is evaluated here, and the instance can
 * reach no file.
 */
export class SchemaBinder {
  private tail: Promise<unknown> = Promise.resolve();
  private schemas = new Map<string, string>();

  private constructor(
    private instance: DuckDBInstance,
    private conn: DuckDBConnection,
  ) {}

  static async create(): Promise<SchemaBinder> {
    const { instance, conn } = await SchemaBinder.open();
    return new SchemaBinder(instance, conn);
  }

  private static async open(): Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }> {
    const instance = await openInstance(':memory:', {
      threads: '1',
      memory_limit: '256MB',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    const conn = await instance.connect();
    await exec(conn, "SET disabled_optimizers = 'expression_rewriter'");
    await exec(conn, 'SET enable_external_access = false');
    return { instance, conn };
  }

  /**
   * The result columns of `sql` over tables shaped like `tables`; `key` names the schema (a
   * contract's snapshot hash), made once. A query that does not bind is refused as ERR_SQL_INVALID.
   */
  describe(key: string, tables: Record<string, BoundColumn[]>, sql: string): Promise<BoundColumn[]> {
    const run = this.tail.then(() => this.describeNow(key, tables, sql));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async describeNow(key: string, tables: Record<string, BoundColumn[]>, sql: string): Promise<BoundColumn[]> {
    const schema = await this.schemaFor(key, tables);
    await exec(this.conn, `SET schema = ${quoteLiteral(schema)}`);
    const timer = setTimeout(() => this.conn.interrupt(), BIND_TIMEOUT_MS);
    try {
      const prepared = await this.conn.prepare(sql);
      return Array.from({ length: prepared.columnCount }, (_, i) => ({
        name: prepared.columnName(i),
        type: prepared.columnType(i).toString(),
      }));
    } catch (err) {
      const first = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 500);
      throw new PdsError('ERR_SQL_INVALID', first, { cause: err, extra: { facts: bindingFacts(first) } });
    } finally {
      clearTimeout(timer);
    }
  }

  private async schemaFor(key: string, tables: Record<string, BoundColumn[]>): Promise<string> {
    const known = this.schemas.get(key);
    if (known) return known;
    if (this.schemas.size >= MAX_SCHEMAS) await this.reset();
    const name = `s_${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
    await exec(this.conn, `CREATE SCHEMA ${quoteIdent(name)}`);
    for (const [table, columns] of Object.entries(tables)) {
      await exec(
        this.conn,
        `CREATE TABLE ${quoteIdent(name)}.${quoteIdent(table)} (${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`,
      );
    }
    this.schemas.set(key, name);
    return name;
  }

  private async reset(): Promise<void> {
    this.dispose();
    ({ instance: this.instance, conn: this.conn } = await SchemaBinder.open());
    this.schemas.clear();
  }

  dispose(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/**
 * What DuckDB's binder named when it refused: a column, a table or a function the snapshot does
 * not have, read from its message (names from the operator's own query, never data).
 */
export function bindingFacts(message: string): RefusalFacts {
  const column = /Referenced column "?([^"\s]+)"? not found/i.exec(message);
  if (column) return { reason: 'binding', columnName: column[1]! };
  const table = /Table with name "?([^"\s!]+)"? does not exist/i.exec(message);
  if (table) return { reason: 'binding', table: table[1]! };
  const fn = /Function with name "?([^"\s!]+)"? does not exist/i.exec(message);
  if (fn) return { reason: 'binding', function: fn[1]! };
  return { reason: 'binding' };
}
