import {
  applyDisclosureControl,
  applyDp,
  checkDifferencing,
  scanIdentifiers,
  type CheckReport,
  type EarlierOutput,
  type Fingerprint,
} from '../disclosure/index.ts';
import type { VerifiedContract } from '../contracts/index.ts';
import type { JsonValue, ReadResult } from '../store/index.ts';
import type { Policies } from '../policies/index.ts';
import type { SandboxLayer } from '../sandbox/index.ts';
import type { RunPlan } from './plan.ts';

/**
 * The one release decision (docs/architecture.md, "The release decision"): from the API's own
 * plan of a run, the raw result the engine returned, the contract's disclosure terms and the
 * contract's earlier outputs, it answers released, held or refused, with every check's
 * parameters and effect. Nothing else decides what leaves: the job path prepares it before the
 * transaction that records the output and completes it inside (with the earlier outputs that
 * transaction sees), and the red-team and privacy suites call it as it is.
 * It reads no store and no clock; only dp noise draws randomness.
 */

export interface ReleaseTerms {
  /** Minimum distinct privacy units behind a released row (the contract's k). */
  minUnits: number;
  /** Most rows an aggregate output may have before it is held. */
  maxRows: number;
  /** Counts are rounded to a multiple of this. */
  roundCountsTo: number;
  /** The (n, k) dominance rule for sums and means. */
  dominance: { n: number; k: number };
  /** A larger minimum of units for outputs that read these columns (policies/disclosure.yaml). */
  columnMinUnits: Record<string, number>;
  /** dp contracts: what one query spends. */
  dp: { epsilon: number; delta: number } | null;
  /** Aggregate mode: the perturbation the engine applied, as the manifest states it. */
  perturbation: {
    maxNoise: number;
    variance: number;
    fraction: number;
    floor: number;
    topN: number;
    iqrFraction: number;
  };
}

/** A contract's disclosure terms: its own k and row cap, everything else from the policies. */
export function releaseTerms(
  claims: Pick<VerifiedContract, 'disclosure' | 'privacyBudget'>,
  policies: Pick<Policies, 'disclosure'>,
): ReleaseTerms {
  const d = policies.disclosure;
  return {
    minUnits: claims.disclosure.minUnits,
    maxRows: claims.disclosure.maxRows,
    roundCountsTo: d.roundCountsTo,
    dominance: d.dominance,
    columnMinUnits: d.columnMinUnits ?? {},
    dp: claims.privacyBudget ? { epsilon: claims.privacyBudget.epsilonPerQuery, delta: d.dp.delta } : null,
    perturbation: {
      ...d.perturbation.counts,
      ...d.perturbation.magnitudes,
      topN: d.dominance.n,
      iqrFraction: d.perturbation.quantiles.iqrFraction,
    },
  };
}

export interface ReleaseInput {
  plan: RunPlan;
  result: ReadResult;
  terms: ReleaseTerms;
  /** The contract's latest released or held outputs, for the differencing check. */
  earlier: EarlierOutput[];
  /** Only the red-team suite switches the disclosure layer off, to show the other layers hold. */
  layersOff?: ReadonlySet<SandboxLayer>;
}

export interface ReleaseDecision {
  decision: 'released' | 'held' | 'refused';
  columns: ReadResult['columns'];
  rows: JsonValue[][];
  checks: CheckReport[];
  cellsSuppressed: number;
  /** Why a held output waits, or why a refused one may not leave. */
  reasons: string[];
  /** The rule that refused it. */
  refusedBy?: string;
  /** Aggregate mode: group keys and units per row, kept in the store for differencing; never released. */
  fingerprint?: Fingerprint;
  /** dp mode: the ε this output spent. */
  epsilonSpent: number;
}

const HELD_FOR_REVIEW: CheckReport = {
  check: 'review',
  params: {},
  passed: true,
  effect: 'custom-mode outputs are held until bureau reviewers release them',
};

function refused(check: CheckReport, checks: CheckReport[] = [check]): ReleaseDecision {
  return {
    decision: 'refused',
    columns: [],
    rows: [],
    checks,
    cellsSuppressed: 0,
    reasons: [`${check.check}: ${check.effect}`],
    refusedBy: check.rule ?? check.check,
    epsilonSpent: 0,
  };
}

export function decideRelease(input: ReleaseInput): ReleaseDecision {
  return prepareRelease(input).complete(input.earlier);
}

/**
 * The decision in two steps, so the output's files can be written before the release
 * transaction: `provisional` is everything that does not depend on earlier outputs (its rows are
 * the rows released, if any are); `complete` adds the differencing check against the earlier
 * outputs read inside the transaction. The complete decision keeps the provisional rows or
 * refuses; it never changes them.
 */
export interface PreparedRelease {
  provisional: ReleaseDecision;
  complete(earlier: ReleaseInput['earlier']): ReleaseDecision;
}

function settled(decision: ReleaseDecision): PreparedRelease {
  return { provisional: decision, complete: () => decision };
}

