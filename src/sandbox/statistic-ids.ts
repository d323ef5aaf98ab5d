import { createHash } from 'node:crypto';
import { isNode, type Node } from './ast.ts';
import { aggregates } from './aggregate-rules.ts';
import { conjuncts, cteNamesIn, innerJoinScans, readsOf, type Scan } from './join-scans.ts';
import type { SqlPolicy } from './references.ts';

/**
 * What each output column of an aggregate-mode query measures, apart from which people it
 * measures (docs/architecture.md §12, issue 31). The release decision answers a cell whose people
 * are the same as, or within two people of, an earlier cell's with that cell's answer wherever the
 * two columns have one identity — so a set and the set less one person never give two answers of
 * one statistic to subtract, and the answer does not depend on whether that person was there.
 *
 * The identity is the statistic's text with the query's FROM and every WHERE condition and group
 * key that selects rows rather than people: a condition on a table with one row per person only
 * chooses people (the cell's set says which), one on a table of events or records chooses what is
 * counted of them. Where the FROM is more than inner joins of snapshot tables, every condition
 * and key counts (identical queries only).
 */

export interface StatisticIds {
  /** Per output position (before the rewrite adds columns): the identity, null for a group key. */
  ids: (string | null)[];
  /** Output positions of group keys that select rows, not people: a cell matches only with their values equal. */
  rowKeys: number[];
}

const canonical = (v: unknown): string =>
  JSON.stringify(v, (k, x: unknown) => {
    if (k === 'query_location' || k === 'alias') return undefined;
    if (isNode(x) && x.class === 'COLUMN_REF' && Array.isArray(x.column_names))
      return { ...x, column_names: (x.column_names as string[]).map((n) => n.toLowerCase()) };
    return x;
  });

export function statisticIds(root: Node, policy: SqlPolicy): StatisticIds | undefined {
  if (root.type !== 'SELECT_NODE' || !aggregates(root, policy)) return undefined;
  const list = (root.select_list as Node[]) ?? [];
  const joined = innerJoinScans(root, policy, cteNamesIn(root));
  const from = root.from_table as Node;
  const scans: Scan[] | undefined =
    joined?.scans ??
    (isNode(from) &&
    from.type === 'BASE_TABLE' &&
    !from.schema_name &&
    !cteNamesIn(root).has(String(from.table_name).toLowerCase())
      ? [
          {
            node: from,
            table: String(from.table_name).toLowerCase(),
            qualifier: String(from.alias || from.table_name).toLowerCase(),
          },
        ]
      : undefined);
  // a part selects only people when everything it reads is a table with one row per person
  const selectsPeople = (part: unknown): boolean => {
    if (!scans || isNode(root.sample)) return false;
    const reads = readsOf(part, scans, policy);
    return [...reads].every((s) => s !== 'unknown' && policy.uniqueUnitTables.has(s.table));
  };
  const rowConditions = conjuncts(root.where_clause).filter((c) => !selectsPeople(c));
  const groups = ((root.group_expressions as Node[]) ?? []).filter((g) => !selectsPeople(g));
  const context = canonical([from, rowConditions, groups, root.having ?? null, root.qualify ?? null]);
  const keyAt = (item: Node) => !aggregates({ select_list: [item] }, policy);
  const ids = list.map((item) =>
    keyAt(item)
      ? null
      : createHash('sha256')
          .update(canonical(item) + '\u0000' + context)
          .digest('base64url')
          .slice(0, 22),
  );
  const rowKeys = list.flatMap((item, i) => (keyAt(item) && !selectsPeople(item) ? [i] : []));
  return { ids, rowKeys };
}
