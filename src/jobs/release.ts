import {
  answerFromEarlier,
  applyDisclosureControl,
  applyDp,
  cellsFingerprint,
  checkDifferencing,
  checkRowCap,
  scanIdentifiers,
  type Cell,
  type CheckReport,
  type EarlierOutput,
  type Fingerprint,
} from '../disclosure/index.ts';
import type { VerifiedContract } from '../contracts/index.ts';
import type { JsonValue, ReadResult } from '../store/index.ts';
import type { ReleaseDecision } from '../outputs/index.ts';
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

/** The decision's shape is the outputs part's: it records it (outputs/jobs.ts). */
export type { ReleaseDecision };

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
  // prepared against the same earlier outputs it completes with: never stale
  return prepareRelease(input).provisional;
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
  /** The decision against the earlier outputs the release transaction sees; 'stale' when its rows are not the provisional ones. */
  complete(earlier: ReleaseInput['earlier']): ReleaseDecision | 'stale';
}

function settled(decision: ReleaseDecision): PreparedRelease {
  return { provisional: decision, complete: () => decision };
}

/**
 * The decisions made before any cell is counted: dp mode's, the red team's with disclosure control
 * switched off, custom mode's (held, unless an identifier shows), and an aggregate result without
 * its units column (refused: fail closed).
 */
function decidedWithoutCells(
  input: Omit<ReleaseInput, 'earlier'> & { earlier?: ReleaseInput['earlier'] },
): ReleaseDecision | undefined {
  const { plan, result } = input;
  if (plan.mode === 'dp') return decideDp(input);
  if (input.layersOff?.has('disclosure')) {
    return {
      decision: 'released',
      columns: result.columns,
      rows: result.rows,
      checks: [],
      cellsSuppressed: 0,
      reasons: [],
      epsilonSpent: 0,
    };
  }
  if (plan.mode === 'custom') {
    // custom outputs wait for people, but an identifier in them is refused before anyone sees it
    const { report } = scanIdentifiers(result.columns, result.rows);
    if (!report.passed) return refused(report);
    return {
      decision: 'held',
      columns: result.columns,
      rows: result.rows,
      checks: [report, HELD_FOR_REVIEW],
      cellsSuppressed: 0,
      reasons: [HELD_FOR_REVIEW.effect],
      epsilonSpent: 0,
    };
  }
  // fail closed: an aggregate output that cannot show how many units stand behind each row never leaves
  if (!plan.unitsColumn || !result.columns.some((c) => c.name === plan.unitsColumn)) {
    return refused({
      check: 'units-column',
      params: {},
      passed: false,
      effect: 'the result carries no count of privacy units per row, so no row can be shown to describe enough people',
    });
  }
  return undefined;
}

/**
 * `earlier`: the earlier outputs as read before the transaction (cells are answered from them,
 * earlier-answers.ts); the transaction's own read completes the decision, and a difference in the
 * rows (an output recorded meanwhile changed an answer) makes it 'stale', to be prepared again.
 */
export function prepareRelease(
  input: Omit<ReleaseInput, 'earlier'> & { earlier?: ReleaseInput['earlier'] },
): PreparedRelease {
  const { plan, result, terms } = input;
  const early = decidedWithoutCells(input);
  if (early) return settled(early);
  // an aggregate result from here on, whose units column decidedWithoutCells found
  const unitsColumn = plan.unitsColumn!;
  // a query that reads a column with its own minimum takes the larger one, for every row
  const minUnits = Math.max(terms.minUnits, ...(plan.readsColumns ?? []).map((c) => terms.columnMinUnits[c] ?? 0));
  const dc = applyDisclosureControl(result, {
    unitsColumn,
    countColumns: plan.countColumns,
    keyColumns: plan.keyColumns,
    minUnits,
    maxRows: terms.maxRows,
    roundCountsTo: terms.roundCountsTo,
    dominance: { columns: plan.dominance ?? [], ...terms.dominance },
    ...(plan.signature ? { signature: plan.signature } : {}),
  });
  const perturbation = (rows: number) => (plan.perturbed ? [perturbationReport(plan.perturbed, rows, terms)] : []);
  if (!dc.cells) return settled(decideAggregate(dc, perturbation(dc.rows.length), dc.checks, dc.rows, dc.fingerprint));
  const unitsAt = result.columns.findIndex((c) => c.name === unitsColumn);
  const keys = (plan.keyColumns ?? []).filter((p) => p !== unitsAt).map((p) => (p > unitsAt ? p - 1 : p));
  const decideWith = (earlier: ReleaseInput['earlier']): ReleaseDecision => {
    const answers = answerFromEarlier(dc.cells!, keys, plan.statistics, earlier);
    const rows = answers.cells.filter((c) => c.shown).map((c) => c.row);
    const fingerprint = cellsFingerprint(dc.columns, answers.cells, keys, plan.statistics);
    const { pairedWith, pairs, ...diff } = checkDifferencing(fingerprint, earlier, minUnits);
    const checks = [
      ...recount(dc.checks, answers.cells, dc.columns, plan.dominance ?? [], keys, terms.maxRows),
      answers.report,
      diff,
    ];
    const decision = decideAggregate(dc, perturbation(rows.length), checks, rows, fingerprint);
    // for the bureau only (the output's audit entry): which cells took earlier answers, which pairs were seen
    return {
      ...decision,
      record: { answered: answers.answered, answeredFrom: answers.from, pairs, ...(pairedWith ? { pairedWith } : {}) },
    };
  };
  const provisional = decideWith(input.earlier ?? []);
  return {
    provisional,
    complete(earlier) {
      const decision = decideWith(earlier);
      const same =
        JSON.stringify([decision.decision, decision.rows]) === JSON.stringify([provisional.decision, provisional.rows]);
      // the rows the files were kept of, by identity (outputs.record checks it)
      return same ? { ...decision, rows: provisional.rows } : 'stale';
    },
  };
}