export function prepareRelease(input: Omit<ReleaseInput, 'earlier'>): PreparedRelease {
  const { plan, result, terms } = input;
  if (plan.mode === 'dp') return settled(decideDp(input));
  if (input.layersOff?.has('disclosure')) {
    return settled({
      decision: 'released',
      columns: result.columns,
      rows: result.rows,
      checks: [],
      cellsSuppressed: 0,
      reasons: [],
      epsilonSpent: 0,
    });
  }
  if (plan.mode === 'custom') {
    // custom outputs wait for people, but an identifier in them is refused before anyone sees it
    const { report } = scanIdentifiers(result.columns, result.rows);
    if (!report.passed) return settled(refused(report));
    return settled({
      decision: 'held',
      columns: result.columns,
      rows: result.rows,
      checks: [report, HELD_FOR_REVIEW],
      cellsSuppressed: 0,
      reasons: [HELD_FOR_REVIEW.effect],
      epsilonSpent: 0,
    });
  }
  // fail closed: an aggregate output that cannot show how many units stand behind each row never leaves
  if (!plan.unitsColumn || !result.columns.some((c) => c.name === plan.unitsColumn)) {
    return settled(
      refused({
        check: 'units-column',
        params: {},
        passed: false,
        effect:
          'the result carries no count of privacy units per row, so no row can be shown to describe enough people',
      }),
    );
  }
  // a query that reads a column with its own minimum takes the larger one, for every row
  const minUnits = Math.max(terms.minUnits, ...(plan.readsColumns ?? []).map((c) => terms.columnMinUnits[c] ?? 0));
  const dc = applyDisclosureControl(result, {
    unitsColumn: plan.unitsColumn,
    countColumns: plan.countColumns,
    keyColumns: plan.keyColumns,
    minUnits,
    maxRows: terms.maxRows,
    roundCountsTo: terms.roundCountsTo,
    dominance: { columns: plan.dominance ?? [], ...terms.dominance },
    ...(plan.signature ? { signature: plan.signature } : {}),
  });
  const checks = [...(plan.perturbed ? [perturbationReport(plan.perturbed, dc.rows.length, terms)] : []), ...dc.checks];
  const decide = (all: CheckReport[], reasons: string[]): ReleaseDecision => {
    const failed = all.filter((c) => !c.passed);
    const refusing = failed.find((c) => (c.onFail ?? 'refuse') === 'refuse');
    if (refusing) return { ...refused(refusing, all), reasons };
    return {
      decision: failed.length > 0 ? 'held' : 'released',
      columns: dc.columns,
      rows: dc.rows,
      checks: all,
      cellsSuppressed: dc.cellsSuppressed,
      reasons,
      fingerprint: dc.fingerprint,
      epsilonSpent: 0,
    };
  };
  const provisional = decide(checks, [...dc.reasons]);
  const fingerprint = dc.fingerprint;
  if (!fingerprint) return settled(provisional);
  return {
    provisional,
    complete(earlier) {
      const { pairedWith, ...diff } = checkDifferencing(fingerprint, earlier, minUnits);
      const reasons = [...dc.reasons, ...(diff.passed ? [] : [`${diff.check}: ${diff.effect}`])];
      return decide([...checks, pairedWith ? { ...diff, params: { ...diff.params, pairedWith } } : diff], reasons);
    },
  };
}

function decideDp({ plan, result, terms }: Omit<ReleaseInput, 'earlier'>): ReleaseDecision {
  if (!plan.dp || !terms.dp) {
    return refused({
      check: 'differential-privacy',
      params: {},
      passed: false,
      effect: 'a dp result without its plan or budget cannot be released',
    });
  }
  const noisy = applyDp(result, plan.dp, terms.dp);
  const { report: identifiers } = scanIdentifiers(noisy.columns, noisy.rows);
  if (!identifiers.passed) return refused(identifiers, [noisy.report, identifiers]);
  return {
    decision: 'released',
    columns: noisy.columns,
    rows: noisy.rows,
    checks: [noisy.report, identifiers],
    cellsSuppressed: 0,
    reasons: [],
    epsilonSpent: noisy.epsilon,
  };
}

/** What the engine's perturbation did, so an honest user can put error bars on every value. */
function perturbationReport(
  p: { counts: number[]; magnitudes: number[]; quantiles?: number[] },
  rows: number,
  terms: ReleaseTerms,
): CheckReport {
  const t = terms.perturbation;
  return {
    check: 'perturbation',
    params: {
      countMaxNoise: t.maxNoise,
      countVariance: t.variance,
      magnitudeFraction: t.fraction,
      magnitudeFloor: t.floor,
      topN: t.topN,
      quantileIqrFraction: t.iqrFraction,
      cellKey: "sum of the contributing units' keyed hashes mod 2^32",
    },
    passed: true,
    effect:
      `${rows * p.counts.length} count cell(s) carry p-table noise (unbiased, |noise| ≤ ${t.maxNoise}, variance ${t.variance}); ` +
      `${rows * p.magnitudes.length} sum/mean/variance cell(s) carry uniform noise within ±max(${t.fraction} × the ${t.topN} largest contributions, ${t.floor}) ` +
      `(variance: bound²/3; a mean's is its sum's over the count squared; a variance or standard deviation is computed from the perturbed count, sum and sum of squares); ` +
      `${rows * (p.quantiles?.length ?? 0)} quantile cell(s) carry uniform noise within ±${t.iqrFraction} × the cell's interquartile range; the same people always get the same noise`,
  };
}
