import { clone, fill, isNode, refuse, someNode, walk, type Node, type SqlParser } from './ast.ts';
import { functionName } from './aggregate-rules.ts';
import { isAggregateName, type SqlPolicy } from './references.ts';
import type { BoundColumn } from './binder.ts';
import { isStageUnitEquality } from './per-person.ts';

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
  return someNode(
    v,
    (n) =>
      n.class === 'WINDOW' ||
      (n.class === 'FUNCTION' && !n.is_operator && isAggregateName(functionName(n), policy.functions)),
    (n) => n.class === 'SUBQUERY',
  );
}

function containsSubquery(v: unknown): boolean {
  return someNode(v, (n) => n.class === 'SUBQUERY');
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
  walk(root, (v) => {
    if (mode === 'aggregate' && v.type === 'JOIN') {
      const using = ((v.using_columns as unknown[] | undefined) ?? []).length > 0;
      const cond = v.condition as Node | null | undefined;
      if (v.ref_type !== 'REGULAR' || !(using || (isNode(cond) && equiJoin(cond)))) {
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'bounded-cost',
          { reason: 'join-not-equal', clause: String(v.ref_type) },
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
          { reason: 'pad-length', function: functionName(v), limit: String(MAX_PAD) },
          `${functionName(v)} pads to a constant length of at most ${MAX_PAD} here: a size the data chooses could make the job fail for one person's row`,
          v,
          sql,
        );
      }
    }
  });
}

/** Names of every CTE anywhere in the query: a table reference by such a name may not be a snapshot table. */
function cteNames(root: unknown): Set<string> {
  const names = new Set<string>();
  walk(root, (v) => {
    const list = (v.cte_map as Node | undefined)?.map as Node[] | undefined;
    for (const entry of list ?? []) names.add(String(entry.key).toLowerCase());
  });
  return names;
}

/** The snapshot tables scanned directly under a FROM item, by the qualifier a column names them with. */
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
  const typeOf = columnTypes(scansUnder(join, ctes), types);
  const keys: Node[] = [];
  const rest: Node[] = [];
  for (const c of conjuncts(join.condition as Node)) {
    const [l, r] = [c.left as Node | undefined, c.right as Node | undefined];
    const same = c.type === 'COMPARE_EQUAL' && l && r && typeOf(l) !== undefined && typeOf(l) === typeOf(r);
    (same || castFreeFilter(c, typeOf) || isStageUnitEquality(c) ? keys : rest).push(c);
  }
  return { keys, rest };
}

function conjuncts(n: Node): Node[] {
  return n.type === 'CONJUNCTION_AND' ? (n.children as Node[]).flatMap(conjuncts) : [n];
}

/** A column's type by the scan its qualifier names, or, unqualified, by the one scan that has it. */
function columnTypes(
  scans: Map<string, string>,
  types: Record<string, BoundColumn[]>,
): (n: Node) => string | undefined {
  const find = (table: string | undefined, column: string) =>
    table ? types[table]?.find((c) => c.name.toLowerCase() === column)?.type : undefined;
  return (n) => {
    const names = n.class === 'COLUMN_REF' ? (n.column_names as string[]).map((x) => x.toLowerCase()) : [];
    if (names.length === 2) return find(scans.get(names[0]!), names[1]!);
    if (names.length !== 1) return undefined;
    const found = [...scans.values()].map((t) => find(t, names[0]!)).filter((t) => t !== undefined);
    return found.length === 1 ? found[0] : undefined;
  };
}

/** Digits of each integer type: a DECIMAL literal widens such a column to DECIMAL(digits + scale). */
const INTEGER_DIGITS: Record<string, number> = { TINYINT: 3, SMALLINT: 5, INTEGER: 10, BIGINT: 19 };
const COMPARISONS = new Set([
  'COMPARE_EQUAL',
  'COMPARE_NOTEQUAL',
  'COMPARE_LESSTHAN',
  'COMPARE_GREATERTHAN',
  'COMPARE_LESSTHANOREQUALTO',
  'COMPARE_GREATERTHANOREQUALTO',
]);

/**
 * Whether comparing a column of this type with this constant casts no value of the column to a
 * type it may not fit — such a cast fails on the rows that reach it, and whether any does is
 * about the data (a text literal against a DATE column fails only when a row is compared;
 * `i = 1.000…001` casts every INTEGER to DECIMAL(38,30), where 2147483647 does not fit).
 * What never fails: text against text, any number against a DOUBLE, an integer or a double
 * against an integer column, a DECIMAL whose scale leaves room for the column's digits.
 */
