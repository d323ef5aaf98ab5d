import { parseRule } from '../policies/index.ts';

/**
 * What averaging independent noise buys a determined operator under the parameters in force
 * (docs/architecture.md §9, §12), for the bureau to weigh before it decides: how many tracker
 * queries would estimate one person's value within ±5 % at 95 % confidence, against what the
 * contract's quotas allow over its term.
 */

export interface AttackCost {
  /** Each granted measure: the distortion no number of queries removes (null: none — the value is not a fixed-factor measure). */
  measures: {
    dataset: string;
    column: string;
    rule: string;
    persistentErrorAtLeast: number | null;
    within5PercentReachable: boolean;
  }[];
  /**
   * One person's presence in a category, through pairs of count trackers (aggregate mode): the
   * pairs (two queries each) that tell 1 from 0 at 95 %, and that estimate it within ±5 %.
   * null outside aggregate mode (dp: the ε budget bounds it; custom: every output is reviewed).
   */
  membership: { countNoiseVariance: number; pairsToTellAt95: number; pairsWithin5PercentAt95: number } | null;
  /** Jobs the contract may run over its term at its daily quota. */
  queriesOverTerm: number;
}

const Z95 = 1.959964;

export function attackCost(input: {
  mode: string;
  termMonths: number;
  jobsPerDay: number;
  countVariance: number;
  grants: { dataset: string; columns: { column: string; rule: string }[] }[];
}): AttackCost {
  const measures = input.grants.flatMap((g) =>
    g.columns.flatMap((c) => {
      const rule = parseRule(c.rule);
      if (rule.kind !== 'noise') return [];
      const floor = rule.fraction / 2;
      return [
        {
          dataset: g.dataset,
          column: c.column,
          rule: c.rule,
          persistentErrorAtLeast: floor,
          within5PercentReachable: floor <= 0.05,
        },
      ];
    }),
  );
  // a tracker pair's difference is 1 (present) or 0, with variance 2V; n pairs average it down by n
  const pairs = (halfWidth: number) => Math.ceil(2 * input.countVariance * (Z95 / halfWidth) ** 2);
  return {
    measures,
    membership:
      input.mode === 'aggregate'
        ? { countNoiseVariance: input.countVariance, pairsToTellAt95: pairs(0.5), pairsWithin5PercentAt95: pairs(0.05) }
        : null,
    queriesOverTerm: Math.round(input.jobsPerDay * input.termMonths * 30.44),
  };
}
