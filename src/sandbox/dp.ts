import { quoteIdent } from '../duckdb/index.ts';
import { isNode, refuse, type Node, type SqlParser } from './ast.ts';
import { columnName, functionName } from './aggregate-rules.ts';
import type { SqlPolicy } from './references.ts';

/**
 * dp mode (docs/architecture.md §12–13): a GROUP BY over one snapshot table with count(*), sum(x) and avg(x),
 * rewritten so that each privacy unit contributes a bounded amount: one count and one clamped,
 * integer-rounded sum per group, in at most `maxGroupsPerUnit` groups. The engine returns these
 * exact bounded aggregates; noise is added where releases are signed (disclosure/dp.ts).
 */

export interface DpMeasure {
  /** Output position in the operator's SELECT. */
  position: number;
  kind: 'count' | 'sum' | 'avg';
  column?: string;
  bounds?: [number, number];
}

export interface DpPlan {
  keyColumns: number[];
  measures: DpMeasure[];
  maxGroupsPerUnit: number;
  /** Names of the engine's result columns: keys, then __dp_n, then one __dp_s_<column> per summed column. */
  sumColumns: string[];
  /** The operator's output column names, in order. */
  outputColumns: string[];
}

const DP_COUNT = '__dp_n';
export const dpSumColumn = (column: string) => `__dp_s_${column}`;
export { DP_COUNT };

const shape = (message: string, node: Node, sql: string): never =>
  refuse('ERR_SQL_SHAPE_NOT_ALLOWED', 'dp-shape', message, node, sql);

/**
 * dp mode admits only predicates whose cost does not depend on the data: comparisons, ranges
 * (BETWEEN), IN lists and NULL tests of plain columns against constants, joined by AND, OR, NOT.
 * No string builders, regular expressions, CASE or function calls: a job that fails or slows
 * down for one person's row would leak a bit no ε accounts for (docs/architecture.md §12).
 */
export function checkDpPredicates(root: Node, sql: string, policy: SqlPolicy): void {
  const plain = (n: Node | undefined) =>
    n !== undefined &&
    (n.class === 'COLUMN_REF' || n.class === 'CONSTANT') &&
    !policy.identifierColumns.has(columnName(n) ?? '');
  const visit = (n: Node): void => {
    switch (n.class) {
      case 'CONJUNCTION':
        for (const c of n.children as Node[]) visit(c);
        return;
      case 'COMPARISON':
        if (plain(n.left as Node) && plain(n.right as Node)) return;
        break;
      case 'BETWEEN':
        if (plain(n.input as Node) && plain(n.lower as Node) && plain(n.upper as Node)) return;
        break;
      case 'OPERATOR':
        if (['OPERATOR_NOT', 'OPERATOR_IS_NULL', 'OPERATOR_IS_NOT_NULL'].includes(String(n.type))) {
          for (const c of n.children as Node[])
            n.type === 'OPERATOR_NOT'
              ? visit(c)
              : plain(c) || shape('dp mode tests NULL on plain columns only', c, sql);
          return;
        }
        if (['COMPARE_IN', 'COMPARE_NOT_IN'].includes(String(n.type)) && (n.children as Node[]).every((c) => plain(c)))
          return;
        break;
      case 'COLUMN_REF':
      case 'CONSTANT':
        if (plain(n)) return;
        break;
    }
    shape(
      "dp mode filters with comparisons, BETWEEN, IN lists and NULL tests of plain columns against constants only: the cost of any other expression can depend on one person's row",
      n,
      sql,
    );
  };
  if (isNode(root.where_clause)) visit(root.where_clause);
}

