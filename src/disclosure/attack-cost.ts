import { Type, type Static } from 'typebox';
import { parseRule } from '../policies/index.ts';

/**
 * What averaging independent noise buys a determined operator under the parameters in force
 * (docs/architecture.md §9, §12), for the bureau to weigh before it decides: how many tracker
 * queries would estimate one person's value within ±5 % at 95 % confidence, against what the
 * contract's quotas allow over its term.
 */

const closed = { additionalProperties: false } as const;

/** The attack cost's published shape (the application view, the risk report). */
export const AttackCostSchema = Type.Object(
  {
    measures: Type.Array(
      Type.Object(
        {
          dataset: Type.String(),
          column: Type.String(),
          rule: Type.String(),
          persistentErrorAtLeast: Type.Union([Type.Number(), Type.Null()], {
            description: 'the distortion no number of queries removes (null: not a fixed-factor measure)',
          }),
          within5PercentReachable: Type.Boolean(),
        },
        closed,
      ),
    ),
    membership: Type.Union([
      Type.Object(
        {
          countNoiseVariance: Type.Number(),
          countsRoundedTo: Type.Integer(),
          pairsToTellAt95: Type.Integer(),
          pairsWithin5PercentAt95: Type.Integer(),
        },
        {
          ...closed,
          description:
            "one person's presence in a non-sensitive category through pairs of count trackers (aggregate mode; sensitive facts are dp-only): a set and the set less one person asked with the same statistic get the earlier answer and tell nothing, so each pair must be written as two different statistics, whose noise is independent; the pairs that tell 1 from 0 at 95 %, and that estimate it within ±5 %, with the p-table's variance and the rounding's",
        },
      ),
      Type.Null(),
    ]),
    queriesOverTerm: Type.Integer({ description: 'jobs the contract may run over its term at its daily quota' }),
  },
  {
    ...closed,
    description:
      "what averaging noise would cost a determined operator: each measure's persistent distortion (no number of queries removes it), the tracker pairs that would tell one person's presence in a category, and the jobs the quotas allow over the term",
  },
);
export type AttackCost = Static<typeof AttackCostSchema>;

const Z95 = 1.959964;

export function attackCost(input: {
  mode: string;
  termMonths: number;
  jobsPerDay: number;
  countVariance: number;
  /** Counts are released rounded to this multiple (policies/disclosure.yaml roundCountsTo). */
  roundCountsTo?: number;
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
  // a tracker pair's difference is 1 (present) or 0; each side carries the p-table's variance V and
  // the rounding's (a uniform error over the base: b²/12), independently — the pair is two
  // different statistics (earlier-answers.ts); n pairs average the difference's variance down by n
  const base = input.roundCountsTo ?? 1;
  const perSide = input.countVariance + (base > 1 ? (base * base) / 12 : 0);
  const pairs = (halfWidth: number) => Math.ceil(2 * perSide * (Z95 / halfWidth) ** 2);
  return {
    measures,
    membership:
      input.mode === 'aggregate'
        ? {
            countNoiseVariance: input.countVariance,
            countsRoundedTo: base,
            pairsToTellAt95: pairs(0.5),
            pairsWithin5PercentAt95: pairs(0.05),
          }
        : null,
    queriesOverTerm: Math.round(input.jobsPerDay * input.termMonths * 30.44),
  };
}
