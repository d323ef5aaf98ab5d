import { quoteIdent } from '../duckdb/index.ts';
import { isNode, refuse, type Node, type SqlParser } from './ast.ts';
import type { RefusalFacts, SqlReason } from '../errors/index.ts';
import { columnName, functionName } from './aggregate-rules.ts';
import { conjuncts, cteNamesIn, innerJoinScans, isUnitOf, scanOf, type Scan } from './join-scans.ts';
import type { SqlPolicy } from './references.ts';

/**
 * dp mode (docs/architecture.md §12–13): a GROUP BY over one snapshot table, or over inner joins of
 * the contract's tables of people on their pseudonymized person identifiers (residents × their
 * visits), with counts of rows, counts of distinct persons, sums, means, variances and standard
 * deviations — rewritten so that each person contributes a bounded amount to the whole query:
 * at most `maxRowsPerUnit` joined rows in a group, values clamped to their bounds and rounded to
 * integers, in at most `maxGroupsPerUnit` groups. The engine returns these exact bounded
 * aggregates per group; noise is added where releases are signed (disclosure/dp.ts).
 */

export type DpKind = 'count' | 'persons' | 'sum' | 'avg' | 'variance' | 'stddev';

export interface DpMeasure {
  /** Output position in the operator's SELECT. */
  position: number;
  kind: DpKind;
  column?: string;
  bounds?: [number, number];
  /** variance and stddev: the sample (n − 1) or the population (n) form. */
  population?: boolean;
}

export interface DpPlan {
  keyColumns: number[];
  measures: DpMeasure[];
  maxGroupsPerUnit: number;
  /** Most joined rows of one person counted in one group (1 when every table has one row a person). */
  maxRowsPerUnit: number;
  /** Whether rows are counted apart from persons (a table with several rows a person is read). */
  countsRows: boolean;
  /** Columns summed (sum, avg, variance, stddev): the engine returns __dp_s_<column> for each. */
  sumColumns: string[];
  /** Columns whose squares are summed (variance, stddev): __dp_q_<column>. */
  squareColumns: string[];
  /** The operator's output column names, in order. */
  outputColumns: string[];
  /**
   * Every group key's public code list (catalog `codes`), when each has one: every combination is
   * shown, with noise, whatever the data — no threshold; a value outside the lists is not shown.
   */
  publicKeys?: string[][];
}

/** Most combinations of public codes one query shows (beyond, groups are selected by threshold). */
const MAX_PUBLIC_GROUPS = 10_000;

/** Persons per group (the threshold's measure); rows per group is DP_ROWS. */
const DP_COUNT = '__dp_n';
const DP_ROWS = '__dp_r';
export const dpSumColumn = (column: string) => `__dp_s_${column}`;
export const dpSquareColumn = (column: string) => `__dp_q_${column}`;
export { DP_COUNT, DP_ROWS };

const shape = (facts: SqlReason | RefusalFacts, message: string, node: Node, sql: string): never =>
  refuse(
    'ERR_SQL_SHAPE_NOT_ALLOWED',
    'dp-shape',
    typeof facts === 'string' ? { reason: facts } : facts,
    message,
    node,
    sql,
  );

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
              : plain(c) || shape('dp-null-test', 'dp mode tests NULL on plain columns only', c, sql);
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
      'dp-filter',
      "dp mode filters with comparisons, BETWEEN, IN lists and NULL tests of plain columns against constants only: the cost of any other expression can depend on one person's row",
      n,
      sql,
    );
  };
  if (isNode(root.where_clause)) visit(root.where_clause);
}

const VARIANCES: Record<string, { kind: 'variance' | 'stddev'; population: boolean }> = {
  var_samp: { kind: 'variance', population: false },
  variance: { kind: 'variance', population: false },
  var_pop: { kind: 'variance', population: true },
  stddev: { kind: 'stddev', population: false },
  stddev_samp: { kind: 'stddev', population: false },
  stddev_pop: { kind: 'stddev', population: true },
};

