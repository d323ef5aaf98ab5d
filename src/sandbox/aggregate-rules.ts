import { refuse, SKIP, someNode, visitAst, type Node, type Visit, type Visitor } from './ast.ts';
import { isAggregateName, type SqlPolicy } from './references.ts';

/**
 * Item 2 of the sandbox rules, aggregate mode: what may be done with identifiers and individual
 * values anywhere in the query. The units rewrite (units.ts) then makes every released row carry
 * the number of people or enterprises behind it.
 *
 * Identifier columns (the privacy unit and pseudonyms) may be: counted; compared in a filter
 * (WHERE, ON, HAVING, QUALIFY); used to order or partition; and, below the outer query, projected
 * or grouped on *under their own name*, so the rules keep seeing them one level up. Anything else
 * (min/max of a pseudonym, a renamed or transformed pseudonym, a pseudonym in the outer result)
 * would carry a person out.
 */

type Context = 'outer-projection' | 'outer-group' | 'projection' | 'group' | 'filter' | 'order';

/** Where the rules stand in an expression: the clause, whether rows are one unit's own, bare, counted. */
interface Where {
  ctx: Context;
  perUnit: boolean;
  bare: boolean;
  counted: boolean;
}

export function columnName(n: Node): string | undefined {
  if (n.class !== 'COLUMN_REF' || !Array.isArray(n.column_names)) return undefined;
  return String(n.column_names[n.column_names.length - 1]).toLowerCase();
}

export function functionName(n: Node): string {
  return String(n.function_name).toLowerCase();
}

/** True when a SELECT groups by the privacy unit itself: each of its rows is one unit's own data. */
export function groupsByUnit(select: Node, policy: SqlPolicy): boolean {
  const groups = (select.group_expressions as Node[] | undefined) ?? [];
  const sets = (select.group_sets as unknown[] | undefined) ?? [];
  return sets.length <= 1 && groups.some((g) => columnName(g) === policy.privacyUnitColumn);
}

/** True when a SELECT aggregates: GROUP BY, or an aggregate function of its own (not of a subquery). */
export function aggregates(select: Node, policy: SqlPolicy): boolean {
  if (((select.group_expressions as Node[] | undefined) ?? []).length > 0) return true;
  return someNode(
    [select.select_list, select.having],
    (n) => n.class === 'FUNCTION' && !n.is_operator && isAggregateName(functionName(n), policy.functions),
    (n) => n.class === 'SUBQUERY' || n.class === 'WINDOW',
  );
}

class AggregateRules {
  constructor(
    private readonly sql: string,
    private readonly policy: SqlPolicy,
  ) {}

  query(node: Node, outer: boolean): void {
    for (const entry of ((node.cte_map as Node | undefined)?.map as Node[] | undefined) ?? []) {
      this.query(((entry.value as Node).query as Node).node as Node, false);
    }
    if (node.type === 'SET_OPERATION_NODE' || node.type === 'RECURSIVE_CTE_NODE') {
      this.query(node.left as Node, outer);
      this.query(node.right as Node, outer);
      this.expr(node.modifiers, 'order', false, false);
      return;
    }
    this.select(node, outer);
  }

  private select(s: Node, outer: boolean): void {
    const perUnit = !outer && groupsByUnit(s, this.policy);
    this.from(s.from_table as Node);
    for (const item of s.select_list as Node[]) {
      this.expr(item, outer ? 'outer-projection' : 'projection', perUnit, true);
    }
    for (const g of (s.group_expressions as Node[] | undefined) ?? [])
      this.expr(g, outer ? 'outer-group' : 'group', perUnit, true);
    this.expr(s.where_clause, 'filter', perUnit, false);
    this.expr(s.having, 'filter', perUnit, false);
    this.expr(s.qualify, 'filter', perUnit, false);
    this.expr(s.modifiers, 'order', perUnit, false);
  }

