import { PdsError, type FieldIssue } from '../errors/index.ts';
import type { DatasetGrant } from '../masking/index.ts';
import type { DisclosurePolicy } from '../policies/index.ts';
import type { QueryMode } from '../sandbox/index.ts';

/** The terms a contract is signed with. */
export interface Terms {
  termMonths: number;
  minUnits: number;
  maxRows: number;
  /** dp mode only: the ε budget over the whole term, and the most one query may spend. */
  epsilon: number | null;
  epsilonPerQuery: number | null;
}

export interface AskedTerms extends Partial<Record<keyof Terms, number>> {
  /** Per dataset, the columns to keep: a subset of those applied for. */
  columns?: Record<string, string[]>;
}

/** A bound term's checker: a value past its limit is named in `issues`; no value is the base. */
function bounder(issues: FieldIssue[]) {
  return (
    field: keyof Terms,
    value: number | undefined,
    base: number,
    limit: { max?: number; min?: number },
    why: string,
  ): number => {
    if (value === undefined) return base;
    if ((limit.max !== undefined && value > limit.max) || (limit.min !== undefined && value < limit.min)) {
      issues.push({
        field: `/body/terms/${field}`,
        message: `${value} ${limit.max !== undefined ? `exceeds ${limit.max}` : `is below ${limit.min}`} (${why})`,
      });
    }
    return value;
  };
}

/** The grants with only the columns `asked` keeps of each dataset it names. */
function keptColumns(grants: DatasetGrant[], asked: Record<string, string[]>, issues: FieldIssue[]): DatasetGrant[] {
  for (const ds of Object.keys(asked)) {
    if (!grants.some((g) => g.dataset === ds))
      issues.push({ field: `/body/terms/columns/${ds}`, message: 'dataset is not in the application' });
  }
  return grants.map((g) => {
    const keep = asked[g.dataset];
    if (!keep) return g;
    const granted = new Set(g.columns.map((c) => c.column));
    for (const c of keep)
      if (!granted.has(c))
        issues.push({ field: `/body/terms/columns/${g.dataset}`, message: `column ${c} was not applied for` });
    if (keep.length === 0)
      issues.push({
        field: `/body/terms/columns/${g.dataset}`,
        message: 'keep at least one column, or reject the application',
      });
    return { ...g, columns: g.columns.filter((c) => keep.includes(c.column)) };
  });
}

/**
 * The terms of a new contract: the application's request and the policy defaults, tightened by
 * the bureau. The bureau may shorten the term, drop columns, raise k, lower the row cap and ε —
 * within the policy's floors and ceilings (docs/architecture.md §13) — but never give more than was applied for
 * or than policy allows. Every violation is named with its field.
 */
export function tightenTerms(
  policy: DisclosurePolicy,
  app: { mode: QueryMode; termMonths: number; grants: DatasetGrant[] },
  asked: AskedTerms = {},
): { terms: Terms; grants: DatasetGrant[] } {
  const issues: FieldIssue[] = [];
  const bound = bounder(issues);
  const dp = app.mode === 'dp';
  if (!dp && (asked.epsilon !== undefined || asked.epsilonPerQuery !== undefined)) {
    issues.push({
      field: '/body/terms/epsilon',
      message: `only a dp-mode contract has a privacy budget; this one is ${app.mode}`,
    });
  }
  const termMonths = bound(
    'termMonths',
    asked.termMonths,
    app.termMonths,
    { max: app.termMonths },
    'the term applied for',
  );
  const minUnits = bound(
    'minUnits',
    asked.minUnits,
    policy.minUnits.default,
    { min: policy.minUnits.floor },
    'the policy floor',
  );
  const maxRows = bound(
    'maxRows',
    asked.maxRows,
    policy.maxRows.default,
    { max: policy.maxRows.ceiling },
    'the policy ceiling',
  );
  const epsilon = dp
    ? bound(
        'epsilon',
        asked.epsilon,
        policy.dp.epsilonPerTerm.default,
        { max: policy.dp.epsilonPerTerm.ceiling },
        'the policy ceiling',
      )
    : null;
  let epsilonPerQuery: number | null = null;
  if (dp) {
    const cap = Math.min(policy.dp.epsilonPerQuery.ceiling, epsilon!);
    epsilonPerQuery = bound(
      'epsilonPerQuery',
      asked.epsilonPerQuery,
      Math.min(policy.dp.epsilonPerQuery.default, epsilon!),
      { max: cap },
      'the policy ceiling and the term budget',
    );
  }

  const grants = asked.columns ? keptColumns(app.grants, asked.columns, issues) : app.grants;
  if (issues.length > 0) {
    throw new PdsError(
      'ERR_VALIDATION',
      `terms may only tighten the application within policy: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`,
      { errors: issues },
    );
  }
  return { terms: { termMonths, minUnits, maxRows, epsilon, epsilonPerQuery }, grants };
}
