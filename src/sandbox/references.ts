import { isNode, refuse, SKIP, visitAst, type Node, type Visitor } from './ast.ts';

/**
 * Item 1 of the sandbox rules (docs/architecture.md §11): what any query may reference, in any mode. Table
 * names are resolved with SQL's own scoping, so a CTE named like a catalog view in one scope can
 * never hide that view in another: every table reference that is not a CTE visible at that point
 * must be a table of the contract's snapshot.
 */

export interface FunctionAllowlist {
  aggregates: Set<string>;
  individualValue: Set<string>;
  identifierAggregates: Set<string>;
  windows: Set<string>;
  scalars: Set<string>;
  operators: Set<string>;
}

export interface SqlPolicy {
  /** Snapshot tables and their columns. */
  tables: Record<string, string[]>;
  /** Columns that identify a person or enterprise: the privacy unit and pseudonyms. */
  identifierColumns: Set<string>;
  privacyUnitColumn: string;
  /** Tables with exactly one row per privacy unit (checked when the snapshot was built). */
  uniqueUnitTables: Set<string>;
  functions: FunctionAllowlist;
  /** Columns the contract generalizes (a year, a band, 其他): their extremes are not one person's value. */
  generalizedColumns: Set<string>;
  /** Columns whose every value carries a fixed per-person distortion (the noise rule): no statistic gives one back exactly. */
  noisedColumns: Set<string>;
  /** Columns the policy allows only in dp mode, under the ε ledger. */
  dpOnlyColumns: Set<string>;
  /** Tables of sensitive facts (catalog `sensitiveFacts`): no query outside dp mode reads them. */
  dpOnlyTables: Set<string>;
  /** What each table's privacy unit is (the catalog's privacyUnit column): dp joins people with people only. */
  unitKinds?: Map<string, string>;
  /** Public code lists of columns kept as they are, by `table.column` (catalog `codes`): dp shows every code. */
  publicCodes?: Map<string, string[]>;
  /** Per snapshot table, the columns with a value on every row (measured when it was built). */
  nonNullColumns: Map<string, Set<string>>;
  /**
   * Per snapshot table repeated over its units, sets of its columns that with the unit tell its
   * rows apart (catalog uniquePerUnit, checked when the snapshot was built).
   */
  uniqueWith: Map<string, string[][]>;
  /**
   * Per snapshot table, the columns that hold exactly its privacy unit's pseudonym (a pseudonymized
   * unit column is a virtual column of the unit): a join on them joins the same people.
   */
  unitAliases: Map<string, Set<string>>;
  /** The hidden column of each snapshot table holding its units' record keys, when the snapshot has them. */
  recordKeyColumn?: string;
  /** The hidden column of each row's domain-wide unit key (the differencing signature's summand). */
  unitKeyColumn?: string;
}

export const RESERVED_PREFIX = '__pds';

/** The expression kinds a query may contain; anything else in DuckDB's AST is refused. */
const EXPRESSION_CLASSES = new Set([
  'COLUMN_REF',
  'CONSTANT',
  'FUNCTION',
  'WINDOW',
  'OPERATOR',
  'COMPARISON',
  'CONJUNCTION',
  'CASE',
  'CAST',
  'COLLATE',
  'BETWEEN',
  'SUBQUERY',
  'STAR',
  'POSITIONAL_REFERENCE',
]);

interface Scope {
  ctes: Set<string>;
  parent?: Scope;
}

function cteVisible(scope: Scope | undefined, name: string): boolean {
  for (let s = scope; s; s = s.parent) if (s.ctes.has(name)) return true;
  return false;
}

export function isAggregateName(name: string, f: FunctionAllowlist): boolean {
  return f.aggregates.has(name) || f.individualValue.has(name);
}

function checkName(name: unknown, what: string, node: Node, sql: string): void {
  if (typeof name === 'string' && name.toLowerCase().startsWith(RESERVED_PREFIX)) {
    refuse(
      'ERR_SQL_SHAPE_NOT_ALLOWED',
      'reserved-names',
      { reason: 'reserved-name', columnName: name },
      `${what} ${name} uses the reserved prefix ${RESERVED_PREFIX}`,
      node,
      sql,
    );
  }
}

class ReferenceChecker {
  readonly tables = new Set<string>();

  constructor(
    private readonly sql: string,
    private readonly policy: SqlPolicy,
  ) {}

