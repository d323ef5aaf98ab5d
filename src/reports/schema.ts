import { Type, type Static, type TSchema } from 'typebox';
import { WorkflowPolicy } from '../policies/index.ts';
import { AttackCostSchema } from '../disclosure/index.ts';
import { DataDirEncryptionSchema } from '../store/index.ts';

/**
 * The report's shape, once: the TypeScript types derive from it, the API publishes it in OpenAPI
 * and serializes by it, and the tests check every report made against it. Objects are closed, so a
 * field added in code but not here fails a test instead of being dropped from the signed JSON a
 * reader verifies.
 */

const closed = { additionalProperties: false } as const;
const Obj = <P extends Record<string, TSchema>>(p: P, description?: string) =>
  Type.Object(p, { ...closed, ...(description ? { description } : {}) });
const Int = Type.Integer({ minimum: 0 });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const RiskLevelSchema = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')]);
export type RiskLevel = Static<typeof RiskLevelSchema>;

export const PeriodSchema = Obj({
  label: Type.String({ description: '2026-Q3, 2026-07 or 2026' }),
  kind: Type.Union([Type.Literal('quarter'), Type.Literal('month'), Type.Literal('year')]),
  start: Type.String({ description: 'local midnight of the first day, as a UTC instant (inclusive)' }),
  end: Type.String({ description: 'local midnight after the last day, as a UTC instant (exclusive)' }),
});
export type Period = Static<typeof PeriodSchema>;

export const RefusalCategorySchema = Type.Union([
  Type.Literal('escape'),
  Type.Literal('singling-out'),
  Type.Literal('limit'),
  Type.Literal('error'),
  Type.Literal('other'),
]);
export type RefusalCategory = Static<typeof RefusalCategorySchema>;

export const RefusalCountSchema = Obj({
  layer: Type.String(),
  rule: Type.String({ description: 'the named rule, or the error code when no rule was named' }),
  code: Type.String(),
  category: RefusalCategorySchema,
  count: Int,
});
export type RefusalCount = Static<typeof RefusalCountSchema>;

export const FiguresSchema = Obj(
  {
    jobs: Obj({
      submitted: Int,
      run: Int,
      released: Int,
      held: Int,
      rejected: Int,
      failed: Int,
      cancelled: Int,
      changesRequested: Type.Optional(Int),
      unfinished: Int,
    }),
    submissionsRefused: Type.Array(Obj({ code: Type.String(), count: Int }), {
      description: 'submissions refused before a job existed, by code',
    }),
    refusals: Type.Array(RefusalCountSchema),
    escapeAttempts: Int,
    singlingOutAttempts: Int,
    feedback: Type.Optional(
      Obj(
        { filed: Int, answered: Int, overdue: Int },
        'feedback filed to providers on the data used in the period (seed 002 第二十二条), answered, and past its due date unanswered',
      ),
    ),
    runsOutsideOsSandbox: Type.Integer({
      minimum: 0,
      description:
        'job runs started without the OS sandbox layer (SANDBOX_OS=off, a worker that did not report one, or before the layer existed)',
    }),
    spotChecks: Type.Optional(
      Obj(
        { checked: Int, mismatches: Int, outputsWithheld: Int },
        "remote workers' results of this contract the API re-executed before release, those that differed (a forgery caught: the worker revoked), and outputs withheld because their worker was caught (docs/architecture.md §4)",
      ),
    ),
    outputs: Obj({
      released: Int,
      held: Int,
      rejected: Int,
      cellsSuppressed: Int,
      heldBy: Type.Array(Obj({ check: Type.String(), count: Int })),
    }),
    privacy: Nullable(
      Obj({
        budget: Nullable(Type.Number()),
        spentInPeriod: Type.Number(),
        spentToDate: Type.Number(),
        share: Nullable(Type.Number()),
      }),
    ),
    trackers: Obj(
      {
        outputsCompared: Int,
        isolatingPairs: Type.Integer({
          minimum: 0,
          description: "pairs of cells (one of them this contract's) whose sets of people differ by one or two",
        }),
        mostIsolationsOfOnePerson: Type.Integer({
          minimum: 0,
          description: 'the most such pairs that isolate the same person',
        }),
        smallPopulationOutputs: Type.Integer({
          minimum: 0,
          description: 'the most outputs over one small population (the same people, or one or two apart)',
        }),
      },
      "tracker patterns over the sets of people behind released and held cells, across the operator's contracts",
    ),
    timeline: Type.Array(Obj({ start: Type.String(), submitted: Int, refused: Int, escapeAttempts: Int }), {
      description: 'weeks of a quarter, days of a month, months of a year',
    }),
  },
  "everything one contract (or an operator's contracts) did in one period, counted from the control store",
);
export type Figures = Static<typeof FiguresSchema>;

