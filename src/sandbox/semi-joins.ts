import { isNode, walk, type Node } from './ast.ts';
import {
  and,
  cteNamesIn,
  conjuncts,
  innerJoinScans,
  isUnitOf,
  otherJoinConditions,
  readsOf,
  type Scan,
} from './join-scans.ts';
import { functionName } from './aggregate-rules.ts';
import { isAggregateName, type SqlPolicy } from './references.ts';

/**
 * Joins that only filter people become semi joins (docs/architecture.md §17, "Joins").
 *
 * `SELECT p.district, count(DISTINCT p.id_number) FROM population p JOIN medical_visit m ON
 * p.id_number = m.id_number WHERE m.hospital = '…' GROUP BY 1` asks which residents visited;
 * the join repeats each resident once per visit, and every statistic then has to count each
 * person once again (a distinct table the size of the join). When the visits table is used for
 * nothing but that — joined on its unit to another table's unit, its columns read only by WHERE
 * conditions of its own, and every statistic of the query blind to repetition (count(DISTINCT …),
 * min, max) — the same rows are `population p SEMI JOIN medical_visit m ON p.id_number =
 * m.id_number AND m.hospital = '…'`: each resident once, the very same people in every cell, so
 * the very same units, cell keys and signatures; only no row is repeated.
 *
 * Only joins on units qualify: the joined table's people are then the other table's, row for row,
 * so dropping its units from the count loses no one. A join on another column (firms on their
 * legal representative) keeps both tables' people counted, as before.
 */

const BLIND_TO_REPETITION = new Set(['min', 'max']);

/** Rewrites each qualifying join of the outer SELECT (or of each branch of an outer UNION) in place. */
export function semiJoinFilters(root: Node, policy: SqlPolicy, ctes: ReadonlySet<string> = cteNamesIn(root)): void {
  if (root.type === 'SET_OPERATION_NODE') {
    semiJoinFilters(root.left as Node, policy, ctes);
    semiJoinFilters(root.right as Node, policy, ctes);
    return;
  }
  if (root.type !== 'SELECT_NODE') return;
  // one table at a time: after one becomes a filter, the next is judged on the query as it is then
  for (let changed = true; changed;) changed = rewriteOne(root, policy, ctes);
}

function rewriteOne(select: Node, policy: SqlPolicy, ctes: ReadonlySet<string>): boolean {
  if (!blindToRepetition(select, policy)) return false;
  const found = innerJoinScans(select, policy, ctes);
  if (!found) return false;
  const { joins, scans } = found;
  for (const join of joins) {
    for (const side of ['right', 'left'] as const) {
      const leaf = join[side] as Node;
      if (leaf.type !== 'BASE_TABLE') continue;
      const filter = scans.find((s) => s.node === leaf)!;
      const others = scans.filter((s) => s !== filter);
      const moved = whereConjunctsOf(select, filter, others, policy);
      if (
        !moved ||
        !onUnits(join, filter, others, policy) ||
        usedElsewhere(select, join, moved, filter, others, policy)
      )
        continue;
      // the kept side on the left: a semi join returns its left side's rows
      if (side === 'left') [join.left, join.right] = [join.right, join.left];
      join.join_type = 'SEMI';
      const on = [...conjuncts(join.condition as Node), ...moved];
      join.condition =
        on.length === 1 ? on[0] : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: on };
      const rest = conjuncts(select.where_clause as Node | undefined).filter((c) => !moved.includes(c));
      select.where_clause =
        rest.length === 0
          ? null
          : rest.length === 1
            ? rest[0]
            : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: rest };
      return true;
    }
  }
  return false;
}

/** Every aggregate of the SELECT counts each value once however often it repeats, and none has a FILTER. */
function blindToRepetition(select: Node, policy: SqlPolicy): boolean {
  let blind = true;
  let any = false;
  for (const part of [select.select_list, select.having, select.qualify, select.modifiers]) {
    walk(part, (n) => {
      if (n.class === 'SUBQUERY' || n.class === 'WINDOW') {
        blind = false;
        return false;
      }
      if (n.class === 'FUNCTION' && !n.is_operator && isAggregateName(functionName(n), policy.functions)) {
        any = true;
        const name = functionName(n);
        if (isNode(n.filter) || !((name === 'count' && n.distinct === true) || BLIND_TO_REPETITION.has(name)))
          blind = false;
        return false;
      }
    });
  }
  return blind && any;
}

/** The WHERE conjuncts reading the filter table, when each reads it alone; undefined when one reads it with others. */
function whereConjunctsOf(select: Node, filter: Scan, others: Scan[], policy: SqlPolicy): Node[] | undefined {
  const all = [filter, ...others];
  const moved: Node[] = [];
  for (const c of conjuncts(select.where_clause)) {
    const reads = readsOf(c, all, policy);
    if (!reads.has(filter)) {
      if (reads.has('unknown')) return undefined;
      continue;
    }
    if (reads.size !== 1) return undefined;
    moved.push(c);
  }
  return moved;
}

/** Whether the join's condition equates the filter table's unit with another scan's unit. */
function onUnits(join: Node, filter: Scan, others: Scan[], policy: SqlPolicy): boolean {
  const all = [filter, ...others];
  return conjuncts(join.condition).some(
    (c) =>
      c.type === 'COMPARE_EQUAL' &&
      ((isUnitOf(c.left as Node, filter, all, policy) &&
        others.some((o) => isUnitOf(c.right as Node, o, all, policy))) ||
        (isUnitOf(c.right as Node, filter, all, policy) &&
          others.some((o) => isUnitOf(c.left as Node, o, all, policy)))),
  );
}

/** Whether anything but its own join's condition and the moved conjuncts reads the filter table. */
function usedElsewhere(
  select: Node,
  join: Node,
  moved: Node[],
  filter: Scan,
  others: Scan[],
  policy: SqlPolicy,
): boolean {
  const all = [filter, ...others];
  const reads = (part: unknown) => {
    const r = readsOf(part, all, policy);
    return r.has(filter) || r.has('unknown');
  };
  const rest = conjuncts(select.where_clause).filter((c) => !moved.includes(c));
  const otherJoins = otherJoinConditions(select.from_table, join);
  // the join's own condition may read both sides; its other conjuncts stay with it
  return [
    select.select_list,
    select.group_expressions,
    select.group_sets,
    select.having,
    select.qualify,
    select.modifiers,
    rest,
    otherJoins,
  ].some(reads);
}
