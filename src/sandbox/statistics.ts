import { isNode, refuse, SKIP, someNode, visitAst, type Node, type Step } from './ast.ts';
import { columnName, functionName } from './aggregate-rules.ts';
import { TOTAL_FUNCTIONS } from './failsafe.ts';
import { isAggregateName, type SqlPolicy } from './references.ts';

/**
 * The statistics aggregate mode releases (docs/architecture.md §12): a small, closed list whose
 * disclosure risk is understood and which the rewrite perturbs where the engine computes them —
 * counts, distinct counts, sums, means, variances and standard deviations (from perturbed moments)
 * and central quantiles (perturbed by a fraction of the interquartile range, only of measures
 * distorted per person). Everything else is for dp or custom mode.
 *
 * A unit contributes to an aggregate only through rows it is selected by: the WHERE/JOIN and the
 * aggregate's own FILTER. A predicate inside an aggregate's argument (CASE, IF, a comparison, a
 * cast, COALESCE…) would make a unit a "contributor" whose value depends on someone else — the
 * constant-ELSE tracker — so it is refused, and the honest forms are rewritten to FILTER:
 *
 *   sum(CASE WHEN c THEN v [ELSE 0 | NULL] END)   → sum(v) FILTER (WHERE c)
 *   count(CASE WHEN c THEN v END), avg(…), mean(…) → count(v) / avg(v) FILTER (WHERE c)
 *   count_if(c)                                    → count(*) FILTER (WHERE c)
 *   sum(1)                                         → count(*)   (a count in disguise is a count)
 *
 * Extreme values (min, max) are allowed only over columns the contract generalized (a year, a
 * band): of a measure they are one person's value. HAVING compares a row's own statistics: its
 * aggregates take no FILTER. No window function runs over aggregated rows. Released column
 * names come from the operator's aliases or are neutral (`col_2`), never from query text.
 */

/** Statistics of aggregate mode, by the name DuckDB's AST gives them. */
const COUNTS = new Set(['count', 'count_star']);
const MAGNITUDES = new Set(['sum', 'avg', 'mean']);
const EXTREMES = new Set(['min', 'max']);
/** Variances and standard deviations: from perturbed moments (perturb.ts). */
export const VARIANCES = new Set(['var_samp', 'var_pop', 'variance', 'stddev', 'stddev_samp', 'stddev_pop']);
/** Quantiles: perturbed, and only central ones (an extreme quantile is an extreme value). */
export const QUANTILES = new Set(['median', 'quantile_cont', 'quantile_disc', 'quantile']);
/** The central band of quantiles aggregate mode releases. */
export const CENTRAL_QUANTILES = { low: 0.25, high: 0.75 } as const;

/** What an aggregate argument may be built from: values of one row, no condition. */
const ARITHMETIC = new Set(['+', '-', '*', '/', 'abs', 'round']);

type Clause = 'select' | 'having' | 'qualify' | 'order';

function constantValue(n: Node): { isNull: boolean; value: unknown } | undefined {
  if (n.class !== 'CONSTANT' || !isNode(n.value)) return undefined;
  return { isNull: n.value.is_null === true, value: n.value.value };
}

/** A numeric constant's value (DuckDB keeps a DECIMAL literal as an integer and its scale), or undefined. */
function numericConstant(n: Node | undefined): number | undefined {
  const c = n ? constantValue(n) : undefined;
  if (!c || c.isNull) return undefined;
  const type = isNode(n!.value) && isNode(n!.value.type) ? n!.value.type : undefined;
  const scale = type && isNode(type.type_info) ? Number(type.type_info.scale ?? 0) : 0;
  const v = typeof c.value === 'number' ? c.value : typeof c.value === 'string' ? Number(c.value) : NaN;
  return Number.isFinite(v) ? v / 10 ** scale : undefined;
}

const isNullConstant = (n: Node | undefined): boolean => n === undefined || constantValue(n)?.isNull === true;
const isZero = (n: Node | undefined): boolean => numericConstant(n) === 0;
const isOne = (n: Node | undefined): boolean => numericConstant(n) === 1;

function and(a: Node | undefined, b: Node): Node {
  return a ? { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: [a, b] } : b;
}

class Statistics {
  constructor(
    private readonly sql: string,
    private readonly policy: SqlPolicy,
  ) {}

  /** The outer query, or each branch of an outer UNION ALL. */
  outer(node: Node): void {
    if (node.type === 'SET_OPERATION_NODE') {
      this.outer(node.left as Node);
      this.outer(node.right as Node);
      return;
    }
    if (node.type !== 'SELECT_NODE') return;
    const list = node.select_list as Node[];
    list.forEach((item, i) => this.expr(item, 'select'));
    this.expr(node.having, 'having');
    this.expr(node.qualify, 'qualify');
    this.expr(node.modifiers, 'order');
    list.forEach((item, i) => {
      if (!item.alias && item.class !== 'COLUMN_REF') item.alias = `col_${i + 1}`;
    });
  }

