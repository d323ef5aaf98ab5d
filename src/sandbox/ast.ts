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

/** What a node of DuckDB's JSON AST is: the visitor's handlers are chosen by it. */
export type NodeKind = 'expression' | 'query' | 'table' | 'other';

/** Query nodes (a SELECT, a set operation, a recursive CTE): `type`, no `class`. */
const QUERY_TYPES = new Set(['SELECT_NODE', 'SET_OPERATION_NODE', 'RECURSIVE_CTE_NODE', 'CTE_NODE']);
/** Table refs (FROM items): `type`, no `class` (a SUBQUERY expression has both). */
const TABLE_TYPES = new Set([
  'BASE_TABLE',
  'JOIN',
  'SUBQUERY',
  'TABLE_FUNCTION',
  'EMPTY_FROM',
  'EXPRESSION_LIST',
  'PIVOT',
  'SHOW_REF',
  'COLUMN_DATA',
  'DELIM_GET',
]);

export function kindOf(n: Node): NodeKind {
  if (typeof n.class === 'string') return 'expression';
  if (typeof n.type === 'string' && QUERY_TYPES.has(n.type)) return 'query';
  if (typeof n.type === 'string' && TABLE_TYPES.has(n.type)) return 'table';
  return 'other';
}

/** Skips the children of the node just entered (its `leave` is still called). */
export const SKIP = Symbol('skip');

/** Where the visitor stands: the node's parent object, the key it hangs under, and the caller's scope. */
export interface Visit<S> {
  readonly parent: Node | undefined;
  /** The parent's property the node was reached through (an array's elements share their array's key). */
  readonly key: string | undefined;
  readonly kind: NodeKind;
  readonly scope: S;
  /** Visits `child` (a node, an array or anything else) with this visitor, under `scope`: for handlers that pick children. */
  visit(child: unknown, scope: S): void;
}

/** `SKIP` to skip the children; `{ scope }` to visit them under another scope; nothing to go on. */
export type Step<S> = void | typeof SKIP | { scope: S };
export type Handler<S> = (n: Node, at: Visit<S>) => Step<S>;

/**
 * One visitor over DuckDB's JSON AST, for every sandbox rule. Depth first, children in the order
 * of the node's own properties; `enter` runs first, then the handler for the node's expression class
 * (`expression.FUNCTION`), query type (`query.SELECT_NODE`) or table-ref type (`table.JOIN`), each
 * able to skip the children or change the scope they are visited under; `leave` runs last.
 * The rules are security checks: a handler that skips must visit what it still needs itself.
 */
export interface Visitor<S> {
  enter?: Handler<S>;
  expression?: Readonly<Record<string, Handler<S>>>;
  query?: Readonly<Record<string, Handler<S>>>;
  table?: Readonly<Record<string, Handler<S>>>;
  leave?: (n: Node, at: Visit<S>) => void;
}

function handlerFor<S>(visitor: Visitor<S>, n: Node, kind: NodeKind): Handler<S> | undefined {
  const [handlers, name] =
    kind === 'expression'
      ? [visitor.expression, n.class as string]
      : kind === 'query'
        ? [visitor.query, n.type as string]
        : kind === 'table'
          ? [visitor.table, n.type as string]
          : [undefined, ''];
  // own keys only: a node's class is data, and must never reach a prototype's method
  return handlers && Object.hasOwn(handlers, name) ? handlers[name] : undefined;
}

export function visitAst<S>(root: unknown, visitor: Visitor<S>, scope: S): void {
  const go = (v: unknown, parent: Node | undefined, key: string | undefined, sc: S): void => {
    if (Array.isArray(v)) {
      for (const x of v) go(x, parent, key, sc);
      return;
    }
    if (!isNode(v)) return;
    const kind = kindOf(v);
    const at: Visit<S> = { parent, key, kind, scope: sc, visit: (child, s) => go(child, v, undefined, s) };
    let inner = sc;
    let skip = false;
    for (const handler of [visitor.enter, handlerFor(visitor, v, kind)]) {
      if (skip || !handler) continue;
      const step = handler(v, at);
      if (step === SKIP) skip = true;
      else if (step) inner = step.scope;
    }
    if (!skip) for (const [k, child] of Object.entries(v)) go(child, v, k, inner);
    visitor.leave?.(v, at);
  };
  go(root, undefined, undefined, scope);
}

/** True when a node the visitor reaches passes `test`; nodes `prune` accepts are neither tested nor entered. */
export function someNode(root: unknown, test: (n: Node) => boolean, prune?: (n: Node) => boolean): boolean {
  let found = false;
  const enter = (n: Node): Step<undefined> => {
    if (found || prune?.(n)) return SKIP;
    if (test(n)) {
      found = true;
      return SKIP;
    }
  };
  visitAst(root, { enter }, undefined);
  return found;
}

/** Visits every object in the AST, depth first; `visit` returning false skips the node's children. */
export function walk(v: unknown, visit: (n: Node) => boolean | void): void {
  visitAst(v, { enter: (n) => (visit(n) === false ? SKIP : undefined) }, undefined);
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