/**
 * The scans of a dp query's FROM: one snapshot table, or inner joins whose every condition
 * equates two tables' person identifiers (their pseudonymized units), all of one kind of person.
 */
function dpScans(root: Node, sql: string, policy: SqlPolicy, conditions = true): Scan[] {
  const from = root.from_table as Node;
  const ctes = cteNamesIn(root);
  if (from.type === 'BASE_TABLE' && !from.schema_name && !ctes.has(String(from.table_name).toLowerCase())) {
    const table = String(from.table_name).toLowerCase();
    return [{ node: from, table, qualifier: String(from.alias || from.table_name).toLowerCase() }];
  }
  const joined = innerJoinScans(root, policy, ctes);
  if (!joined)
    shape(
      'dp-from',
      'dp mode reads one snapshot table, or inner joins of them written JOIN … ON a.pds_unit = b.pds_unit (no subqueries, outer joins, USING or samples)',
      from,
      sql,
    );
  const { joins, scans } = joined!;
  if (!conditions) return scans;
  const kinds = new Set(scans.map((s) => policy.unitKinds?.get(s.table) ?? s.table));
  if (kinds.size > 1)
    shape(
      { reason: 'dp-unit-kinds', table: scans.map((s) => s.table).join(', ') },
      `dp mode joins tables about one kind of person only: ${scans.map((s) => `${s.table} (${policy.unitKinds?.get(s.table) ?? '?'})`).join(', ')} identify different things`,
      from,
      sql,
    );
  // union-find over the unit equalities: every scan must be linked to every other by them
  const parent = new Map(scans.map((s) => [s, s]));
  const find = (s: Scan): Scan => (parent.get(s) === s ? s : find(parent.get(s)!));
  for (const join of joins) {
    for (const c of conjuncts(join.condition)) {
      const sides = c.class === 'COMPARISON' && c.type === 'COMPARE_EQUAL' ? [c.left as Node, c.right as Node] : [];
      const [a, b] = sides.map((side) => scans.find((s) => isUnitOf(side, s, scans, policy)));
      if (!a || !b || a === b)
        shape(
          'dp-join-condition',
          "dp mode joins only on the tables' person identifiers (a.pds_unit = b.pds_unit); filter other columns in WHERE",
          c,
          sql,
        );
      parent.set(find(a!), find(b!));
    }
  }
  if (new Set(scans.map(find)).size > 1)
    shape('dp-join-all', 'dp mode joins every table on the person identifier', from, sql);
  return scans;
}

/** The FROM of a dp query, checked before the failsafe guards its conditions (the rewrite trusts it then). */
export function checkDpFrom(root: Node, sql: string, policy: SqlPolicy): void {
  if (root.type === 'SELECT_NODE') dpScans(root, sql, policy);
}

/** What a dp query returns, checked: its group keys (positions and references) and its measures. */
interface DpShape {
  scans: Scan[];
  keyColumns: number[];
  keyRefs: Node[];
  /** Each carries `ref`, the column reference as written, until the joined rows are written. */
  measures: DpMeasure[];
  outputColumns: string[];
}