  query(node: Node, outer: Scope | undefined): void {
    const scope: Scope = { ctes: new Set(), parent: outer };
    const map = (node.cte_map as Node | undefined)?.map;
    for (const entry of Array.isArray(map) ? (map as Node[]) : []) {
      const name = String(entry.key).toLowerCase();
      checkName(name, 'CTE', node, this.sql);
      const value = entry.value as Node;
      for (const a of (value.aliases as unknown[] | undefined) ?? []) checkName(a, 'column alias', node, this.sql);
      const body = (value.query as Node).node as Node;
      // a CTE sees the ones before it, and itself only when it really is recursive
      const own: Scope = { ctes: body.type === 'RECURSIVE_CTE_NODE' ? new Set([name]) : new Set(), parent: scope };
      this.query(body, own);
      scope.ctes.add(name);
    }
    switch (node.type) {
      case 'SELECT_NODE': {
        this.tableRef(node.from_table as Node, scope);
        const { cte_map: _c, from_table: _f, ...rest } = node;
        this.expressions(rest, scope);
        return;
      }
      case 'SET_OPERATION_NODE':
      case 'RECURSIVE_CTE_NODE':
        this.query(node.left as Node, scope);
        this.query(node.right as Node, scope);
        this.expressions(node.modifiers, scope);
        return;
      default:
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'expression-kind',
          { reason: 'query-kind', clause: String(node.type) },
          `query node ${String(node.type)} is not allowed`,
          node,
          this.sql,
        );
    }
  }

  private tableRef(ref: Node, scope: Scope): void {
    checkName(ref.alias, 'alias', ref, this.sql);
    for (const a of (ref.column_name_alias as unknown[] | undefined) ?? []) checkName(a, 'column alias', ref, this.sql);
    switch (ref.type) {
      case 'BASE_TABLE': {
        const name = String(ref.table_name).toLowerCase();
        if (ref.schema_name || ref.catalog_name) {
          const full = [ref.catalog_name, ref.schema_name, ref.table_name].filter(Boolean).join('.');
          refuse(
            'ERR_SQL_TABLE_NOT_ALLOWED',
            'unqualified-names',
            { reason: 'table-qualified', table: full },
            `table ${full} is qualified; name snapshot tables without catalog or schema`,
            ref,
            this.sql,
          );
        }
        if (cteVisible(scope, name)) return;
        if (!(name in this.policy.tables))
          refuse(
            'ERR_SQL_TABLE_NOT_ALLOWED',
            'table-in-snapshot',
            { reason: 'table-not-in-snapshot', table: String(ref.table_name) },
            `table ${String(ref.table_name)} is not in this contract's snapshot`,
            ref,
            this.sql,
          );
        this.tables.add(name);
        if (ref.at_clause)
          refuse(
            'ERR_SQL_SHAPE_NOT_ALLOWED',
            'expression-kind',
            { reason: 'time-travel', clause: 'AT' },
            'AT (time travel) clauses are not allowed',
            ref,
            this.sql,
          );
        return;
      }
      case 'JOIN':
        this.tableRef(ref.left as Node, scope);
        this.tableRef(ref.right as Node, scope);
        this.expressions(ref.condition, scope);
        return;
      case 'SUBQUERY':
        this.query((ref.subquery as Node).node as Node, scope);
        return;
      case 'EXPRESSION_LIST':
        this.expressions(ref.values, scope);
        return;
      case 'EMPTY':
        return;
      case 'TABLE_FUNCTION': {
        const fn = isNode(ref.function) ? String(ref.function.function_name) : 'table function';
        refuse(
          'ERR_SQL_FUNCTION_NOT_ALLOWED',
          'no-table-functions',
          { reason: 'table-function', function: fn },
          `table function ${fn} is not allowed; read snapshot tables by name`,
          ref,
          this.sql,
        );
      }
      // falls through: refuse never returns
      default:
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'expression-kind',
          { reason: 'from-kind', clause: String(ref.type) },
          `${String(ref.type)} in FROM is not allowed (PIVOT, SHOW, DESCRIBE and SUMMARIZE are not analyses)`,
          ref,
          this.sql,
        );
    }
  }

  /** Checks every expression inside `v`; nested queries are checked in their scope. */
  private expressions(v: unknown, scope: Scope, underStar = false): void {
    visitAst(v, this.visitor, { scope, underStar });
  }

  /** `underStar`: the expression is a COLUMNS(…) argument, where a lambda may stand. */
  private readonly visitor: Visitor<{ scope: Scope; underStar: boolean }> = {
    enter: (n, at) => {
      if (typeof n.class !== 'string') return;
      const kind = n.class;
      checkName(n.alias, 'alias', n, this.sql);
      if (kind === 'LAMBDA' && at.scope.underStar) {
        at.visit(n.expr, { scope: at.scope.scope, underStar: false });
        return SKIP;
      }
      if (!EXPRESSION_CLASSES.has(kind)) {
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'expression-kind',
          { reason: 'expression-kind', clause: kind },
          `${kind.toLowerCase()} expressions are not allowed`,
          n,
          this.sql,
        );
      }
      return { scope: { scope: at.scope.scope, underStar: false } };
    },
    expression: {
      COLUMN_REF: (n) => {
        for (const c of n.column_names as string[]) checkName(c, 'column', n, this.sql);
        return SKIP;
      },
      FUNCTION: (n) => this.function(n, false),
      WINDOW: (n) => this.function(n, true),
      SUBQUERY: (n, at) => {
        this.query((n.subquery as Node).node as Node, at.scope.scope);
        at.visit(n.child, { scope: at.scope.scope, underStar: false });
        return SKIP;
      },
      STAR: (n, at) => {
        for (const r of (n.rename_list as Node[] | undefined) ?? []) checkName(r.value, 'column alias', n, this.sql);
        at.visit(n.replace_list, { scope: at.scope.scope, underStar: false });
        at.visit(n.expr, { scope: at.scope.scope, underStar: true });
        return SKIP;
      },
    },
  };

  private function(n: Node, window: boolean): void {
    const name = String(n.function_name).toLowerCase();
    const f = this.policy.functions;
    if (n.catalog || (n.schema && n.schema !== 'main')) {
      refuse(
        'ERR_SQL_FUNCTION_NOT_ALLOWED',
        'unqualified-names',
        { reason: 'function-qualified', function: [n.catalog, n.schema, name].filter(Boolean).join('.') },
        `function ${[n.catalog, n.schema, name].filter(Boolean).join('.')} is qualified`,
        n,
        this.sql,
      );
    }
    if (n.export_state)
      refuse(
        'ERR_SQL_FUNCTION_NOT_ALLOWED',
        'function-allowlist',
        { reason: 'export-state', function: name, clause: 'EXPORT_STATE' },
        `EXPORT_STATE of ${name} is not allowed`,
        n,
        this.sql,
      );
    const allowed = n.is_operator
      ? f.operators.has(name)
      : window
        ? f.windows.has(name) || isAggregateName(name, f)
        : isAggregateName(name, f) || f.scalars.has(name);
    if (!allowed) {
      refuse(
        'ERR_SQL_FUNCTION_NOT_ALLOWED',
        'function-allowlist',
        { reason: n.is_operator ? 'operator-not-allowed' : 'function-not-allowed', function: name },
        `${n.is_operator ? 'operator' : 'function'} ${name} is not on the allowlist (policies/sql-allowlist.yaml)`,
        n,
        this.sql,
      );
    }
  }
}

