import { clone, fill, isNode, refuse, type Node, type SqlParser } from './ast.ts';
import { functionName } from './aggregate-rules.ts';
import { isAggregateName, type SqlPolicy } from './references.ts';
import type { BoundColumn } from './binder.ts';

/**
 * Whether a job fails must not depend on one person's row (docs/architecture.md §12): a query that
 * errors or runs out of memory only when the target's row is read is an exact, noiseless bit
 * about the data — the budget and timing channels of "Differential Privacy Under Fire" (Haeberlen,
 * Pierce, Narayan 2011). In aggregate and dp mode:
 *
 * - every expression evaluated on rows — WHERE, JOIN conditions, FILTER clauses, aggregate
 *   arguments, group keys and computed columns, in every SELECT — runs inside TRY(…): an error
 *   on a row makes that value NULL (the row drops out of a filter, like any unmatched row)
 *   instead of failing the job;
 * - functions that can build values of data-dependent size are bounded: lpad/rpad only to a
 *   constant length of at most MAX_PAD characters.
 *
 * Expressions over aggregates (TRY cannot hold an aggregate) are kept total by the statistics
 * rules: perturbed aggregates are DOUBLE, and only functions that never fail may combine them.
 */

export const MAX_PAD = 1000;

/** Functions that never fail on a DOUBLE or on NULL: what may combine aggregates in aggregate mode. */
export const TOTAL_FUNCTIONS = new Set([
  '+',
  '-',
  '*',
  '/',
  'abs',
  'round',
  'floor',
  'ceil',
  'ceiling',
  'trunc',
  'greatest',
  'least',
  'coalesce',
  'nullif',
  'sign',
  'if',
]);

function isBare(n: Node): boolean {
  return n.class === 'COLUMN_REF' || n.class === 'CONSTANT' || n.class === 'STAR' || cannotFail(n);
}

/** NULL tests and AND/OR/NOT of them over columns never fail: no TRY needed (it costs per row). */
function cannotFail(n: Node): boolean {
  if (n.class === 'COLUMN_REF' || n.class === 'CONSTANT') return true;
  if (
    n.class === 'CONJUNCTION' ||
    ['OPERATOR_IS_NULL', 'OPERATOR_IS_NOT_NULL', 'OPERATOR_NOT'].includes(String(n.type))
  ) {
    return ((n.children as Node[] | undefined) ?? []).every(cannotFail);
  }
  return false;
}

function containsAggregateOrWindow(v: unknown, policy: SqlPolicy): boolean {
  if (Array.isArray(v)) return v.some((x) => containsAggregateOrWindow(x, policy));
  if (!isNode(v) || v.class === 'SUBQUERY') return false;
  if (v.class === 'WINDOW') return true;
  if (v.class === 'FUNCTION' && !v.is_operator && isAggregateName(functionName(v), policy.functions)) return true;
  return Object.values(v).some((x) => containsAggregateOrWindow(x, policy));
}

function containsSubquery(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(containsSubquery);
  if (!isNode(v)) return false;
  return v.class === 'SUBQUERY' || Object.values(v).some(containsSubquery);
}

/** A join condition whose output size no single row can choose: equalities of columns, and column–constant tests. */
function equiJoin(n: Node): boolean {
  if (n.type === 'CONJUNCTION_AND') return (n.children as Node[]).every(equiJoin);
  if (n.class !== 'COMPARISON') return false;
  const [l, r] = [n.left as Node, n.right as Node];
  if (n.type === 'COMPARE_EQUAL' && l.class === 'COLUMN_REF' && r.class === 'COLUMN_REF') return true;
  return (l.class === 'COLUMN_REF' && r.class === 'CONSTANT') || (l.class === 'CONSTANT' && r.class === 'COLUMN_REF');
}

/**
 * Refuses what lets the data choose a job's cost or size: padding to a size not a small constant,
 * and (aggregate mode) joins other than on equal columns — `ON a.x = b.x OR <one person>` or a
 * cross product filtered to one person would multiply work for that person's row alone.
 */
export function checkBoundedCost(root: Node, sql: string, mode: 'aggregate' | 'dp' = 'aggregate'): void {
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    if (!isNode(v)) return;
    if (mode === 'aggregate' && v.type === 'JOIN') {
      const using = ((v.using_columns as unknown[] | undefined) ?? []).length > 0;
      const cond = v.condition as Node | null | undefined;
      if (v.ref_type !== 'REGULAR' || !(using || (isNode(cond) && equiJoin(cond)))) {
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'bounded-cost',
          "aggregate mode joins tables on equal columns (JOIN … ON a.x = b.x [AND …], or USING): a cross, natural or conditional join could multiply the work for one person's row alone",
          v,
          sql,
        );
      }
    }
    if (v.class === 'FUNCTION' && ['lpad', 'rpad'].includes(functionName(v))) {
      const size = ((v.children as Node[]) ?? [])[1];
      const value = size?.class === 'CONSTANT' && isNode(size.value) ? size.value.value : undefined;
      if (typeof value !== 'number' || value > MAX_PAD) {
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'bounded-cost',
          `${functionName(v)} pads to a constant length of at most ${MAX_PAD} here: a size the data chooses could make the job fail for one person's row`,
          v,
          sql,
        );
      }
    }
    Object.values(v).forEach(visit);
  };
  visit(root);
}

