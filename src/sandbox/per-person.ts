import { isNode, walk, type Node } from './ast.ts';
import {
  fixedColumns,
  and,
  cteNamesIn,
  conjuncts,
  innerJoinScans,
  isUnitOf,
  otherJoinConditions,
  readsOf,
  scanOf,
  type Scan,
} from './join-scans.ts';
import { functionName } from './aggregate-rules.ts';
import { isAggregateName, type SqlPolicy } from './references.ts';

/**
 * Each person's rows summed before the join (docs/architecture.md §17, "Joins").
 *
 * `SELECT p.district, sum(s.base_salary), count(*) FROM population p JOIN social_insurance s ON
 * p.id_number = s.id_number GROUP BY 1` repeats each resident once per insurance record, and
 * then every cell has to count each person once again (a distinct table the size of the join).
 * When the repeated table is read only by its own WHERE conditions and by count(*), count(x) and
 * sum(x) of its columns, and joined on its unit to a table with one row per unit, the same
 * answer comes from one row per person: `(SELECT pds_unit, count(*) AS w, sum(base_salary) AS
 * s, … FROM social_insurance WHERE … GROUP BY pds_unit)`, with count(*) read as sum(w) and
 * sum(x) as sum(s). The people behind each cell are the same, each on one row, so the units,
 * keys and signature need no DISTINCT; a sum's contributions are then each person's own total,
 * which is what the dominance rule weighs.
 *
 * A count read as a sum of weights is still a count: it is perturbed with the p-table and
 * rounded like one (`isWeightedCount`).
 *
 * Where the outer query also groups by the repeated table's own columns (a record's month), the
 * stage is per person *and* those columns: within each cell a person is still on one row, which
 * the units rewrite knows from the outer GROUP BY (units.ts, `uniqueWithin`).
 */

const WEIGHTED_COUNTS = new WeakSet<Node>();
/** Means over per-person sums: avg(m.<person's sum>) with the column of each person's count. */
const MEANS = new WeakMap<Node, Node>();

/**
 * For a mean the stage rewrote, the column holding each person's count of values: its mean is
 * sum(the persons' sums) / sum(their counts). The perturbation reads it (`settled` once done).
 */
export function stageMeanCount(n: Node): Node | undefined {
  return MEANS.get(n);
}

/** The perturbation has replaced this mean or count with its own expression. */
export function settled(n: Node): void {
  MEANS.delete(n);
  WEIGHTED_COUNTS.delete(n);
}

/**
 * What no perturbation replaced (a query analysed without it), in place: a mean becomes sum ÷
 * count; a count read as a sum of weights coalesces to 0, as a count over no rows is.
 */
export function settleStage(root: Node): void {
  walk(root, (n) => {
    if (WEIGHTED_COUNTS.has(n)) {
      const sum = { ...n, alias: '' };
      const alias = n.alias;
      for (const k of Object.keys(n)) delete n[k];
      Object.assign(n, { class: 'OPERATOR', type: 'OPERATOR_COALESCE', alias, children: [sum, zero()] });
      WEIGHTED_COUNTS.delete(n);
      return false;
    }
    const count = MEANS.get(n);
    if (!count) return;
    const sum = aggregate(
      'sum',
      (n.children as Node[]).map((c) => c),
    );
    const replacement = aggregate('nullif', [aggregate('sum', [count]), zero()]);
    const alias = n.alias;
    for (const k of Object.keys(n)) delete n[k];
    Object.assign(n, {
      class: 'FUNCTION',
      type: 'FUNCTION',
      alias,
      function_name: '/',
      schema: '',
      catalog: '',
      children: [
        {
          class: 'CAST',
          type: 'OPERATOR_CAST',
          alias: '',
          child: sum,
          cast_type: { id: 'DOUBLE', type_info: null },
          try_cast: false,
        },
        replacement,
      ],
      filter: null,
      order_bys: { type: 'ORDER_MODIFIER', orders: [] },
      distinct: false,
      is_operator: true,
      export_state: false,
    });
    MEANS.delete(n);
    return false;
  });
}
const UNIT_EQUALITIES = new WeakSet<Node>();

/**
 * Whether a join condition is the stage's own equality of two units: both sides hold the same
 * kind of token (the stage's column is the table's unit), so it needs no cast and cannot fail.
 */
export function isStageUnitEquality(n: Node): boolean {
  return UNIT_EQUALITIES.has(n);
}