/** The policy for one contract's snapshot. */
export function sqlPolicy(
  tables: Record<string, string[]>,
  identifierColumns: Iterable<string>,
  privacyUnitColumn: string,
  functions: FunctionAllowlist,
  uniqueUnitTables: Iterable<string> = [],
  columns: {
    generalized?: Iterable<string>;
    noised?: Iterable<string>;
    dpOnly?: Iterable<string>;
    dpOnlyTables?: Iterable<string>;
    unitKinds?: Record<string, string>;
    publicCodes?: Record<string, string[]>;
    nonNull?: Record<string, Iterable<string>>;
    uniqueWith?: Record<string, string[][]>;
    unitAliases?: Record<string, Iterable<string>>;
    recordKey?: string;
    unitKey?: string;
  } = {},
): SqlPolicy {
  return {
    tables,
    identifierColumns: new Set([privacyUnitColumn, ...identifierColumns]),
    privacyUnitColumn,
    functions,
    uniqueUnitTables: new Set(uniqueUnitTables),
    generalizedColumns: new Set(columns.generalized ?? []),
    noisedColumns: new Set(columns.noised ?? []),
    nonNullColumns: new Map(Object.entries(columns.nonNull ?? {}).map(([t, cols]) => [t, new Set(cols)])),
    uniqueWith: new Map(Object.entries(columns.uniqueWith ?? {})),
    dpOnlyColumns: new Set(columns.dpOnly ?? []),
    dpOnlyTables: new Set(columns.dpOnlyTables ?? []),
    ...(columns.unitKinds ? { unitKinds: new Map(Object.entries(columns.unitKinds)) } : {}),
    ...(columns.publicCodes ? { publicCodes: new Map(Object.entries(columns.publicCodes)) } : {}),
    unitAliases: new Map(Object.entries(columns.unitAliases ?? {}).map(([t, cols]) => [t, new Set(cols)])),
    ...(columns.recordKey ? { recordKeyColumn: columns.recordKey } : {}),
    ...(columns.unitKey ? { unitKeyColumn: columns.unitKey } : {}),
  };
}

/** Checks item 1 and returns the snapshot tables the query reads. */
export function checkReferences(root: Node, sql: string, policy: SqlPolicy): string[] {
  const checker = new ReferenceChecker(sql, policy);
  checker.query(root, undefined);
  return [...checker.tables].sort();
}