function decideAggregate(
  dc: ReturnType<typeof applyDisclosureControl>,
  perturbation: CheckReport[],
  checks: CheckReport[],
  rows: JsonValue[][],
  fingerprint: Fingerprint | undefined,
): ReleaseDecision {
  const all = [...perturbation, ...checks];
  const failed = all.filter((c) => !c.passed);
  const reasons = failed.map((c) => `${c.check}: ${c.effect}`);
  const refusing = failed.find((c) => (c.onFail ?? 'refuse') === 'refuse');
  if (refusing) return { ...refused(refusing, all), reasons };
  return {
    decision: failed.length > 0 ? 'held' : 'released',
    columns: dc.columns,
    rows,
    checks: all,
    cellsSuppressed: all.reduce((a, c) => a + (c.cellsSuppressed ?? 0), 0),
    reasons,
    ...(fingerprint ? { fingerprint } : {}),
    epsilonSpent: 0,
  };
}

/**
 * The checks' figures as the cells finally are: a cell answered from an earlier one may be shown
 * or suppressed otherwise than this output alone would have it, and a figure counted before the
 * answers would tell which. The identifier scan and the row cap look at the final rows.
 */
function recount(
  checks: CheckReport[],
  cells: Cell[],
  columns: { name: string }[],
  dominance: { column: number }[],
  keys: number[],
  maxRows: number,
): CheckReport[] {
  const shown = cells.filter((c) => c.shown);
  const hidden = cells.length - shown.length;
  const measured = [...new Set(dominance.map((d) => d.column))].filter((c) => !keys.includes(c));
  const empty = shown.reduce((a, c) => a + measured.filter((m) => c.row[m] === null).length, 0);
  const rows = shown.map((c) => c.row);
  return checks.map((c): CheckReport => {
    switch (c.check) {
      case 'min-units':
        return {
          ...c,
          rowsSuppressed: hidden,
          cellsSuppressed: hidden * columns.length,
          effect:
            hidden === 0
              ? `every row describes at least ${c.params.k} distinct units`
              : `${hidden} row(s) not shown: describing fewer than ${c.params.k} distinct units, protecting such a row's total, or as an earlier cell of the same people was`,
        };
      case 'secondary-suppression':
        return { ...c, rowsSuppressed: 0, cellsSuppressed: 0, effect: `${c.effect} (counted with min-units)` };
      case 'dominance':
        return measured.length === 0
          ? c
          : {
              ...c,
              cellsSuppressed: empty,
              effect:
                empty === 0
                  ? `in no sum or mean shown do the top ${c.params.n} contributors exceed ${c.params.k}%`
                  : `${empty} sum/mean cell(s) empty: their top ${c.params.n} contributors exceed ${c.params.k}% of the total, or they have no value`,
            };
      case 'round-counts':
        // how many values rounding moved would tell a fresh answer from an earlier one
        return {
          ...c,
          effect: c.params.columns
            ? `every count in ${c.params.columns} is rounded to a multiple of ${c.params.base}`
            : c.effect,
        };
      case 'identifier-scan':
        return scanIdentifiers(columns, rows).report;
      case 'max-rows':
        return checkRowCap(rows.length, maxRows);
      default:
        return c;
    }
  });
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