/** Names of every CTE anywhere in the query: a table reference by such a name may not be a snapshot table. */
function cteNames(root: unknown): Set<string> {
  const names = new Set<string>();
  const look = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(look);
    if (!isNode(v)) return;
    const list = (v.cte_map as Node | undefined)?.map as Node[] | undefined;
    for (const entry of list ?? []) names.add(String(entry.key).toLowerCase());
    Object.values(v).forEach(look);
  };
  look(root);
  return names;
}

/** The snapshot tables scanned directly under a join, by the qualifier a column names them with. */
function scansUnder(join: Node, ctes: Set<string>): Map<string, string> {
  const found = new Map<string, string | null>();
  const look = (ref: Node): void => {
    if (ref.type === 'JOIN') {
      look(ref.left as Node);
      look(ref.right as Node);
    } else if (ref.type === 'BASE_TABLE') {
      const table = String(ref.table_name).toLowerCase();
      const qualifier = String(ref.alias || ref.table_name).toLowerCase();
      // a name seen twice, or a CTE's, is no evidence of a column's type
      found.set(qualifier, found.has(qualifier) || ctes.has(table) || ref.schema_name ? null : table);
    }
  };
  look(join);
  return new Map([...found].filter((e): e is [string, string] => e[1] !== null));
}

/**
 * The conjuncts of a join condition that are equalities of two columns of the same type: they
 * can never fail (no cast is needed), and left bare they keep the join a hash join — inside TRY a
 * join condition is an opaque expression, and DuckDB joins on it by a nested loop (a 10 s join
 * became minutes). Every other conjunct is guarded as before.
 */
function hashJoinKeys(
  join: Node,
  ctes: Set<string>,
  types: Record<string, BoundColumn[]>,
): { keys: Node[]; rest: Node[] } {
  const cond = join.condition as Node;
  const conjuncts = cond.type === 'CONJUNCTION_AND' ? (cond.children as Node[]) : [cond];
  const scans = scansUnder(join, ctes);
  const typeOf = (n: Node): string | undefined => {
    const names = n.class === 'COLUMN_REF' ? (n.column_names as string[]) : [];
    if (names.length !== 2) return undefined;
    const table = scans.get(names[0]!.toLowerCase());
    const column = names[1]!.toLowerCase();
    return table ? types[table]?.find((c) => c.name.toLowerCase() === column)?.type : undefined;
  };
  const keys: Node[] = [];
  const rest: Node[] = [];
  for (const c of conjuncts) {
    const [l, r] = [c.left as Node | undefined, c.right as Node | undefined];
    const same = c.type === 'COMPARE_EQUAL' && l && r && typeOf(l) !== undefined && typeOf(l) === typeOf(r);
    (same ? keys : rest).push(c);
  }
  return { keys, rest };
}

/**
 * Wraps every row-level expression of every SELECT in TRY(…), in place. `types` (the snapshot's
 * columns and their types) lets equalities of same-typed columns in a join condition stay bare.
 */
export async function guardRowErrors(
  root: Node,
  parser: SqlParser,
  policy: SqlPolicy,
  types: Record<string, BoundColumn[]> = {},
): Promise<void> {
  const ctes = cteNames(root);
  const template = await parser.expression('TRY(slot_x)');
  const wrap = (n: Node): Node => {
    if (isBare(n) || (n.class === 'FUNCTION' && functionName(n) === 'try')) return n;
    const alias = n.alias;
    const inner = clone(n);
    inner.alias = '';
    const out = fill(template, { x: inner });
    out.alias = alias;
    return out;
  };
  // TRY cannot hold a subquery either: a predicate with one is guarded around it (the
  // subquery's own SELECT is guarded where the walk reaches it)
  const guard = (n: Node): Node => {
    if (!containsSubquery(n)) return wrap(n);
    if (n.class === 'CONJUNCTION' || n.type === 'OPERATOR_NOT') {
      n.children = (n.children as Node[]).map(guard);
      return n;
    }
    for (const [k, x] of Object.entries(n)) {
      if (isNode(x) && typeof x.class === 'string' && x.class !== 'SUBQUERY') n[k] = guard(x);
      else if (Array.isArray(x))
        n[k] = x.map((c) => (isNode(c) && typeof c.class === 'string' && c.class !== 'SUBQUERY' ? guard(c) : c));
    }
    return n;
  };
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    if (!isNode(v)) return;
    if (v.type === 'SELECT_NODE') {
      for (const key of ['where_clause', 'qualify', 'having'] as const) {
        if (isNode(v[key]) && !containsAggregateOrWindow(v[key], policy)) v[key] = guard(v[key] as Node);
      }
      v.select_list = (v.select_list as Node[]).map((item) =>
        containsAggregateOrWindow(item, policy) ? item : wrap(item),
      );
      v.group_expressions = ((v.group_expressions as Node[] | undefined) ?? []).map((g) =>
        containsAggregateOrWindow(g, policy) ? g : wrap(g),
      );
    }
    if (v.type === 'JOIN' && isNode(v.condition)) {
      const { keys, rest } = hashJoinKeys(v, ctes, types);
      const guarded = [...keys, ...rest.map(wrap)];
      v.condition =
        guarded.length === 1
          ? guarded[0]!
          : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: guarded };
    }
    if (v.class === 'FUNCTION' && !v.is_operator && isAggregateName(functionName(v), policy.functions)) {
      if (isNode(v.filter)) v.filter = wrap(v.filter);
      v.children = ((v.children as Node[]) ?? []).map((c) => wrap(c));
    }
    Object.values(v).forEach(visit);
  };
  visit(root);
}