  private from(ref: Node | undefined): void {
    if (!ref) return;
    if (ref.type === 'JOIN') {
      this.from(ref.left as Node);
      this.from(ref.right as Node);
      this.expr(ref.condition, 'filter', false, false);
    } else if (ref.type === 'SUBQUERY') {
      this.query((ref.subquery as Node).node as Node, false);
    }
    if ((ref.column_name_alias as unknown[] | undefined)?.length && ref.type === 'BASE_TABLE') {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'identifier-only-counted',
        { reason: 'alias-list', table: String(ref.table_name) },
        'column alias lists on snapshot tables are not allowed in aggregate mode (they could rename an identifier); rename columns in the SELECT list',
        ref,
        this.sql,
      );
    }
  }

  private isIdentifier(n: Node): boolean {
    const c = columnName(n);
    return c !== undefined && this.policy.identifierColumns.has(c);
  }

  /**
   * Walks one expression. `bare` is true while the node is the whole select item or group key;
   * `counted` is true inside an identifier aggregate (count).
   */
  private expr(v: unknown, ctx: Context, perUnit: boolean, bare: boolean, counted = false): void {
    visitAst(v, this.visitor, { ctx, perUnit, bare, counted });
  }

  /** Below any node, nothing is bare; the handlers that skip visit the children they check themselves. */
  private readonly visitor: Visitor<Where> = {
    enter: (_n, at) => ({ scope: { ...at.scope, bare: false } }),
    expression: {
      COLUMN_REF: (n, at) => {
        this.columnRef(n, at.scope);
        return SKIP;
      },
      SUBQUERY: (n, at) => {
        const { ctx } = at.scope;
        if (n.subquery_type === 'SCALAR' && ctx !== 'filter' && ctx !== 'order') {
          refuse(
            'ERR_SQL_SHAPE_NOT_ALLOWED',
            'no-scalar-subquery-projection',
            { reason: 'scalar-subquery' },
            'a scalar subquery in a SELECT list or GROUP BY is not allowed in aggregate mode: its value would not be counted by privacy units; join the table instead',
            n,
            this.sql,
          );
        }
        this.query((n.subquery as Node).node as Node, false);
        at.visit(n.child, { ...at.scope, bare: false });
        return SKIP;
      },
      STAR: (n, at) => {
        this.star(n, at);
        return SKIP;
      },
      FUNCTION: (n, at) => {
        const { counted, perUnit } = at.scope;
        const name = functionName(n);
        const f = this.policy.functions;
        if (f.individualValue.has(name) && !perUnit) {
          refuse(
            'ERR_SQL_FUNCTION_NOT_ALLOWED',
            'individual-values',
            { reason: 'individual-values', function: name, columnName: this.policy.privacyUnitColumn },
            `${name} returns individual values; aggregate mode releases statistics only (allowed inside a subquery grouped by ${this.policy.privacyUnitColumn}, or in custom mode with review)`,
            n,
            this.sql,
          );
        }
        const inCount = counted || (!n.is_operator && f.identifierAggregates.has(name));
        at.visit(n.children, { ...at.scope, bare: false, counted: inCount });
        at.visit(n.filter, { ctx: 'filter', perUnit, bare: false, counted: false });
        at.visit(n.order_bys, { ctx: 'order', perUnit, bare: false, counted: false });
        return SKIP;
      },
      WINDOW: (n, at) => {
        const { counted, perUnit } = at.scope;
        const inCount = counted || this.policy.functions.identifierAggregates.has(functionName(n));
        at.visit(n.children, { ...at.scope, bare: false, counted: inCount });
        at.visit(n.partitions, { ctx: 'order', perUnit, bare: false, counted: false });
        at.visit(n.orders, { ctx: 'order', perUnit, bare: false, counted: false });
        at.visit(n.filter_expr, { ctx: 'filter', perUnit, bare: false, counted: false });
        for (const k of ['start_expr', 'end_expr', 'offset_expr', 'default_expr'])
          at.visit(n[k], { ...at.scope, bare: false });
        return SKIP;
      },
    },
  };

  private columnRef(n: Node, { ctx, bare, counted }: Where): void {
    if (!this.isIdentifier(n) || counted || ctx === 'filter' || ctx === 'order') return;
    const name = columnName(n)!;
    const ownName = !n.alias || String(n.alias).toLowerCase() === name;
    if (bare && ownName && (ctx === 'projection' || ctx === 'group')) return;
    refuse(
      'ERR_SQL_SHAPE_NOT_ALLOWED',
      'identifier-only-counted',
      { reason: ctx.startsWith('outer') ? 'identifier-outer' : 'identifier-inner', columnName: name },
      ctx.startsWith('outer')
        ? `identifier column ${name} may only be counted in the outer query (count(DISTINCT ${name})); grouping on it or returning it releases one row per person`
        : `identifier column ${name} may only be counted, compared in a filter, or passed on under its own name`,
      n,
      this.sql,
    );
  }

  private star(n: Node, at: Visit<Where>): void {
    const { ctx } = at.scope;
    if (ctx === 'outer-projection' || ctx === 'outer-group') {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'aggregate-outer',
        { reason: 'star-outer', clause: '*' },
        'aggregate mode cannot use * or COLUMNS(...) in the outer query (it would reach identifier columns unseen); name the columns',
        n,
        this.sql,
      );
    }
    for (const r of (n.rename_list as Node[] | undefined) ?? []) {
      const col = String((r.key as Node).column).toLowerCase();
      if (this.policy.identifierColumns.has(col))
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'identifier-only-counted',
          { reason: 'identifier-renamed', columnName: col },
          `identifier column ${col} cannot be renamed`,
          n,
          this.sql,
        );
    }
    for (const r of (n.replace_list as Node[] | undefined) ?? []) {
      const value = r.value as Node;
      const ownName = String(r.key).toLowerCase() === columnName(value);
      at.visit(value, { ...at.scope, bare: ownName });
    }
    if (n.alias && ctx !== 'filter')
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'identifier-only-counted',
        { reason: 'star-alias', clause: '*' },
        '* and COLUMNS(...) cannot be aliased in aggregate mode',
        n,
        this.sql,
      );
  }
}

/** Checks the aggregate-mode rules on the outer query (or each branch of an outer UNION ALL). */
export function checkAggregateRules(root: Node, sql: string, policy: SqlPolicy): void {
  new AggregateRules(sql, policy).query(root, true);
}
