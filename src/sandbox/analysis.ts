import { PdsError, type ErrorCode } from '../errors/index.ts';
import { openInstance, queryRows, type DuckDBConnection } from '../store/index.ts';

/**
 * Static analysis of job SQL over DuckDB's own AST (`json_serialize_sql`): the checker and the
 * engine can never disagree on dialect (DESIGN §4.2). The AST is also rewritten here and turned
 * back into SQL with `json_deserialize_sql`, so the engine runs exactly what was checked.
 */

type Node = { [k: string]: unknown };

export type QueryMode = 'aggregate' | 'dp' | 'custom';

export interface AnalysisPolicy {
  /** Snapshot tables and their columns. */
  tables: Record<string, string[]>;
  /** Columns that identify a person or enterprise (pseudonyms, the privacy unit): never grouped on or projected. */
  identifierColumns: Set<string>;
  privacyUnitColumn: string;
  aggregates: Set<string>;
  scalars: Set<string>;
  operators: Set<string>;
}

export interface Analysis {
  /** The SQL the sandbox runs: the checked query, rewritten to count distinct privacy units per row. */
  sql: string;
  tables: string[];
  /** Name of the added column holding distinct privacy units per output row. */
  unitsColumn: string;
}

export const UNITS_COLUMN = '__pds_units';

function refuse(code: ErrorCode, message: string, node?: Node, sql?: string): never {
  const position = typeof node?.query_location === 'number' && node.query_location < 2 ** 32 ? node.query_location : undefined;
  const where = position !== undefined && sql !== undefined ? ` at position ${position} (line ${lineOf(sql, position)})` : '';
  throw new PdsError(code, `${message}${where}`, { extra: position !== undefined ? { position } : {} });
}

function lineOf(sql: string, position: number): number {
  return sql.slice(0, position).split('\n').length;
}

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Visits every object in the AST, depth first. */
function walk(v: unknown, visit: (n: Node) => void): void {
  if (Array.isArray(v)) { for (const x of v) walk(x, visit); return; }
  if (!isNode(v)) return;
  visit(v);
  for (const child of Object.values(v)) walk(child, visit);
}

/** A parser: an empty in-memory DuckDB with no access to anything, used only for (de)serializing. */
export class SqlParser {
  private constructor(private readonly conn: DuckDBConnection, private readonly close: () => void) {}

  static async create(): Promise<SqlParser> {
    const instance = await openInstance(':memory:', {
      threads: '1', enable_external_access: 'false', autoload_known_extensions: 'false', autoinstall_known_extensions: 'false',
    });
    const conn = await instance.connect();
    return new SqlParser(conn, () => { conn.closeSync(); instance.closeSync(); });
  }

  async parse(sql: string): Promise<{ statements: Node[] }> {
    const [row] = await queryRows<{ j: string }>(this.conn, 'SELECT json_serialize_sql($1::VARCHAR)::VARCHAR AS j', [sql]);
    const doc = JSON.parse(row!.j) as { error: boolean; error_type?: string; error_message?: string; statements?: Node[] };
    if (doc.error) {
      const msg = doc.error_message ?? 'unknown parser error';
      if (/only SELECT statements/i.test(msg) || doc.error_type === 'not implemented') {
        throw new PdsError('ERR_SQL_NOT_SELECT', 'only one read-only SELECT statement is allowed');
      }
      throw new PdsError('ERR_SQL_SYNTAX', msg);
    }
    return { statements: doc.statements ?? [] };
  }

  async deserialize(statements: Node[]): Promise<string> {
    const [row] = await queryRows<{ s: string }>(this.conn, 'SELECT json_deserialize_sql($1::JSON) AS s', [JSON.stringify({ error: false, statements })]);
    return row!.s;
  }

  dispose(): void {
    this.close();
  }
}

function cteNames(node: Node): Set<string> {
  const names = new Set<string>();
  walk(node, (n) => {
    const map = (n.cte_map as Node | undefined)?.map;
    if (Array.isArray(map)) for (const e of map) if (isNode(e) && typeof e.key === 'string') names.add(e.key.toLowerCase());
  });
  return names;
}

/** Item 1 of the sandbox rules: tables and functions anywhere in the query. */
function checkReferences(root: Node, sql: string, policy: AnalysisPolicy): string[] {
  const ctes = cteNames(root);
  const tables = new Set<string>();
  walk(root, (n) => {
    if (n.type === 'BASE_TABLE') {
      const name = String(n.table_name).toLowerCase();
      if (n.schema_name || n.catalog_name) {
        refuse('ERR_SQL_TABLE_NOT_ALLOWED', `table ${[n.catalog_name, n.schema_name, n.table_name].filter(Boolean).join('.')} is qualified; name snapshot tables without catalog or schema`, n, sql);
      }
      if (ctes.has(name)) return;
      if (!(name in policy.tables)) refuse('ERR_SQL_TABLE_NOT_ALLOWED', `table ${n.table_name} is not in this contract's snapshot`, n, sql);
      tables.add(name);
    } else if (n.type === 'TABLE_FUNCTION') {
      const fn = isNode(n.function) ? String(n.function.function_name) : 'table function';
      refuse('ERR_SQL_FUNCTION_NOT_ALLOWED', `table function ${fn} is not allowed; read snapshot tables by name`, n, sql);
    } else if (n.class === 'FUNCTION') {
      const name = String(n.function_name).toLowerCase();
      if (n.schema || n.catalog) refuse('ERR_SQL_FUNCTION_NOT_ALLOWED', `function ${n.schema}.${name} is qualified`, n, sql);
      const allowed = n.is_operator ? policy.operators.has(name) : policy.aggregates.has(name) || policy.scalars.has(name);
      if (!allowed) refuse('ERR_SQL_FUNCTION_NOT_ALLOWED', `${n.is_operator ? 'operator' : 'function'} ${name} is not on the allowlist`, n, sql);
    }
  });
  return [...tables];
}

