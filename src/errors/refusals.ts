/**
 * The facts of an SQL refusal, as machine fields (issue 33): the rule it cites, which of the
 * sandbox's refusals it is (`reason`), and what the query named (function, column, table). The API
 * sends them beside the English `detail`; src/terms renders a Chinese explanation from them, so the
 * console and the CLI never show a refusal in English only.
 */

/** The named rules a refusal cites, so operators can look them up (README, "Sandbox rules"). */
export type SqlRule =
  | 'one-select'
  | 'table-in-snapshot'
  | 'unqualified-names'
  | 'no-table-functions'
  | 'function-allowlist'
  | 'expression-kind'
  | 'reserved-names'
  | 'aggregate-outer'
  | 'identifier-only-counted'
  | 'individual-values'
  | 'no-scalar-subquery-projection'
  | 'units-traceable'
  | 'sql-size'
  | 'dp-shape'
  | 'closed-statistics'
  | 'contributors-by-filter'
  | 'dp-only'
  | 'bounded-cost';

/** Each refusal the sandbox's static analysis makes, one key for one explanation. */
export const SQL_REASONS = [
  // the statement
  'empty',
  'syntax',
  'too-long',
  'statement-count',
  'not-select',
  'parameters',
  'binding',
  'mode-unknown',
  // names and references
  'reserved-name',
  'query-kind',
  'table-qualified',
  'table-not-in-snapshot',
  'time-travel',
  'table-function',
  'from-kind',
  'expression-kind',
  'function-qualified',
  'export-state',
  'function-not-allowed',
  'operator-not-allowed',
  // dp-only data
  'dp-only-table',
  'dp-only-column',
  'dp-only-columns-star',
  // aggregate mode: identifiers and the outer query
  'alias-list',
  'identifier-outer',
  'identifier-inner',
  'identifier-renamed',
  'scalar-subquery',
  'star-outer',
  'star-alias',
  'individual-values',
  'outer-set-operation',
  'outer-union-by-name',
  'outer-not-aggregate',
  // aggregate mode: subqueries traced to privacy units
  'subquery-set-operation',
  'recursive-cte',
  'subquery-aggregate',
  'subquery-distinct',
  'subquery-window',
  // aggregate mode: bounded cost
  'join-not-equal',
  'pad-length',
  'join-using-type',
  'over-statistic',
  // aggregate mode: closed statistics
  'window-over-aggregate',
  'having-filter',
  'one-argument',
  'magnitude-distinct',
  'variance-shape',
  'extreme-not-generalized',
  'statistic-not-released',
  'quantile-shape',
  'quantile-not-noised',
  'quantile-not-central',
  'condition-with-else',
  'argument-hides-contributors',
  // dp mode
  'dp-null-test',
  'dp-filter',
  'dp-from',
  'dp-unit-kinds',
  'dp-join-condition',
  'dp-join-all',
  'dp-union',
  'dp-with',
  'dp-modifiers',
  'dp-grouping-sets',
  'dp-group-column',
  'dp-select-item',
  'dp-count',
  'dp-function',
  'dp-distinct',
  'dp-plain-column',
  'dp-bounds',
  'dp-no-statistic',
  'dp-keys',
  'dp-duplicate-names',
] as const;

export type SqlReason = (typeof SQL_REASONS)[number];

/** What a refusal names, for its Chinese explanation. Never data values: names from the query only. */
export interface RefusalFacts {
  reason: SqlReason;
  /** A function or operator the query calls. */
  function?: string;
  /** A column the query names (`column` of ErrorExtra is the position in the SQL text). */
  columnName?: string;
  table?: string;
  /** The clause or construct at fault, as SQL writes it (UNION, INTERSECT, HAVING …). */
  clause?: string;
  /** A limit the query passed (bytes, a pad length, a quantile band). */
  limit?: string;
  /** The columns a rule allows here (generalized or noised measures), when the policy names them. */
  allowed?: string[];
}