export async function rewriteDp(
  parser: SqlParser,
  root: Node,
  sql: string,
  policy: SqlPolicy,
  bounds: Record<string, [number, number]>,
  maxGroupsPerUnit: number,
): Promise<{ sql: string; plan: DpPlan }> {
  if (root.type !== 'SELECT_NODE') shape('dp mode needs one SELECT … GROUP BY (no UNION)', root, sql);
  if ((((root.cte_map as Node).map as unknown[]) ?? []).length > 0) shape('dp mode does not take WITH', root, sql);
  const from = root.from_table as Node;
  if (from.type !== 'BASE_TABLE')
    shape('dp mode reads one snapshot table directly (no joins or subqueries)', from, sql);
  if (root.having || root.qualify || ((root.modifiers as unknown[]) ?? []).length > 0)
    shape('dp mode takes no HAVING, QUALIFY, ORDER BY or LIMIT: they would act on exact values', root, sql);
  if (((root.group_sets as unknown[]) ?? []).length > 1)
    shape('dp mode takes a plain GROUP BY (no ROLLUP, CUBE or GROUPING SETS)', root, sql);
  const keys = ((root.group_expressions as Node[]) ?? []).map((g) => {
    const name = columnName(g);
    if (!name || policy.identifierColumns.has(name)) shape('dp mode groups by plain, non-identifying columns', g, sql);
    return name!;
  });
  const measures: DpMeasure[] = [];
  const keyColumns: number[] = [];
  (root.select_list as Node[]).forEach((item, position) => {
    const name = columnName(item);
    if (name && keys.includes(name)) {
      keyColumns.push(position);
      return;
    }
    if (
      item.class !== 'FUNCTION' ||
      item.distinct ||
      item.filter ||
      (((item.order_bys as Node)?.orders as unknown[]) ?? []).length > 0
    ) {
      shape('dp mode returns group keys and count(*), sum(x) or avg(x) only', item, sql);
    }
    const fn = functionName(item);
    if (fn === 'count_star') {
      measures.push({ position, kind: 'count' });
      return;
    }
    if (fn !== 'sum' && fn !== 'avg' && fn !== 'mean')
      shape(`dp mode supports count(*), sum and avg, not ${fn}`, item, sql);
    const args = (item.children as Node[]) ?? [];
    const column = args.length === 1 ? columnName(args[0]!) : undefined;
    if (!column || policy.identifierColumns.has(column)) shape(`${fn} in dp mode takes one plain column`, item, sql);
    const b = bounds[column!];
    if (!b)
      shape(
        `${fn}(${column}) needs contribution bounds: send "dp": {"bounds": {"${column}": [low, high]}} with the job`,
        item,
        sql,
      );
    measures.push({ position, kind: fn === 'sum' ? 'sum' : 'avg', column: column!, bounds: b });
  });
  const outputColumns = (root.select_list as Node[]).map((item) => {
    if (item.alias) return String(item.alias);
    const c = columnName(item);
    if (c) return c;
    const args = ((item.children as Node[]) ?? []).map((a) => columnName(a) ?? '').join(', ');
    return functionName(item) === 'count_star' ? 'count_star()' : `${functionName(item)}(${args})`;
  });
  if (measures.length === 0) shape('dp mode needs at least one of count(*), sum(x), avg(x)', root, sql);

  const sumColumns = [...new Set(measures.filter((m) => m.column).map((m) => m.column!))];
  const clamp = (c: string) => {
    const [lo, hi] = bounds[c]!;
    return `least(greatest(${quoteIdent(c)}, ${lo}), ${hi})`;
  };
  // per unit and group: one row, its contributions clamped and rounded to integers
  const perUnit = structuredClone(root);
  const unit = quoteIdent(policy.privacyUnitColumn);
  const inner = await parser.parse(
    `SELECT ${[...keys.map(quoteIdent), unit, 'count(*) AS __c', ...sumColumns.map((c) => `round(sum(${clamp(c)}))::BIGINT AS ${quoteIdent(dpSumColumn(c))}`)].join(', ')} FROM t GROUP BY ${[...keys.map(quoteIdent), unit].join(', ')}`,
  );
  const template = inner.statements[0]!.node as Node;
  perUnit.select_list = template.select_list;
  perUnit.group_expressions = template.group_expressions;
  perUnit.group_sets = template.group_sets;
  const perUnitSql = await parser.deserialize([{ node: perUnit, named_param_map: [] }]);
  const keyList = keys.map(quoteIdent).join(', ');
  const out = `WITH per_unit AS (${perUnitSql}),
bounded AS (SELECT *, row_number() OVER (PARTITION BY ${unit} ORDER BY hash(${keys.length ? `[${keys.map((k) => `${quoteIdent(k)}::VARCHAR`).join(', ')}]` : '0'})) AS __r FROM per_unit)
SELECT ${[
    ...keys.map(quoteIdent),
    `count(*) AS ${DP_COUNT}`,
    ...sumColumns.map((c) => {
      const [lo, hi] = bounds[c]!;
      return `sum(least(greatest(${quoteIdent(dpSumColumn(c))}, ${Math.round(lo)}), ${Math.round(hi)}))::BIGINT AS ${quoteIdent(dpSumColumn(c))}`;
    }),
  ].join(', ')}
FROM bounded WHERE __r <= ${maxGroupsPerUnit}${keys.length ? ` GROUP BY ${keyList}` : ''}`;
  return { sql: out, plan: { keyColumns, measures, maxGroupsPerUnit, sumColumns, outputColumns } };
}
