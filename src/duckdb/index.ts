import {
  DuckDBConnection,
  DuckDBInstance,
  DuckDBTypeId,
  StatementType,
  type DuckDBPreparedStatement,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

/**
 * The one adapter over `@duckdb/node-api`: instances opened with explicit options, values always
 * bound, identifiers always quoted, results converted to plain JSON values.
 */

export type SqlParams = DuckDBValue[] | Record<string, DuckDBValue>;
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type Row = Record<string, JsonValue>;

/** Quotes an identifier for DuckDB (double quotes, inner quotes doubled). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for the few places DuckDB takes no parameters (ATTACH paths, SET values). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

const NUMERIC_AS_STRING = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.DECIMAL,
]);

/** DuckDB's JSON conversion renders integers and decimals as strings; make them numbers when exact. */
function toJsonValue(value: unknown, type: DuckDBType): JsonValue {
  if (typeof value === 'string' && NUMERIC_AS_STRING.has(type.typeId)) {
    const n = Number(value);
    if (type.typeId === DuckDBTypeId.DECIMAL ? Number.isFinite(n) : Number.isSafeInteger(n)) return n;
  }
  return value as JsonValue;
}

export interface ReadResult {
  columns: { name: string; type: string }[];
  rows: JsonValue[][];
}

/** Converts a materialized reader into columns (with DuckDB type names) and JSON rows. */
export function readResult(reader: {
  columnNames(): string[];
  columnTypes(): DuckDBType[];
  getRowsJson(): unknown[][];
}): ReadResult {
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const rows = reader.getRowsJson().map((row) => row.map((v, i) => toJsonValue(v, types[i]!)));
  return { columns: names.map((name, i) => ({ name, type: types[i]!.toString() })), rows };
}

export async function queryRows<T extends Row = Row>(
  conn: DuckDBConnection,
  sql: string,
  params?: SqlParams,
): Promise<T[]> {
  return rowObjects<T>(await conn.runAndReadAll(sql, params));
}

/** A materialized result as one object per row, keyed by column name. */
function rowObjects<T extends Row>(reader: Parameters<typeof readResult>[0]): T[] {
  const { columns, rows } = readResult(reader);
  return rows.map((r) => Object.fromEntries(columns.map((c, i) => [c.name, r[i]!])) as T);
}

/**
 * DuckDB's own kind of a statement text (its parser and binder, not a pattern): several statements
 * in one text answer `'several'`. Nothing runs; a text that does not prepare throws DuckDB's error.
 */
export async function statementType(conn: DuckDBConnection, sql: string): Promise<StatementType | 'several'> {
  const extracted = await conn.extractStatements(sql);
  if (extracted.count !== 1) return 'several';
  const prepared = await extracted.prepare(0);
  try {
    return prepared.statementType;
  } finally {
    prepared.destroySync();
  }
}

export async function exec(conn: DuckDBConnection, sql: string, params?: SqlParams): Promise<void> {
  await conn.run(sql, params);
}

/**
 * Statements with parameters prepared once and reused, for a connection that runs one statement
 * at a time (the store's writer: binding and running must not interleave). Preparing is a third
 * of a small statement's cost. DDL through the connection clears it (`clear`).
 */
export class StatementCache {
  private readonly statements = new Map<string, DuckDBPreparedStatement>();

  constructor(
    private readonly conn: DuckDBConnection,
    private readonly max = 256,
  ) {}

  private async prepared(sql: string): Promise<DuckDBPreparedStatement> {
    let p = this.statements.get(sql);
    if (p) {
      // most recently used last, so the first is the one to drop
      this.statements.delete(sql);
    } else {
      p = await this.conn.prepare(sql);
      if (this.statements.size >= this.max) {
        const [oldest, stale] = this.statements.entries().next().value!;
        this.statements.delete(oldest);
        stale.destroySync();
      }
    }
    this.statements.set(sql, p);
    return p;
  }

  async rows<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    if (!params) return queryRows<T>(this.conn, sql);
    const p = await this.prepared(sql);
    p.bind(params);
    return rowObjects<T>(await p.runAndReadAll());
  }

  async run(sql: string, params?: SqlParams): Promise<void> {
    if (!params) return exec(this.conn, sql);
    const p = await this.prepared(sql);
    p.bind(params);
    await p.run();
  }

  clear(): void {
    for (const p of this.statements.values()) p.destroySync();
    this.statements.clear();
  }
}

/** Opens an instance with explicit options (DuckDB settings as strings). */
export async function openInstance(file: string, options: Record<string, string> = {}): Promise<DuckDBInstance> {
  return DuckDBInstance.create(file, options);
}

/** Runs `fn` with a fresh connection and always closes it. */
export async function withConnection<T>(
  instance: DuckDBInstance,
  fn: (conn: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const conn = await instance.connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

export { DuckDBConnection, DuckDBInstance, StatementType };