/** One select item that is not a group key: a count, sum, mean, variance or standard deviation. */
function dpMeasure(
  item: Node,
  position: number,
  isUnit: (n: Node) => boolean,
  sql: string,
  policy: SqlPolicy,
  bounds: Record<string, [number, number]>,
): DpMeasure {
  if (item.class !== 'FUNCTION' || item.filter || (((item.order_bys as Node)?.orders as unknown[]) ?? []).length > 0)
    shape(
      { reason: 'dp-select-item', ...(item.class === 'FUNCTION' ? { function: functionName(item) } : {}) },
      'dp mode returns group keys and count(*), count(DISTINCT <person>), sum, avg, variance or stddev of a column only',
      item,
      sql,
    );
  const fn = functionName(item);
  const args = (item.children as Node[]) ?? [];
  if (fn === 'count_star' && !item.distinct) {
    return { position, kind: 'count' };
  }
  if (fn === 'count' && item.distinct && args.length === 1 && isUnit(args[0]!)) {
    return { position, kind: 'persons' };
  }
  if (fn === 'count')
    shape(
      { reason: 'dp-count', function: fn },
      'dp mode counts rows with count(*) and persons with count(DISTINCT <table>.pds_unit)',
      item,
      sql,
    );
  const variance = VARIANCES[fn];
  if (fn !== 'sum' && fn !== 'avg' && fn !== 'mean' && !variance)
    shape(
      { reason: 'dp-function', function: fn },
      `dp mode supports count, sum, avg, variance and stddev, not ${fn}`,
      item,
      sql,
    );
  if (item.distinct)
    shape({ reason: 'dp-distinct', function: fn }, `${fn}(DISTINCT …) is not a dp statistic; drop DISTINCT`, item, sql);
  const column = args.length === 1 && args[0]!.class === 'COLUMN_REF' ? columnName(args[0]!) : undefined;
  if (!column || policy.identifierColumns.has(column))
    shape(
      { reason: 'dp-plain-column', function: fn, ...(column ? { columnName: column } : {}) },
      `${fn} in dp mode takes one plain column`,
      item,
      sql,
    );
  const b = bounds[column!];
  if (!b)
    shape(
      { reason: 'dp-bounds', function: fn, columnName: column! },
      `${fn}(${column}) needs contribution bounds: send "dp": {"bounds": {"${column}": [low, high]}} with the job`,
      item,
      sql,
    );
  return {
    position,
    kind: variance ? variance.kind : fn === 'sum' ? 'sum' : 'avg',
    column: column!,
    bounds: b,
    ...(variance ? { population: variance.population } : {}),
    // the column reference as written (qualified or not): the engine reads it from the join
    ...({ ref: args[0] } as object),
  };
}

function dpShape(root: Node, sql: string, policy: SqlPolicy, bounds: Record<string, [number, number]>): DpShape {
  if (root.type !== 'SELECT_NODE') shape('dp-union', 'dp mode needs one SELECT … GROUP BY (no UNION)', root, sql);
  if ((((root.cte_map as Node).map as unknown[]) ?? []).length > 0)
    shape('dp-with', 'dp mode does not take WITH', root, sql);
  const scans = dpScans(root, sql, policy, false);
  if (root.having || root.qualify || ((root.modifiers as unknown[]) ?? []).length > 0)
    shape(
      { reason: 'dp-modifiers', clause: root.having ? 'HAVING' : root.qualify ? 'QUALIFY' : 'ORDER BY / LIMIT' },
      'dp mode takes no HAVING, QUALIFY, ORDER BY or LIMIT: they would act on exact values',
      root,
      sql,
    );
  if (((root.group_sets as unknown[]) ?? []).length > 1)
    shape('dp-grouping-sets', 'dp mode takes a plain GROUP BY (no ROLLUP, CUBE or GROUPING SETS)', root, sql);
  const isUnit = (n: Node) => scans.some((s) => isUnitOf(n, s, scans, policy));
  const groups = (root.group_expressions as Node[]) ?? [];
  const keyText = (n: Node) => JSON.stringify(n.column_names ?? null).toLowerCase();
  for (const g of groups) {
    const name = columnName(g);
    if (!name || g.class !== 'COLUMN_REF' || policy.identifierColumns.has(name))
      shape(
        { reason: 'dp-group-column', ...(name ? { columnName: name } : {}) },
        'dp mode groups by plain, non-identifying columns',
        g,
        sql,
      );
  }
  const measures: DpMeasure[] = [];
  const keyColumns: number[] = [];
  const keyRefs: Node[] = [];
  (root.select_list as Node[]).forEach((item, position) => {
    if (item.class === 'COLUMN_REF' && groups.some((g) => keyText(g) === keyText(item))) {
      keyColumns.push(position);
      keyRefs.push(item);
      return;
    }
    measures.push(dpMeasure(item, position, isUnit, sql, policy, bounds));
  });
  if (measures.length === 0)
    shape(
      'dp-no-statistic',
      'dp mode needs at least one of count(*), count(DISTINCT pds_unit), sum, avg, variance, stddev',
      root,
      sql,
    );
  if (keyColumns.length !== groups.length)
    shape('dp-keys', 'dp mode returns every GROUP BY key as a column of its own', root, sql);
  const outputColumns = (root.select_list as Node[]).map((item) => {
    if (item.alias) return String(item.alias);
    const c = columnName(item);
    if (c && item.class === 'COLUMN_REF') return c;
    const fn = functionName(item);
    const args = ((item.children as Node[]) ?? []).map((a) => columnName(a) ?? '').join(', ');
    return fn === 'count_star' ? 'count_star()' : `${fn}(${item.distinct ? 'DISTINCT ' : ''}${args})`;
  });
  const names = new Set(outputColumns);
  if (names.size !== outputColumns.length)
    shape('dp-duplicate-names', 'dp mode needs distinct output column names; alias them', root, sql);
  return { scans, keyColumns, keyRefs, measures, outputColumns };
}