/** Whether a `sum(…)` node stands for a count the per-person stage turned into a sum of weights. */
export function isWeightedCount(n: Node): boolean {
  return WEIGHTED_COUNTS.has(n);
}

/** Rewrites at most one repeated table of the outer SELECT (or of each outer UNION branch) in place. */
export function perPersonStage(root: Node, policy: SqlPolicy, ctes: ReadonlySet<string> = cteNamesIn(root)): void {
  if (root.type === 'SET_OPERATION_NODE') {
    perPersonStage(root.left as Node, policy, ctes);
    perPersonStage(root.right as Node, policy, ctes);
    return;
  }
  if (root.type === 'SELECT_NODE') rewrite(root, policy, ctes);
}

function zero(): Node {
  return {
    class: 'CONSTANT',
    type: 'VALUE_CONSTANT',
    alias: '',
    value: { type: { id: 'INTEGER', type_info: null }, is_null: false, value: 0 },
  };
}

function columnRef(...names: string[]): Node {
  return { class: 'COLUMN_REF', type: 'COLUMN_REF', alias: '', column_names: names };
}

function aggregate(name: string, args: Node[], alias = ''): Node {
  return {
    class: 'FUNCTION',
    type: 'FUNCTION',
    alias,
    function_name: name,
    schema: '',
    catalog: '',
    children: args,
    filter: null,
    order_bys: { type: 'ORDER_MODIFIER', orders: [] },
    distinct: false,
    is_operator: false,
    export_state: false,
  };
}

function rewrite(select: Node, policy: SqlPolicy, ctes: ReadonlySet<string>): void {
  const found = innerJoinScans(select, policy, ctes);
  if (!found) return;
  const { joins, scans } = found;
  for (const join of joins) {
    for (const side of ['left', 'right'] as const) {
      const leaf = join[side] as Node;
      if (leaf.type !== 'BASE_TABLE') continue;
      const repeated = scans.find((s) => s.node === leaf)!;
      if (policy.uniqueUnitTables.has(repeated.table)) continue;
      const plan = planStage(select, join, repeated, scans, policy);
      if (!plan) continue;
      apply(select, join, side, repeated, plan, policy);
      return;
    }
  }
}

interface StagePlan {
  /** The join's column holding the repeated table's unit (kept by that name in the stage). */
  joinColumn: string;
  /** The join's equality of the two tables' units. */
  equality: Node;
  /** WHERE conjuncts (and the join's own) reading the repeated table alone: filter its rows first. */
  filters: Node[];
  /** count(*), count(x), sum(x) nodes of the outer SELECT to read from the stage. */
  targets: { node: Node; kind: 'rows' | 'count' | 'sum' | 'mean'; column?: string }[];
  /** The repeated table's columns the outer query groups by: the stage is per person and these. */
  keys: string[];
}

/** A scan, the scans of its SELECT and the policy: what each step of planStage reads. */
interface Within {
  repeated: Scan;
  scans: Scan[];
  policy: SqlPolicy;
}

/** A column reference's own name, lower case. */
const nameOf = (c: Node) => String((c.column_names as string[]).at(-1)).toLowerCase();

function planStage(select: Node, join: Node, repeated: Scan, scans: Scan[], policy: SqlPolicy): StagePlan | undefined {
  const at: Within = { repeated, scans, policy };
  const joined = stageJoin(join, at);
  const where = joined && stageWhere(select, at);
  const targets = where && stageTargets(select, at);
  const keys = targets && stageKeys(select, at);
  if (!joined || !where || !targets || !keys || (targets.length === 0 && keys.length === 0)) return undefined;
  if (readOutside(select, join, targets, keys, where.rest, at)) return undefined;
  return { ...joined, filters: [...joined.filters, ...where.filters], targets, keys };
}

/** The join: its unit equated with a one-row-per-unit table's unit; its other conditions on it alone. */
function stageJoin(join: Node, { repeated, scans, policy }: Within): Omit<StagePlan, 'targets' | 'keys'> | undefined {
  const others = scans.filter((s) => s !== repeated);
  const unitOfOther = (n: Node) =>
    others.some((o) => policy.uniqueUnitTables.has(o.table) && isUnitOf(n, o, scans, policy));
  let joinColumn: string | undefined;
  let equality: Node | undefined;
  const filters: Node[] = [];
  for (const c of conjuncts(join.condition)) {
    const [l, r] = [c.left as Node | undefined, c.right as Node | undefined];
    const unitPair =
      c.type === 'COMPARE_EQUAL' &&
      l &&
      r &&
      ((isUnitOf(l, repeated, scans, policy) && unitOfOther(r)) ||
        (isUnitOf(r, repeated, scans, policy) && unitOfOther(l)));
    if (unitPair && joinColumn === undefined) {
      joinColumn = nameOf(isUnitOf(l!, repeated, scans, policy) ? l! : r!);
      equality = c;
      continue;
    }
    const read = readsOf(c, scans, policy);
    if (read.size === 1 && read.has(repeated)) filters.push(c);
    else return undefined;
  }
  return joinColumn ? { joinColumn, equality: equality!, filters } : undefined;
}

