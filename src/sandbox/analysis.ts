import { PdsError } from '../errors/index.ts';
import type { SqlAllowlist } from '../policies/index.ts';
import { checkAggregateRules, columnName } from './aggregate-rules.ts';
import { refuse, walk, type Node, type SqlParser } from './ast.ts';
import { checkStatistics } from './statistics.ts';
import { semiJoinFilters } from './semi-joins.ts';
import { perPersonStage, settleStage } from './per-person.ts';
import { checkBoundedCost, guardRowErrors } from './failsafe.ts';
import { checkDpFrom, checkDpPredicates } from './dp.ts';
import { checkReferences, type FunctionAllowlist, type SqlPolicy } from './references.ts';
import { addUnitsColumn, UNITS_COLUMN, type DominanceColumn, type Signature } from './units.ts';
import { rewriteDp, type DpPlan } from './dp.ts';
import { statisticIds, type StatisticIds } from './statistic-ids.ts';
import type { PerturbationSpec, Perturbed } from './perturb.ts';
import type { BoundColumn } from './binder.ts';

export interface AnalysisOptions {
  maxSqlBytes?: number;
  /** Name of the units column (aggregate mode); default UNITS_COLUMN. */
  unitsColumn?: string;
  /** How many top contributors the dominance rule weighs (n of the (n, k) rule, policies/disclosure.yaml); required in aggregate mode. */
  dominanceN?: number;
  /** Aggregate mode: how counts, sums and means are perturbed where the engine computes them. */
  perturbation?: PerturbationSpec;
  /** dp mode: contribution bounds per summed column, and the most groups one unit may count in. */
  dp?: { bounds: Record<string, [number, number]>; maxGroupsPerUnit: number; maxRowsPerUnit?: number };
  /** The snapshot's tables with their columns' types: equalities of same-typed columns join by hash, unguarded (failsafe.ts). */
  columnTypes?: Record<string, BoundColumn[]>;
}

/**
 * Static analysis of job SQL (docs/architecture.md §11), over DuckDB's own AST. The AST is rewritten where the
 * mode needs it and turned back into SQL with `json_deserialize_sql`, so the engine runs exactly
 * what was checked.
 */

export type QueryMode = 'aggregate' | 'dp' | 'custom';

export interface Analysis {
  /** The SQL the sandbox runs: the checked query, rewritten for the mode. */
  sql: string;
  mode: QueryMode;
  tables: string[];
  /** Aggregate mode: the added column holding distinct privacy units per output row. */
  unitsColumn: string | null;
  /** Aggregate mode: output positions that hold raw counts (count, count(*), count_if), for rounding. */
  countColumns?: number[];
  /** Aggregate mode: output positions of the group keys, for the differencing check. */
  keyColumns?: number[];
  /** Aggregate mode: sums and means, with the hidden columns measuring their dominance. */
  dominance?: DominanceColumn[];
  /** Aggregate mode: the hidden columns of each row's unit-set signature, for the differencing check. */
  signature?: Signature;
  /** Aggregate mode: every column the query reads (per-column minimum units, policies/disclosure.yaml). */
  readsColumns?: string[];
  /** Aggregate mode: the output positions whose counts and sums/means the engine perturbed. */
  perturbed?: Perturbed;
  /** Aggregate mode: what each column measures apart from its people, for answers from earlier cells (statistic-ids.ts). */
  statistics?: StatisticIds;
  /** dp mode: what the engine returns and how the output is made from it. */
  dp?: DpPlan;
}

export function functionAllowlist(a: SqlAllowlist): FunctionAllowlist {
  return {
    aggregates: new Set(a.aggregates),
    individualValue: new Set(a.individualValue),
    identifierAggregates: new Set(a.identifierAggregates),
    windows: new Set(a.windows),
    scalars: new Set(a.scalars),
    operators: new Set(a.operators),
  };
}

/** A table or column the policy keeps for dp mode may not appear anywhere in another mode's query. */
function checkDpOnly(root: Node, sql: string, policy: SqlPolicy, tables: string[]): void {
  const sensitive = tables.find((t) => policy.dpOnlyTables.has(t));
  if (sensitive !== undefined)
    refuse(
      'ERR_SQL_SHAPE_NOT_ALLOWED',
      'dp-only',
      { reason: 'dp-only-table', table: sensitive },
      `table ${sensitive} holds sensitive facts about people and may be analysed only in dp mode, under an ε budget`,
      undefined,
      sql,
    );
  if (policy.dpOnlyColumns.size === 0) return;
  walk(root, (n) => {
    const name = columnName(n);
    if (name !== undefined && policy.dpOnlyColumns.has(name)) {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'dp-only',
        { reason: 'dp-only-column', columnName: name },
        `column ${name} may be analysed only in dp mode, under the contract's ε budget`,
        n,
        sql,
      );
    }
    if (n.class === 'STAR' && (n.columns === true || n.expr)) {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'dp-only',
        { reason: 'dp-only-columns-star', clause: 'COLUMNS(…)' },
        'COLUMNS(…) could reach a dp-only column; name the columns',
        n,
        sql,
      );
    }
  });
}