function readFromUniqueTable(k: Node, scans: Scan[], policy: SqlPolicy): boolean {
  const scan = scanOf(k, scans, policy);
  return scan !== undefined && scan !== 'unknown' && policy.uniqueUnitTables.has(scan.table);
}

/** The codes each group key can take, when every key is a public code list and their product is small. */
function publicKeysOf(keyRefs: Node[], scans: Scan[], policy: SqlPolicy): string[][] | undefined {
  const codeLists = keyRefs.map((k) => {
    const scan = scanOf(k, scans, policy);
    return scan && scan !== 'unknown' ? policy.publicCodes?.get(`${scan.table}.${columnName(k)}`) : undefined;
  });
  return keyRefs.length > 0 &&
    codeLists.every((c) => c !== undefined) &&
    codeLists.reduce((n, c) => n * c!.length, 1) <= MAX_PUBLIC_GROUPS
    ? (codeLists as string[][])
    : undefined;
}

/** The joined rows: keys, the person, each measured column — the operator's own FROM and WHERE. */
async function joinedRows(
  parser: SqlParser,
  root: Node,
  { scans, keyRefs, measures }: DpShape,
  sumColumns: string[],
  policy: SqlPolicy,
): Promise<string> {
  const refOf = (m: DpMeasure) => (m as unknown as { ref: Node }).ref;
  const inner = structuredClone(root);
  const unitScan = scans[0]!;
  const template = (
    await parser.parse(`SELECT ${quoteIdent(unitScan.qualifier)}.${quoteIdent(policy.privacyUnitColumn)} AS __u FROM t`)
  ).statements[0]!.node as Node;
  const unitRef = (template.select_list as Node[])[0]!;
  inner.select_list = [
    ...keyRefs.map((k, i) => ({ ...structuredClone(k), alias: `__k${i}` })),
    unitRef,
    ...sumColumns.map((c) => {
      const m = measures.find((x) => x.column === c)!;
      return { ...structuredClone(refOf(m)), alias: `__x_${c}` };
    }),
  ];
  inner.group_expressions = [];
  inner.group_sets = [];
  const joinedSql = await parser.deserialize([{ node: inner, named_param_map: [] }]);
  for (const m of measures) delete (m as unknown as { ref?: Node }).ref;
  return joinedSql;
}