/** WHERE: the repeated table's own conditions filter the stage; the rest must not read it. */
function stageWhere(select: Node, { repeated, scans, policy }: Within): { filters: Node[]; rest: Node[] } | undefined {
  const filters: Node[] = [];
  const rest: Node[] = [];
  for (const c of conjuncts(select.where_clause)) {
    const r = readsOf(c, scans, policy);
    if (r.has(repeated) && r.size === 1) filters.push(c);
    else if (r.has(repeated) || r.has('unknown')) return undefined;
    else rest.push(c);
  }
  return { filters, rest };
}

/** The statistics: count(*), and count/sum/avg of the repeated table's columns; any other blind to repetition. */
function stageTargets(select: Node, { repeated, scans, policy }: Within): StagePlan['targets'] | undefined {
  const readsRepeated = (part: unknown) => {
    const r = readsOf(part, scans, policy);
    return r.has(repeated) || r.has('unknown');
  };
  const targets: StagePlan['targets'] = [];
  let ok = true;
  for (const part of [select.select_list, select.having, select.qualify, select.modifiers]) {
    walk(part, (n) => {
      if (!ok) return false;
      if (n.class === 'SUBQUERY' || n.class === 'WINDOW') {
        ok = false;
        return false;
      }
      if (n.class !== 'FUNCTION' || n.is_operator || !isAggregateName(functionName(n), policy.functions)) return;
      const name = functionName(n);
      const args = (n.children as Node[]) ?? [];
      if (isNode(n.filter)) ok = false;
      else if (name === 'count_star' || (name === 'count' && args.length === 0))
        targets.push({ node: n, kind: 'rows' });
      else if (
        ['count', 'sum', 'avg', 'mean'].includes(name) &&
        !n.distinct &&
        args.length === 1 &&
        args[0]!.class === 'COLUMN_REF'
      ) {
        const kind = name === 'count' ? 'count' : name === 'sum' ? 'sum' : 'mean';
        if (scanOf(args[0]!, scans, policy) === repeated) targets.push({ node: n, kind, column: nameOf(args[0]!) });
        else ok = false; // a count or sum of the other tables' columns counts repetitions
      } else if (
        name === 'count' &&
        n.distinct === true &&
        args.length === 1 &&
        isUnitOf(args[0]!, repeated, scans, policy)
      ) {
        // the people themselves: the stage keeps their unit (and the join's name for it)
      } else if (!((name === 'count' && n.distinct === true) || name === 'min' || name === 'max') || readsRepeated(n))
        ok = false;
      return false;
    });
  }
  return ok ? targets : undefined;
}

/**
 * The repeated table's own columns as plain GROUP BY keys (a visit's hospital, a record's month):
 * the stage is per person and key, one row for each person within each cell (units.ts). None
 * where a set of the table's columns that tells its rows apart with the unit is all grouped by
 * or fixed by WHERE: each person is on one row a cell already (units.ts uniqueInGroups), and a
 * stage would only cost.
 */
function stageKeys(select: Node, { repeated, scans, policy }: Within): string[] | undefined {
  const plainGrouping = ((select.group_sets as unknown[]) ?? []).length <= 1;
  const keyRefs = ((select.group_expressions as Node[]) ?? []).filter(
    (g) => g.class === 'COLUMN_REF' && scanOf(g, scans, policy) === repeated,
  );
  if (keyRefs.length > 0 && !plainGrouping) return undefined;
  const keys = [...new Set(keyRefs.map(nameOf))];
  if (keys.includes(policy.privacyUnitColumn)) return undefined;
  const fixed = fixedColumns(select.where_clause)
    .filter((c) => scanOf(c, scans, policy) === repeated)
    .map(nameOf);
  const within = policy.uniqueWith.get(repeated.table) ?? [];
  if (plainGrouping && within.some((set) => set.every((c) => keys.includes(c) || fixed.includes(c)))) return undefined;
  return keys;
}