export const ContractFactsSchema = Obj({
  attackCost: AttackCostSchema,
  snapshot: Type.Array(
    Obj({
      table: Type.String(),
      rows: Int,
      k: Int,
      policyK: Int,
      shareBelowK: Type.Number(),
      prosecutorRisk: Type.Number(),
      averageRisk: Type.Number(),
    }),
  ),
  statusEvents: Type.Array(
    Obj({ at: Type.String(), action: Type.String(), actor: Type.String(), reason: Nullable(Type.String()) }),
  ),
  withdrawals: Type.Array(
    Obj({
      dataset: Type.String(),
      at: Type.String(),
      reason: Type.String(),
      by: Type.String(),
      reinstatedAt: Nullable(Type.String()),
    }),
  ),
  effectiveness: Type.Array(
    Obj({
      year: Type.Integer(),
      passed: Type.Boolean(),
      indicators: Type.Array(
        Type.Object({
          name: Type.String(),
          value: Type.Union([Type.Number(), Type.Null()]),
          target: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
          met: Type.Boolean(),
        }),
      ),
    }),
  ),
  acknowledgements: Type.Optional(
    Type.Array(
      Obj(
        {
          reportId: Type.String(),
          period: Type.String(),
          rating: Type.String(),
          acknowledgedAt: Nullable(Type.String()),
          statement: Nullable(Type.String()),
        },
        "earlier reports on this contract and the operator's acknowledgement of each (seed 002 第三十四条(四))",
      ),
    ),
  ),
  destructions: Type.Optional(
    Type.Array(
      Obj(
        {
          record: Type.String(),
          kind: Type.String(),
          subjectId: Type.String(),
          why: Type.String(),
          by: Type.String(),
          destroyedAt: Type.String(),
          recordSha256: Type.String(),
        },
        "the contract's data destroyed up to the period's end, each with its sealed destruction record (seed 003 第三十九条（四）; docs/architecture.md §19)",
      ),
    ),
  ),
  decisionOverride: Type.Optional(
    Nullable(
      Obj(
        { reason: Type.String(), warnings: Type.Array(Type.String()), by: Type.String() },
        "approved although the application's risk preview broke the policy",
      ),
    ),
  ),
});
export type ContractFacts = Static<typeof ContractFactsSchema>;

export const FindingSchema = Obj({
  rule: Type.String(),
  level: RiskLevelSchema,
  finding: Type.String(),
  recommendation: Type.String(),
  basis: Type.String(),
});
export type Finding = Static<typeof FindingSchema>;

export const RatingSchema = Obj({
  level: RiskLevelSchema,
  findings: Type.Array(FindingSchema),
  rulesApplied: Type.Array(Obj({ rule: Type.String(), sets: RiskLevelSchema, when: Type.String() }), {
    description: 'every rule checked, fired or not',
  }),
});
export type Rating = Static<typeof RatingSchema>;

export const TrendSchema = Obj({
  metric: Type.String(),
  current: Type.Number(),
  previous: Type.Number(),
  change: Nullable(Type.Number()),
});
export type Trend = Static<typeof TrendSchema>;

export const AuditTrailStateSchema = Obj(
  {
    ok: Type.Boolean(),
    entries: Int,
    checkpoints: Int,
    firstBad: Type.Optional(
      Obj({
        seq: Type.Integer(),
        code: Type.Optional(Type.String({ description: 'how the trail broke (src/audit AUDIT_BREAKS)' })),
        reason: Type.String(),
        expectedSeq: Type.Optional(Type.Integer()),
      }),
    ),
  },
  'the audit chain and its signed checkpoints, verified when the report was made',
);
export type AuditTrailState = Static<typeof AuditTrailStateSchema>;

export const RiskAssessmentReportSchema = Obj(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('contract'), Type.Literal('operator'), Type.Literal('domain')]),
    subject: Type.String({ description: 'the contract id, the operator organisation, or domain' }),
    operatorOrg: Type.String({ description: '* in a domain report' }),
    scenario: Type.Optional(Obj({ name: Type.String(), purpose: Type.String() })),
    period: PeriodSchema,
    previousPeriod: PeriodSchema,
    partial: Type.Boolean({ description: 'the period had not ended when the report was made: its figures are so far' }),
    generatedAt: Type.String(),
    generatedBy: Type.String(),
    trigger: Type.Union([Type.Literal('schedule'), Type.Literal('demand')]),
    auditTrail: AuditTrailStateSchema,
    sandbox: Obj(
      { os: Type.String({ description: "the OS layer around the API's runners when the report was made" }) },
      'how jobs are confined',
    ),
    // optional: reports made before issue 35 do not have it and still read as signed
    dataDirEncryption: Type.Optional(DataDirEncryptionSchema),
    figures: FiguresSchema,
    previousFigures: FiguresSchema,
    facts: Type.Optional(ContractFactsSchema),
    contracts: Type.Optional(
      Type.Array(
        Obj({
          contractId: Type.String(),
          scenario: Type.String(),
          status: Type.String(),
          rating: RiskLevelSchema,
          jobsSubmitted: Int,
          jobsRefused: Int,
          escapeAttempts: Int,
          outputsReleased: Int,
        }),
      ),
    ),
    operators: Type.Optional(
      Type.Array(
        Obj({
          operatorOrg: Type.String(),
          contracts: Int,
          rating: RiskLevelSchema,
          jobsSubmitted: Int,
          jobsRefused: Int,
          escapeAttempts: Int,
          outputsReleased: Int,
        }),
        { description: 'domain reports: each operator, rated by its riskiest contract' },
      ),
    ),
    trend: Type.Array(TrendSchema),
    rating: RatingSchema,
    recommendations: Type.Array(Type.String()),
    thresholds: WorkflowPolicy.properties.reports.properties.rating,
    basis: Type.Array(Type.String()),
  },
  'a periodic risk assessment report (seed 002 第三十四条(四)); its RFC 8785 canonical JSON hashes to the JWS claim sha256',
);
export type RiskAssessmentReport = Static<typeof RiskAssessmentReportSchema>;