/** The names of the columns a query reads anywhere (before the rewrite adds its own). */
function columnsRead(root: Node): string[] {
  const names = new Set<string>();
  walk(root, (n) => {
    const name = columnName(n);
    if (name !== undefined) names.add(name);
  });
  return [...names].sort();
}

/** Aggregate mode, once the references are checked: the rules, then the rewrites (units, dominance, guards). */
async function analyseAggregate(
  parser: SqlParser,
  sql: string,
  stmt: Node,
  policy: SqlPolicy,
  tables: string[],
  unitsColumn: string,
  opts: AnalysisOptions,
): Promise<Analysis> {
  if (opts.dominanceN === undefined)
    throw new TypeError(
      'analyseQuery: dominanceN is required in aggregate mode (policies/disclosure.yaml dominance.n)',
    );
  const root = stmt.node as Node;
  checkDpOnly(root, sql, policy, tables);
  const readsColumns = columnsRead(root);
  checkBoundedCost(root, sql);
  checkAggregateRules(root, sql, policy);
  checkStatistics(root, sql, policy);
  const statistics = statisticIds(root, policy);
  semiJoinFilters(root, policy);
  perPersonStage(root, policy);
  const { countColumns, keyColumns, dominance, perturbed, signature } = await addUnitsColumn(
    root,
    sql,
    policy,
    parser,
    unitsColumn,
    opts.dominanceN,
    opts.perturbation,
  );
  settleStage(root);
  await guardRowErrors(root, parser, policy, opts.columnTypes);
  return {
    sql: await parser.deserialize([stmt]),
    mode: 'aggregate',
    tables,
    unitsColumn,
    countColumns,
    keyColumns,
    dominance,
    ...(perturbed ? { perturbed } : {}),
    ...(signature ? { signature } : {}),
    ...(statistics ? { statistics } : {}),
    readsColumns,
  };
}

/** Parses, checks and rewrites one job query. */
export async function analyseQuery(
  parser: SqlParser,
  sql: string,
  mode: QueryMode,
  policy: SqlPolicy,
  opts: AnalysisOptions = {},
): Promise<Analysis> {
  const maxSqlBytes = opts.maxSqlBytes ?? 65_536;
  const unitsColumn = opts.unitsColumn ?? UNITS_COLUMN;
  if (sql.trim() === '')
    throw new PdsError('ERR_SQL_SYNTAX', 'the query is empty', { extra: { facts: { reason: 'empty' } } });
  if (Buffer.byteLength(sql) > maxSqlBytes)
    refuse(
      'ERR_SQL_SYNTAX',
      'sql-size',
      { reason: 'too-long', limit: String(maxSqlBytes) },
      `the query is longer than ${maxSqlBytes} bytes`,
    );
  const { statements } = await parser.parse(sql);
  if (statements.length !== 1)
    refuse(
      'ERR_SQL_NOT_SELECT',
      'one-select',
      { reason: 'statement-count', limit: String(statements.length) },
      `exactly one statement is allowed, got ${statements.length}`,
    );
  const stmt = statements[0]!;
  if (Object.keys((stmt.named_param_map as unknown[] | undefined) ?? []).length > 0) {
    refuse(
      'ERR_SQL_SHAPE_NOT_ALLOWED',
      'expression-kind',
      { reason: 'parameters', clause: '$1, ?' },
      'prepared-statement parameters ($1, ?) are not allowed; write the values into the query',
    );
  }
  const root = stmt.node as Node;
  const tables = checkReferences(root, sql, policy);
  switch (mode) {
    case 'custom':
      // any read-only SELECT that passed item 1; its outputs are always held for review
      checkDpOnly(root, sql, policy, tables);
      return { sql: await parser.deserialize([stmt]), mode, tables, unitsColumn: null };
    case 'aggregate':
      return analyseAggregate(parser, sql, stmt, policy, tables, unitsColumn, opts);
    case 'dp': {
      checkBoundedCost(root, sql, 'dp');
      checkDpPredicates(root, sql, policy);
      checkDpFrom(root, sql, policy);
      await guardRowErrors(root, parser, policy, opts.columnTypes);
      const { sql: rewritten, plan } = await rewriteDp(
        parser,
        root,
        sql,
        policy,
        opts.dp?.bounds ?? {},
        opts.dp?.maxGroupsPerUnit ?? 1,
        opts.dp?.maxRowsPerUnit ?? 1,
      );
      return { sql: rewritten, mode, tables, unitsColumn: null, dp: plan };
    }
    default:
      throw new PdsError('ERR_MODE_NOT_AVAILABLE', `mode ${String(mode)} is not a query mode`, {
        extra: { facts: { reason: 'mode-unknown', clause: String(mode) } },
      });
  }
}
