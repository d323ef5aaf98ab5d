import { isNode, walk, type Node } from './ast.ts';
import type { SqlPolicy } from './references.ts';

/**
 * What the join rewrites (semi-joins.ts, per-person.ts) read of an outer SELECT: its inner joins
 * of direct snapshot scans, and which scan each column reference reads.
 */

export interface Scan {
  node: Node;
  table: string;
  /** The name its columns are qualified with (its alias, else its table), lower case. */
  qualifier: string;
}

/** The conjuncts of a condition's top-level AND. */
export function conjuncts(n: unknown): Node[] {
  if (!isNode(n)) return [];
  return n.type === 'CONJUNCTION_AND' ? (n.children as Node[]).flatMap(conjuncts) : [n];
}

/**
 * Columns a WHERE fixes to one value: `c = '…'` among its top-level AND, with a text literal (cast
 * to the column's type, never the column to the literal's: two values cannot meet one literal).
 */
export function fixedColumns(where: unknown): Node[] {
  const text = (n: Node | undefined) => {
    const v = n?.value as { type?: { id?: string }; is_null?: boolean } | undefined;
    return n?.class === 'CONSTANT' && v?.type?.id === 'VARCHAR' && v.is_null === false;
  };
  return conjuncts(where).flatMap((c) => {
    if (c.type !== 'COMPARE_EQUAL') return [];
    const [l, r] = [c.left as Node | undefined, c.right as Node | undefined];
    if (l?.class === 'COLUMN_REF' && text(r)) return [l];
    if (r?.class === 'COLUMN_REF' && text(l)) return [r];
    return [];
  });
}

/** The AND of conditions; null for none. */
export function and(list: Node[]): Node | null {
  if (list.length === 0) return null;
  return list.length === 1 ? list[0]! : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: list };
}

/**
 * The joins and scans of a SELECT whose FROM is inner joins (ON, not USING) of snapshot tables
 * read directly, each under its own name and none by a CTE's name (`ctes`: cteNamesIn the whole
 * statement); undefined for any other FROM.
 */
export function innerJoinScans(
  select: Node,
  policy: SqlPolicy,
  ctes: ReadonlySet<string>,
): { joins: Node[]; scans: Scan[] } | undefined {
  // a sample draws other rows from other plans: the rewrite would change the answer
  if (!isNode(select.from_table) || select.from_table.type !== 'JOIN' || isNode(select.sample)) return undefined;
  const joins: Node[] = [];
  const scans: Scan[] = [];
  const collect = (ref: Node): boolean => {
    if (ref.type === 'JOIN') {
      if (ref.join_type !== 'INNER' || ref.ref_type !== 'REGULAR' || ((ref.using_columns as unknown[]) ?? []).length)
        return false;
      joins.push(ref);
      return collect(ref.left as Node) && collect(ref.right as Node);
    }
    if (ref.type !== 'BASE_TABLE' || ref.schema_name || ref.catalog_name) return false;
    const table = String(ref.table_name).toLowerCase();
    if (!(table in policy.tables) || ctes.has(table)) return false;
    scans.push({ node: ref, table, qualifier: String(ref.alias || ref.table_name).toLowerCase() });
    return true;
  };
  if (!collect(select.from_table)) return undefined;
  if (new Set(scans.map((s) => s.qualifier)).size !== scans.length) return undefined;
  return { joins, scans };
}

/**
 * Names of every CTE anywhere in a statement (on a SELECT, on an outer UNION, in a subquery): a
 * table reference by such a name may be the CTE, not the snapshot table.
 */
export function cteNamesIn(root: unknown): Set<string> {
  const names = new Set<string>();
  walk(root, (n) => {
    for (const entry of ((n.cte_map as Node | undefined)?.map as Node[] | undefined) ?? [])
      names.add(String(entry.key).toLowerCase());
  });
  return names;
}

/** Which scan a column reference reads: by its qualifier, or, unqualified, the one scan with that column. */
export function scanOf(ref: Node, scans: Scan[], policy: SqlPolicy): Scan | undefined | 'unknown' {
  const names = (ref.column_names as string[]).map((n) => n.toLowerCase());
  if (names.length === 2) return scans.find((s) => s.qualifier === names[0]) ?? 'unknown';
  if (names.length !== 1) return 'unknown';
  const having = scans.filter((s) => policy.tables[s.table]?.includes(names[0]!));
  return having.length === 1 ? having[0] : having.length === 0 ? undefined : 'unknown';
}

/** The scans a part of the query reads columns of; 'unknown' for a reference it cannot place. */
export function readsOf(part: unknown, scans: Scan[], policy: SqlPolicy): Set<Scan | 'unknown'> {
  const found = new Set<Scan | 'unknown'>();
  walk(part, (n) => {
    if (n.class === 'STAR') found.add('unknown');
    if (n.class === 'SUBQUERY') {
      // a correlated reference could read any table: a subquery naming one of ours is not placed
      walk(n, (m) => {
        if (m.class === 'COLUMN_REF' && scanOf(m, scans, policy) !== undefined) found.add('unknown');
      });
      return false;
    }
    if (n.class === 'COLUMN_REF') {
      const s = scanOf(n, scans, policy);
      if (s) found.add(s);
    }
  });
  return found;
}

/** Whether a column reference is `scan`'s unit (its pseudonym, under either name). */
export function isUnitOf(ref: Node, scan: Scan, scans: Scan[], policy: SqlPolicy): boolean {
  return (
    ref.class === 'COLUMN_REF' &&
    scanOf(ref, scans, policy) === scan &&
    [policy.privacyUnitColumn, ...(policy.unitAliases.get(scan.table) ?? [])].includes(
      String((ref.column_names as string[]).at(-1)).toLowerCase(),
    )
  );
}

/** The join conditions of a FROM other than `except`'s. */
export function otherJoinConditions(from: unknown, except: Node): Node[] {
  const out: Node[] = [];
  walk(from, (n) => {
    if (n.type === 'JOIN' && n !== except) out.push(n.condition as Node);
  });
  return out;
}