export async function rewriteDp(
  parser: SqlParser,
  root: Node,
  sql: string,
  policy: SqlPolicy,
  bounds: Record<string, [number, number]>,
  maxGroupsPerUnit: number,
  maxRowsPerUnit = 1,
): Promise<{ sql: string; plan: DpPlan }> {
  const dp = dpShape(root, sql, policy, bounds);
  const { scans, keyColumns, keyRefs, measures, outputColumns } = dp;
  // a person has several rows when any table read has several rows a person
  const repeated = scans.some((s) => !policy.uniqueUnitTables.has(s.table));
  const rowsPerUnit = repeated ? maxRowsPerUnit : 1;
  const sumColumns = [...new Set(measures.filter((m) => m.column).map((m) => m.column!))];
  const squareColumns = [
    ...new Set(measures.filter((m) => m.kind === 'variance' || m.kind === 'stddev').map((m) => m.column!)),
  ];
  const countsRows = repeated && measures.some((m) => m.kind !== 'persons' && m.kind !== 'sum');

  const joinedSql = await joinedRows(parser, root, dp, sumColumns, policy);

  const keys = keyRefs.map((_, i) => `__k${i}`);
  const keyList = keys.join(', ');
  const clamp = (c: string) => {
    const [lo, hi] = bounds[c]!;
    return `least(greatest(${quoteIdent(`__x_${c}`)}, ${lo}), ${hi})`;
  };
  const perUnitGroup = [...keys, '__u'].join(', ');
  // keys read only from tables with one row a person put each person in one group: no need to
  // rank a person's groups to keep maxGroupsPerUnit of them (a sort of every person's groups)
  const oneGroupEach = keyRefs.every((k) => readFromUniqueTable(k, scans, policy));
  // a person's contribution to a group is clipped as a whole — at most R rows counted, its sum
  // within R times the bounds, its sum of squares within R times the largest square — which bounds
  // it as keeping R of its rows would, without ordering the join's rows to pick them
  const clip = (sum: string, lo: number, hi: number) => `least(greatest(${sum}, ${lo}), ${hi})`;
  const out = `WITH joined AS (${joinedSql}),
per_unit AS (SELECT ${[
    ...keys,
    '__u',
    `least(count(*), ${rowsPerUnit}) AS __c`,
    ...sumColumns.map((c) => {
      const [lo, hi] = bounds[c]!;
      return `round(${clip(`sum(${clamp(c)})`, rowsPerUnit * Math.min(lo, 0), rowsPerUnit * Math.max(hi, 0))})::BIGINT AS ${quoteIdent(dpSumColumn(c))}`;
    }),
    ...squareColumns.map((c) => {
      const [lo, hi] = bounds[c]!;
      const top = Math.max(lo * lo, hi * hi);
      return `round(least(sum(${clamp(c)} * ${clamp(c)}), ${rowsPerUnit * top}))::BIGINT AS ${quoteIdent(dpSquareColumn(c))}`;
    }),
  ].join(', ')} FROM joined GROUP BY ${perUnitGroup}),
${
  oneGroupEach
    ? 'bounded AS (SELECT * FROM per_unit)'
    : `bounded AS (SELECT *, row_number() OVER (PARTITION BY __u ORDER BY hash(${`[${keys.map((k) => `${k}::VARCHAR`).join(', ')}]`})) AS __r FROM per_unit)`
}
SELECT ${[
    ...keys.map((k, i) => `${k} AS ${quoteIdent(outputColumns[keyColumns[i]!]!)}`),
    `count(*) AS ${DP_COUNT}`,
    `sum(__c)::BIGINT AS ${DP_ROWS}`,
    ...sumColumns.map((c) => `sum(${quoteIdent(dpSumColumn(c))})::BIGINT AS ${quoteIdent(dpSumColumn(c))}`),
    ...squareColumns.map((c) => `sum(${quoteIdent(dpSquareColumn(c))})::BIGINT AS ${quoteIdent(dpSquareColumn(c))}`),
  ].join(', ')}
FROM bounded${oneGroupEach ? '' : ` WHERE __r <= ${maxGroupsPerUnit}`}${keys.length ? ` GROUP BY ${keyList}` : ''}`;
  const publicKeys = publicKeysOf(keyRefs, scans, policy);
  return {
    sql: out,
    plan: {
      ...(publicKeys ? { publicKeys } : {}),
      keyColumns,
      measures,
      maxGroupsPerUnit,
      maxRowsPerUnit: rowsPerUnit,
      countsRows,
      sumColumns,
      squareColumns,
      outputColumns,
    },
  };
}