function castFree(columnType: string | undefined, constant: Node): boolean {
  if (columnType === undefined || constant.class !== 'CONSTANT') return false;
  const value = constant.value as
    { type?: { id?: string; type_info?: { scale?: number } | null }; is_null?: boolean } | undefined;
  if (value?.is_null) return true;
  const id = value?.type?.id;
  if (id === 'VARCHAR') return columnType === 'VARCHAR';
  const numeric = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'DOUBLE', 'FLOAT', 'DECIMAL'];
  if (id === undefined || !numeric.includes(id)) return false;
  if (columnType === 'DOUBLE' || columnType === 'FLOAT') return true;
  const digits = INTEGER_DIGITS[columnType];
  if (digits === undefined) return false;
  return id !== 'DECIMAL' || digits + (value?.type?.type_info?.scale ?? 38) <= 38;
}

/**
 * Several constants against one column (IN, BETWEEN): DuckDB casts all of them and the column to
 * one type, so a DECIMAL beside a HUGEINT makes DECIMAL(38, s) of an integer column even where
 * each alone would not. Against an integer column, several constants are only integers or doubles.
 */
function castFreeAll(columnType: string | undefined, constants: Node[]): boolean {
  if (!constants.every((c) => castFree(columnType, c))) return false;
  if (constants.length < 2 || columnType === undefined || INTEGER_DIGITS[columnType] === undefined) return true;
  const plain = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DOUBLE', 'FLOAT']);
  return constants.every((c) => {
    const value = c.value as { type?: { id?: string }; is_null?: boolean } | undefined;
    return value?.is_null === true || plain.has(String(value?.type?.id));
  });
}

/**
 * A filter of one column by constants that can never fail (castFree): `c = 'x'`, `c > 2.5`,
 * `c IN (…)`, `c BETWEEN 1 AND 9`. Left bare, DuckDB pushes it into the table's scan (zone maps,
 * dictionaries) as it would for a plain query; inside TRY it is evaluated on every row read.
 */
function castFreeFilter(n: Node, typeOf: (n: Node) => string | undefined): boolean {
  if (n.class === 'COMPARISON' && COMPARISONS.has(String(n.type))) {
    const [l, r] = [n.left as Node, n.right as Node];
    return (l.class === 'COLUMN_REF' && castFree(typeOf(l), r)) || (r.class === 'COLUMN_REF' && castFree(typeOf(r), l));
  }
  if (n.type === 'COMPARE_IN' || n.type === 'COMPARE_NOT_IN') {
    const [col, ...values] = n.children as Node[];
    return col!.class === 'COLUMN_REF' && values.length > 0 && castFreeAll(typeOf(col!), values);
  }
  if (n.class === 'BETWEEN') {
    const col = n.input as Node;
    return col.class === 'COLUMN_REF' && castFreeAll(typeOf(col), [n.lower as Node, n.upper as Node]);
  }
  return false;
}

/**
 * USING has no condition to guard: its equality casts when the two columns' types differ, and
 * that cast fails on the rows that reach it — so the types must be known and equal.
 */
function checkUsingTypes(v: Node, ctes: Set<string>, types: Record<string, BoundColumn[]>): void {
  const using = (v.using_columns as string[] | undefined) ?? [];
  if (using.length > 0) {
    const left = columnTypes(scansUnder(v.left as Node, ctes), types);
    const right = columnTypes(scansUnder(v.right as Node, ctes), types);
    for (const c of using) {
      const ref = { class: 'COLUMN_REF', column_names: [c] };
      const [l, r] = [left(ref), right(ref)];
      if (l === undefined || l !== r)
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'bounded-cost',
          { reason: 'join-using-type', columnName: c },
          `JOIN … USING (${c}) needs ${c} of one type read straight from a snapshot table on both sides; write ON a.${c} = b.${c} instead`,
          v,
        );
    }
  }
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
  // the guards replace a node's children before the walk goes down: it then walks the new ones
  walk(root, (v) => {
    if (v.type === 'SELECT_NODE') {
      if (isNode(v.where_clause) && !containsAggregateOrWindow(v.where_clause, policy)) {
        const typeOf = isNode(v.from_table) ? columnTypes(scansUnder(v.from_table, ctes), types) : () => undefined;
        const parts = conjuncts(v.where_clause).map((c) => (castFreeFilter(c, typeOf) ? c : guard(c)));
        v.where_clause =
          parts.length === 1 ? parts[0] : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: parts };
      }
      for (const key of ['qualify', 'having'] as const) {
        if (isNode(v[key]) && !containsAggregateOrWindow(v[key], policy)) v[key] = guard(v[key] as Node);
      }
      v.select_list = (v.select_list as Node[]).map((item) =>
        containsAggregateOrWindow(item, policy) ? item : wrap(item),
      );
      v.group_expressions = ((v.group_expressions as Node[] | undefined) ?? []).map((g) =>
        containsAggregateOrWindow(g, policy) ? g : wrap(g),
      );
    }
    if (v.type === 'JOIN') checkUsingTypes(v, ctes, types);
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
  });
}