  private expr(v: unknown, clause: Clause): void {
    visitAst(v, { enter: (n, at) => this.statistic(n, at.scope) }, clause);
  }

  /** One node of an outer clause: an aggregate is checked whole, what is over aggregates may not fail. */
  private statistic(v: Node, clause: Clause): Step<Clause> {
    if (v.class === 'SUBQUERY') return SKIP;
    if (v.class === 'WINDOW') {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'closed-statistics',
        { reason: 'window-over-aggregate', clause: 'OVER' },
        'a window function over aggregated rows moves values between cells; aggregate mode releases each cell on its own (compute shares from the released counts)',
        v,
        this.sql,
      );
    }
    if (v.class === 'FUNCTION' && !v.is_operator && isAggregateName(functionName(v), this.policy.functions)) {
      this.aggregate(v, clause);
      return SKIP; // aggregates do not nest
    }
    // over aggregates nothing may fail (TRY cannot hold an aggregate): only total functions, no cast
    if (this.overAggregate(v)) {
      if ((v.class === 'FUNCTION' && !TOTAL_FUNCTIONS.has(functionName(v))) || (v.class === 'CAST' && !v.try_cast)) {
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'bounded-cost',
          v.class === 'CAST'
            ? { reason: 'over-statistic', clause: 'CAST' }
            : { reason: 'over-statistic', function: functionName(v) },
          `${v.class === 'CAST' ? 'a cast' : `${functionName(v)}(…)`} over a statistic could fail for one person's row; combine statistics with arithmetic, round, abs, greatest, least, coalesce, CASE and comparisons (TRY_CAST for casts)`,
          v,
          this.sql,
        );
      }
    }
  }

  private aggregate(f: Node, clause: Clause): void {
    this.normalise(f);
    const name = functionName(f);
    const args = (f.children as Node[] | undefined) ?? [];
    if (clause === 'having' && f.filter) {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'closed-statistics',
        { reason: 'having-filter', function: name, clause: 'HAVING' },
        `HAVING compares a row's own statistics; ${name}(…) FILTER (…) there would test rows the output does not count`,
        f,
        this.sql,
      );
    }
    if (COUNTS.has(name)) {
      for (const a of args) this.argument(a, name);
      return;
    }
    if (MAGNITUDES.has(name)) {
      if (args.length !== 1)
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'closed-statistics',
          { reason: 'one-argument', function: name },
          `${name} takes one argument in aggregate mode`,
          f,
          this.sql,
        );
      if (f.distinct)
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'closed-statistics',
          { reason: 'magnitude-distinct', function: name },
          `${name}(DISTINCT …) weighs values, not people; use ${name}(…) or count(DISTINCT …)`,
          f,
          this.sql,
        );
      this.argument(args[0]!, name);
      return;
    }
    if (VARIANCES.has(name)) {
      if (args.length !== 1 || f.distinct)
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'closed-statistics',
          { reason: 'variance-shape', function: name },
          `${name} takes one argument, without DISTINCT, in aggregate mode`,
          f,
          this.sql,
        );
      this.argument(args[0]!, name);
      return;
    }
    if (QUANTILES.has(name)) {
      this.quantile(f, name, args);
      return;
    }
    if (EXTREMES.has(name)) {
      const col = args.length === 1 ? columnName(args[0]!) : undefined;
      if (col !== undefined && this.policy.generalizedColumns.has(col)) return;
      refuse(
        'ERR_SQL_FUNCTION_NOT_ALLOWED',
        'closed-statistics',
        { reason: 'extreme-not-generalized', function: name, allowed: [...this.policy.generalizedColumns] },
        `${name}(…) of a measure is one person's exact value; aggregate mode allows it only over a column the contract generalizes (${[...this.policy.generalizedColumns].join(', ') || 'none here'}); use dp or custom mode`,
        f,
        this.sql,
      );
    }
    refuse(
      'ERR_SQL_FUNCTION_NOT_ALLOWED',
      'closed-statistics',
      { reason: 'statistic-not-released', function: name },
      `aggregate mode releases count, count(DISTINCT …), sum, avg, variances, standard deviations and central quantiles, each perturbed; ${name} is for dp or custom mode`,
      f,
      this.sql,
    );
  }

  /**
   * A central quantile of a measure whose values are distorted per person: a quantile is some
   * person's value, so of an exact measure it would be one person's exact value.
   */
  private quantile(f: Node, name: string, args: Node[]): void {
    const [x, p] = args;
    const col = x ? columnName(x) : undefined;
    const expected = name === 'median' ? 1 : 2;
    if (args.length !== expected || f.distinct || col === undefined) {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'closed-statistics',
        { reason: 'quantile-shape', function: name },
        `${name} takes a column${name === 'median' ? '' : ' and one constant fraction'}, without DISTINCT, in aggregate mode`,
        f,
        this.sql,
      );
    }
    if (!this.policy.noisedColumns.has(col)) {
      refuse(
        'ERR_SQL_FUNCTION_NOT_ALLOWED',
        'closed-statistics',
        { reason: 'quantile-not-noised', function: name, columnName: col, allowed: [...this.policy.noisedColumns] },
        `${name}(${col}) would be one person's exact value: aggregate mode allows quantiles only of measures distorted per person by the noise rule (${[...this.policy.noisedColumns].join(', ') || 'none here'}); of a generalized column use min/max`,
        f,
        this.sql,
      );
    }
    if (p) {
      const q = numericConstant(p);
      if (q === undefined || q < CENTRAL_QUANTILES.low || q > CENTRAL_QUANTILES.high) {
        refuse(
          'ERR_SQL_FUNCTION_NOT_ALLOWED',
          'closed-statistics',
          {
            reason: 'quantile-not-central',
            function: name,
            limit: `${CENTRAL_QUANTILES.low}–${CENTRAL_QUANTILES.high}`,
          },
          `${name}(…, p) needs a constant p between ${CENTRAL_QUANTILES.low} and ${CENTRAL_QUANTILES.high}: quantiles outside the central band are extreme values`,
          p,
          this.sql,
        );
      }
    }
  }

  private overAggregate(v: Node): boolean {
    // below v, not v itself
    return someNode(
      Object.values(v),
      (x) => x.class === 'FUNCTION' && !x.is_operator && isAggregateName(functionName(x), this.policy.functions),
      (x) => x.class === 'SUBQUERY',
    );
  }

  /** Rewrites the honest conditional forms to FILTER, in place (see the file comment). */
  private normalise(f: Node): void {
    const name = functionName(f);
    const args = (f.children as Node[] | undefined) ?? [];
    if ((name === 'count_if' || name === 'countif') && args.length === 1) {
      f.function_name = 'count_star';
      f.children = [];
      f.filter = and(f.filter as Node | undefined, args[0]!);
      return;
    }
    const [arg] = args;
    if (args.length !== 1 || !arg) return;
    const conditional = COUNTS.has(name) || MAGNITUDES.has(name) ? this.conditional(arg) : undefined;
    if (conditional && !f.distinct) {
      const { when, then, otherwise } = conditional;
      const elseAllowed = isNullConstant(otherwise) || (name === 'sum' && isZero(otherwise));
      if (elseAllowed) {
        f.children = [then];
        f.filter = and(f.filter as Node | undefined, when);
      } else {
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'contributors-by-filter',
          { reason: 'condition-with-else', function: name, clause: 'ELSE' },
          `a condition inside ${name}(…) with an ELSE value makes everyone a contributor; write ${name}(value) FILTER (WHERE condition)`,
          arg,
          this.sql,
        );
      }
    }
    // a count in disguise is a count: sum(1) counts the rows it is given
    const [now] = (f.children as Node[] | undefined) ?? [];
    if (name === 'sum' && isOne(now)) {
      f.function_name = 'count_star';
      f.children = [];
    }
  }

  /** CASE WHEN c THEN v [ELSE e] END or if(c, v[, e]) with one branch. */
  private conditional(n: Node): { when: Node; then: Node; otherwise: Node | undefined } | undefined {
    if (n.class === 'CASE') {
      const checks = n.case_checks as { when_expr: Node; then_expr: Node }[];
      if (checks.length !== 1) return undefined;
      return { when: checks[0]!.when_expr, then: checks[0]!.then_expr, otherwise: n.else_expr as Node | undefined };
    }
    if (n.class === 'FUNCTION' && functionName(n) === 'if') {
      const [when, then, otherwise] = n.children as Node[];
      if (when && then) return { when, then, otherwise };
    }
    return undefined;
  }

  /** An aggregate's argument: columns, constants and arithmetic of one row; no condition. */
  private argument(n: Node, aggregate: string): void {
    const visit = (v: Node): void => {
      switch (v.class) {
        case 'COLUMN_REF':
        case 'CONSTANT':
        case 'STAR':
          return;
        case 'FUNCTION':
          if (ARITHMETIC.has(functionName(v))) {
            for (const c of (v.children as Node[]) ?? []) visit(c);
            return;
          }
          break;
      }
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'contributors-by-filter',
        { reason: 'argument-hides-contributors', function: aggregate },
        `the argument of ${aggregate}(…) may be a column or arithmetic on columns; a condition, cast or function there hides who contributes — filter rows with ${aggregate}(…) FILTER (WHERE …) or WHERE`,
        v,
        this.sql,
      );
    };
    visit(n);
  }
}

/** Checks and normalises the outer statistics of an aggregate-mode query, in place. */
export function checkStatistics(root: Node, sql: string, policy: SqlPolicy): void {
  new Statistics(sql, policy).outer(root);
}
