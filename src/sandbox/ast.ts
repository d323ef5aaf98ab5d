import { PdsError, type ErrorCode, type RefusalFacts, type SqlRule } from '../errors/index.ts';
import { openInstance, queryRows, type DuckDBConnection } from '../duckdb/index.ts';

/**
 * DuckDB's own AST, as `json_serialize_sql` writes it: the checker and the engine can never
 * disagree on dialect, quoting, comments or case (docs/architecture.md §11).
 */
export type Node = { [k: string]: unknown };

export function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Visits every object in the AST, depth first; `visit` returning false skips the node's children. */
export function walk(v: unknown, visit: (n: Node) => boolean | void): void {
  if (Array.isArray(v)) {
    for (const x of v) walk(x, visit);
    return;
  }
  if (!isNode(v)) return;
  if (visit(v) === false) return;
  for (const child of Object.values(v)) walk(child, visit);
}

export type { SqlRule } from '../errors/index.ts';

export function lineAndColumn(sql: string, position: number): { line: number; column: number } {
  const before = sql.slice(0, position).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

/**
 * Refuses a query, naming the rule, the refusal's facts (for its Chinese explanation, src/terms)
 * and, when DuckDB recorded it, the position in the SQL.
 */
export function refuse(
  code: ErrorCode,
  rule: SqlRule,
  facts: RefusalFacts,
  message: string,
  node?: Node,
  sql?: string,
): never {
  const loc = node?.query_location;
  const position = typeof loc === 'number' ? loc : undefined;
  if (position !== undefined && sql !== undefined) {
    const { line, column } = lineAndColumn(sql, position);
    throw new PdsError(code, `${message} [rule ${rule}, line ${line} column ${column}]`, {
      extra: { rule, facts, position, line, column },
    });
  }
  throw new PdsError(code, `${message} [rule ${rule}]`, { extra: { rule, facts } });
}

/** A parser: an empty in-memory DuckDB with no access to anything, used only for (de)serializing. */
export class SqlParser {
  private constructor(
    private readonly conn: DuckDBConnection,
    private readonly close: () => void,
  ) {}

  static async create(): Promise<SqlParser> {
    const instance = await openInstance(':memory:', {
      threads: '1',
      enable_external_access: 'false',
      autoload_known_extensions: 'false',
      autoinstall_known_extensions: 'false',
      max_expression_depth: '250',
    });
    const conn = await instance.connect();
    return new SqlParser(conn, () => {
      conn.closeSync();
      instance.closeSync();
    });
  }

  async parse(sql: string): Promise<{ statements: Node[] }> {
    const [row] = await queryRows<{ j: string }>(this.conn, 'SELECT json_serialize_sql($1::VARCHAR)::VARCHAR AS j', [
      sql,
    ]);
    // an unknown location is 2^64-1, which a JS number cannot carry back: drop it
    const doc = JSON.parse(row!.j, (k, v: unknown) =>
      k === 'query_location' && typeof v === 'number' && v >= 2 ** 53 ? undefined : v,
    ) as { error: boolean; error_type?: string; error_message?: string; position?: string; statements?: Node[] };
    if (doc.error) {
      const msg = doc.error_message ?? 'unknown parser error';
      if (/only SELECT statements/i.test(msg) || doc.error_type === 'not implemented') {
        refuse(
          'ERR_SQL_NOT_SELECT',
          'one-select',
          { reason: 'not-select' },
          'only one read-only SELECT statement is allowed',
        );
      }
      const position = doc.position !== undefined ? Number(doc.position) : undefined;
      const where =
        position !== undefined && Number.isFinite(position)
          ? (({ line, column }) => ` (line ${line} column ${column})`)(lineAndColumn(sql, position))
          : '';
      const facts = { reason: 'syntax' } as const;
      throw new PdsError('ERR_SQL_SYNTAX', `${msg}${where}`, {
        extra:
          position !== undefined && Number.isFinite(position)
            ? { facts, position, ...lineAndColumn(sql, position) }
            : { facts },
      });
    }
    return { statements: doc.statements ?? [] };
  }

  async deserialize(statements: Node[]): Promise<string> {
    const [row] = await queryRows<{ s: string }>(this.conn, 'SELECT json_deserialize_sql($1::JSON) AS s', [
      JSON.stringify({ error: false, statements }),
    ]);
    return row!.s;
  }

  /** One SELECT expression, parsed from SQL text we write ourselves (rewrites). */
  async expression(sql: string): Promise<Node> {
    const { statements } = await this.parse(`SELECT ${sql}`);
    return ((statements[0]!.node as Node).select_list as Node[])[0]!;
  }

  dispose(): void {
    this.close();
  }
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Replaces column references named `slot_<name>` in a parsed template by the given nodes. */
export function fill(template: Node, slots: Record<string, Node>): Node {
  const copy = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(copy);
    if (!isNode(v)) return v;
    const name =
      v.class === 'COLUMN_REF' && Array.isArray(v.column_names)
        ? String(v.column_names[v.column_names.length - 1]).toLowerCase()
        : undefined;
    const slot = name?.startsWith('slot_') ? slots[name.slice(5)] : undefined;
    if (slot) return clone(slot);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x)]));
  };
  return copy(template) as Node;
}