/** Whether anything else reads the repeated table: the rest of WHERE, other joins, outside the statistics and keys. */
function readOutside(
  select: Node,
  join: Node,
  targets: StagePlan['targets'],
  keys: string[],
  rest: Node[],
  { repeated, scans, policy }: Within,
): boolean {
  const isKey = (v: Node) =>
    v.class === 'COLUMN_REF' &&
    scanOf(v, scans, policy) === repeated &&
    (keys.includes(nameOf(v)) || (keys.length > 0 && isUnitOf(v, repeated, scans, policy)));
  const outside = (part: unknown) => {
    const copy = JSON.parse(JSON.stringify(part ?? null), (_k, v: unknown) =>
      isNode(v) && (targets.some((t) => sameNode(t.node, v)) || isKey(v)) ? null : v,
    ) as unknown;
    const r = readsOf(copy, scans, policy);
    return r.has(repeated) || r.has('unknown');
  };
  return [
    select.select_list,
    select.group_expressions,
    select.group_sets,
    select.having,
    select.modifiers,
    rest,
    otherJoinConditions(select.from_table, join),
  ].some(outside);
}

function sameNode(a: Node, b: unknown): boolean {
  const text = (n: unknown) => JSON.stringify(n, (k, v: unknown) => (k === 'query_location' ? undefined : v));
  return text(a) === text(b);
}

function apply(
  select: Node,
  join: Node,
  side: 'left' | 'right',
  repeated: Scan,
  plan: StagePlan,
  policy: SqlPolicy,
): void {
  const q = repeated.qualifier;
  const unit = policy.privacyUnitColumn;
  const items: Node[] = [{ ...columnRef(q, unit), alias: unit }];
  if (plan.joinColumn !== unit) items.push({ ...columnRef(q, unit), alias: plan.joinColumn });
  for (const key of plan.keys) items.push({ ...columnRef(q, key), alias: key });
  items.push({ ...aggregate('count_star', []), alias: '__pds_w' });
  const columns = new Map<string, string>();
  const partial = (kind: 'count' | 'sum', column: string) => {
    const key = `${kind}:${column}`;
    let alias = columns.get(key);
    if (!alias) {
      alias = `__pds_${kind === 'sum' ? 's' : 'c'}${columns.size}`;
      columns.set(key, alias);
      // a person with no value has a NULL count, as a NULL sum: no contribution, as in the row form
      const value = aggregate(kind, [columnRef(q, column)]);
      items.push(kind === 'count' ? aggregate('nullif', [value, zero()], alias) : { ...value, alias });
    }
    return alias;
  };
  for (const t of plan.targets) {
    const column = t.kind === 'rows' ? '__pds_w' : partial(t.kind === 'mean' ? 'sum' : t.kind, t.column!);
    const replacement = aggregate(
      t.kind === 'mean' ? 'avg' : 'sum',
      [columnRef(q, column)],
      String(t.node.alias ?? ''),
    );
    for (const k of Object.keys(t.node)) delete t.node[k];
    Object.assign(t.node, replacement);
    if (t.kind === 'rows' || t.kind === 'count') WEIGHTED_COUNTS.add(t.node);
    if (t.kind === 'mean') MEANS.set(t.node, columnRef(q, partial('count', t.column!)));
  }
  const stage: Node = {
    type: 'SELECT_NODE',
    modifiers: [],
    cte_map: { map: [] },
    select_list: items,
    from_table: { ...repeated.node, alias: q },
    where_clause: and(plan.filters),
    group_expressions: [columnRef(q, unit), ...plan.keys.map((key) => columnRef(q, key))],
    group_sets: [[0, ...plan.keys.map((_, i) => i + 1)]],
    aggregate_handling: 'STANDARD_HANDLING',
    having: null,
    sample: null,
    qualify: null,
  };
  join[side] = {
    type: 'SUBQUERY',
    alias: q,
    sample: null,
    query_location: repeated.node.query_location,
    subquery: { node: stage, named_param_map: [] },
    column_name_alias: [],
  };
  UNIT_EQUALITIES.add(plan.equality);
  // the join keeps its unit equality; its other conditions and the WHERE's went into the stage
  join.condition = and(conjuncts(join.condition).filter((c) => !plan.filters.includes(c)));
  select.where_clause = and(conjuncts(select.where_clause).filter((c) => !plan.filters.includes(c)));
}
