/**
 * Warming a contract's next instance while its runner waits (docs/architecture.md §11, "The next
 * instance, warmed"). Every job gets a fresh DuckDB instance, and a fresh instance starts with an
 * empty buffer pool: its first reads of a 10 M-row table cost ~0.3 s that a long-lived plain
 * connection does not pay. An operator's jobs on one contract read the same tables again and again,
 * so once a job has answered, the runner asks DuckDB which columns that job's plan scanned
 * (`EXPLAIN (FORMAT JSON)`, on the job's own instance, before it is closed) and reads exactly those
 * into the next instance's buffer pool — with a query of its own, never the operator's, so the next
 * job still runs in an instance no query of anyone else ran in. A job that comes stops the warm-up
 * at once (an interrupt) and keeps what was read; the reads stay within the instance's own
 * memory_limit, and a parked runner is killed after its idle time like any other.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { queryRows, quoteIdent } from '../duckdb/index.ts';

/** One table a plan scanned, and the columns it read (projected, or named by a pushed-down filter). */
export interface ScannedTable {
  table: string;
  columns: string[];
}

/** At most this many tables are warmed: a plan scanning more is not an operator's usual query. */
const MAX_TABLES = 8;

interface PlanNode {
  name?: string;
  children?: PlanNode[];
  extra_info?: { Table?: unknown; Projections?: unknown; Filters?: unknown };
}

/** The words of a pushed-down filter that may be column names (checked against the table's columns later). */
function filterWords(filters: unknown): string[] {
  const text = [filters]
    .flat()
    .filter((f) => typeof f === 'string')
    .join(' ');
  // string literals name no column
  return text.replace(/'(?:[^']|'')*'/g, ' ').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
}

/**
 * The tables and columns a plan scans, from DuckDB's `EXPLAIN (FORMAT JSON)` physical plan. Table
 * names come qualified (`snapshot.main.population`); the last part is kept. A filter's words are
 * candidates only: `columnsOf` keeps those the table has.
 */
export function scannedTables(plan: unknown): ScannedTable[] {
  const found = new Map<string, Set<string>>();
  const visit = (node: PlanNode): void => {
    const info = node.extra_info;
    if (info && typeof info.Table === 'string' && /SCAN/.test(node.name ?? '')) {
      const table = info.Table.split('.').at(-1)!;
      const columns = found.get(table) ?? new Set<string>();
      // one projection comes as a string, several as a list
      for (const c of [info.Projections].flat()) if (typeof c === 'string') columns.add(c);
      for (const w of filterWords(info.Filters)) columns.add(w);
      found.set(table, columns);
    }
    for (const child of node.children ?? []) visit(child);
  };
  for (const root of Array.isArray(plan) ? plan : [plan]) if (root && typeof root === 'object') visit(root as PlanNode);
  return [...found].slice(0, MAX_TABLES).map(([table, columns]) => ({ table, columns: [...columns] }));
}

/** The scans of one SQL statement, planned (not run) on the job's own connection. */
export async function planScans(conn: DuckDBConnection, sql: string): Promise<ScannedTable[]> {
  const rows = await queryRows<{ explain_value: string }>(conn, `EXPLAIN (FORMAT JSON) ${sql}`);
  const physical = rows.map((r) => r.explain_value).find((v) => typeof v === 'string');
  return physical ? scannedTables(JSON.parse(physical)) : [];
}

/** The query that reads a table's columns through the buffer pool: every value is hashed, so every block is read. */
export function warmUpSql(database: string, table: string, columns: string[]): string {
  const from = `${quoteIdent(database)}.main.${quoteIdent(table)}`;
  return `SELECT bit_xor(hash(${columns.map(quoteIdent).join(', ')})) FROM ${from}`;
}

export interface WarmUp {
  /** The tables read whole before it stopped. */
  readonly warmed: string[];
  /** Stops at once (an interrupt), keeping what was read; resolves when the connection is closed. */
  stop(): Promise<void>;
  /** Resolves when every table was read, or the warm-up stopped or failed. */
  readonly done: Promise<void>;
}

/** Reads the scanned columns of `database`'s tables into `instance`'s buffer pool, on a connection of its own. */
export function startWarmUp(
  instance: DuckDBInstance,
  database: string,
  scans: ScannedTable[],
  onDone?: (warmed: string[]) => void,
): WarmUp {
  const warmed: string[] = [];
  let conn: DuckDBConnection | undefined;
  let stopped = false;
  const done = (async () => {
    conn = await instance.connect();
    for (const scan of scans) {
      if (stopped) return;
      const known = await queryRows<{ column_name: string }>(
        conn,
        'SELECT column_name FROM duckdb_columns() WHERE database_name = $1 AND table_name = $2',
        [database, scan.table],
      );
      const names = new Set(known.map((r) => r.column_name));
      const columns = scan.columns.filter((c) => names.has(c));
      if (stopped || columns.length === 0) continue;
      await queryRows(conn, warmUpSql(database, scan.table, columns));
      warmed.push(scan.table);
    }
  })()
    // an interrupted or failed warm-up only leaves the next job a colder instance
    .catch(() => undefined)
    .finally(() => {
      conn?.closeSync();
      if (!stopped) onDone?.(warmed);
    });
  return {
    warmed,
    done,
    async stop() {
      stopped = true;
      conn?.interrupt();
      await done;
    },
  };
}