function columnName(n: Node): string | undefined {
  if (n.class !== 'COLUMN_REF' || !Array.isArray(n.column_names)) return undefined;
  return String(n.column_names[n.column_names.length - 1]).toLowerCase();
}

/** Item 2, aggregate mode: the outer query aggregates and projects no identifier. */
function checkAggregateShape(node: Node, sql: string, policy: AnalysisPolicy): Node {
  if (node.type !== 'SELECT_NODE') refuse('ERR_SQL_SHAPE_NOT_ALLOWED', 'aggregate mode needs a plain SELECT … GROUP BY at the outer level (no UNION, INTERSECT or EXCEPT)', node, sql);
  const selectList = node.select_list as Node[];
  const groups = (node.groups as Node | undefined)?.group_expressions as Node[] | undefined ?? [];
  let hasAggregate = false;
  for (const item of selectList) {
    if (item.class === 'STAR') refuse('ERR_SQL_SHAPE_NOT_ALLOWED', 'aggregate mode cannot project * (it returns individual rows)', item, sql);
    walk(item, (n) => { if (n.class === 'FUNCTION' && policy.aggregates.has(String(n.function_name).toLowerCase())) hasAggregate = true; });
  }
  if (!hasAggregate && groups.length === 0) refuse('ERR_SQL_SHAPE_NOT_ALLOWED', 'aggregate mode needs GROUP BY or an aggregate function in the outer query', node, sql);
  for (const g of groups) {
    walk(g, (n) => {
      const col = columnName(n);
      if (col && policy.identifierColumns.has(col)) refuse('ERR_SQL_SHAPE_NOT_ALLOWED', `grouping by identifier column ${col} would release one row per person`, n, sql);
    });
  }
  for (const item of selectList) {
    // an identifier may only be counted; anything else (min, max, a bare reference) returns its value
    const visit = (n: Node, insideCount: boolean): void => {
      const col = columnName(n);
      if (col && policy.identifierColumns.has(col) && !insideCount) {
        refuse('ERR_SQL_SHAPE_NOT_ALLOWED', `identifier column ${col} may only appear inside count(...)`, n, sql);
      }
      const fn = n.class === 'FUNCTION' ? String(n.function_name).toLowerCase() : '';
      for (const child of Object.values(n)) {
        const kids = Array.isArray(child) ? child : [child];
        for (const k of kids) if (isNode(k)) visit(k, insideCount || fn === 'count');
      }
    };
    visit(item, false);
  }
  const from = node.from_table as Node;
  if (from?.type !== 'BASE_TABLE') {
    refuse('ERR_SQL_SHAPE_NOT_ALLOWED', 'aggregate mode needs the outer query to read one snapshot table directly (joins and subqueries in FROM are not supported yet)', from ?? node, sql);
  }
  return from;
}

/** Parses, checks and rewrites one job query. */
export async function analyseQuery(parser: SqlParser, sql: string, mode: QueryMode, policy: AnalysisPolicy): Promise<Analysis> {
  if (sql.trim() === '') throw new PdsError('ERR_SQL_SYNTAX', 'the query is empty');
  const { statements } = await parser.parse(sql);
  if (statements.length !== 1) throw new PdsError('ERR_SQL_NOT_SELECT', `exactly one statement is allowed, got ${statements.length}`);
  const stmt = statements[0]!;
  const root = stmt.node as Node;
  const tables = checkReferences(root, sql, policy);
  if (mode !== 'aggregate') {
    throw new PdsError('ERR_MODE_NOT_AVAILABLE', `mode ${mode} is not available yet; only aggregate mode runs`);
  }
  const from = checkAggregateShape(root, sql, policy);
  if (!(String(from.table_name).toLowerCase() in policy.tables)) {
    refuse('ERR_SQL_SHAPE_NOT_ALLOWED', 'aggregate mode needs the outer query to read a snapshot table, not a CTE', from, sql);
  }
  const qualifier = String(from.alias || from.table_name);
  const [template] = (await parser.parse(
    `SELECT count(DISTINCT "${qualifier.replaceAll('"', '""')}"."${policy.privacyUnitColumn}") AS "${UNITS_COLUMN}"`,
  )).statements;
  const unitsItem = ((template!.node as Node).select_list as Node[])[0]!;
  (root.select_list as Node[]).push(unitsItem);
  return { sql: await parser.deserialize([stmt]), tables, unitsColumn: UNITS_COLUMN };
}
