import { Type, type Static } from 'typebox';

const Attr = Type.Union([Type.Literal('unconditional'), Type.Literal('conditional'), Type.Literal('none')]);

export const Classification = Type.Union([
  Type.Literal('core'),
  Type.Literal('important'),
  Type.Literal('general-L1'),
  Type.Literal('general-L2'),
  Type.Literal('general-L3'),
  Type.Literal('general-L4'),
]);
export const IdentifierRole = Type.Union([
  Type.Literal('direct'),
  Type.Literal('quasi'),
  Type.Literal('sensitive'),
  Type.Literal('other'),
]);
export type IdentifierRole = Static<typeof IdentifierRole>;

export const CatalogColumn = Type.Object(
  {
    type: Type.String({ minLength: 1 }),
    title: Type.Optional(Type.String()),
    classification: Classification,
    role: IdentifierRole,
    negativeList: Type.Optional(Type.Boolean()),
    /** Analysed only in dp mode, under the ε ledger: a non-dp contract is never granted it. */
    dpOnly: Type.Optional(Type.Boolean()),
    /**
     * A public code list: every value the column can take, published (districts, hospitals,
     * education levels). dp mode shows every code of it as a group, whatever the data, with no
     * threshold to pass (docs/architecture.md §12).
     */
    codes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 1000, uniqueItems: true })),
    /** A checkable identifier format: ingest reports values that fail its check characters. */
    format: Type.Optional(Type.Union([Type.Literal('id-number'), Type.Literal('uscc'), Type.Literal('mobile')])),
  },
  { additionalProperties: false },
);
export type CatalogColumn = Static<typeof CatalogColumn>;

export const CatalogDataset = Type.Object(
  {
    title: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    provider: Type.String({ minLength: 1 }),
    providerName: Type.String({ minLength: 1 }),
    updateCycle: Type.Union([
      Type.Literal('realtime'),
      Type.Literal('daily'),
      Type.Literal('weekly'),
      Type.Literal('monthly'),
      Type.Literal('quarterly'),
      Type.Literal('yearly'),
    ]),
    attributes: Type.Object({ sharing: Attr, open: Attr, operation: Attr }, { additionalProperties: false }),
    privacyUnit: Type.String({ minLength: 1 }),
    /**
     * Every row is a sensitive fact about a person (a visit to a hospital is a health event): the
     * dataset is granted only to dp contracts and analysed only under an ε budget (docs/architecture.md §13).
     */
    sensitiveFacts: Type.Optional(Type.Boolean()),
    /**
     * Sets of columns each of which, with the privacy unit, is expected to tell a unit's rows apart
     * (a month of insurance records): checked on the data when a snapshot is built, and where it
     * holds a cell grouped by (or fixed to) those columns has each person on one row
     * (docs/architecture.md §17).
     */
    uniquePerUnit: Type.Optional(
      Type.Array(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), { minItems: 1, maxItems: 4 }), {
        maxItems: 4,
      }),
    ),
    columns: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), CatalogColumn),
  },
  { additionalProperties: false },
);
export type CatalogDataset = Static<typeof CatalogDataset>;

export const Catalog = Type.Object(
  {
    version: Type.String({ minLength: 1 }),
    datasets: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), CatalogDataset),
  },
  { additionalProperties: false },
);
export type Catalog = Static<typeof Catalog>;

/** A masking rule as text (`generalize:age-band:10`); parsed and checked by src/masking at load. */
export const MaskingRuleText = Type.String({ minLength: 1, maxLength: 64 });

const RuleSet = Type.Object(
  { default: MaskingRuleText, allowed: Type.Array(MaskingRuleText, { minItems: 1 }) },
  { additionalProperties: false },
);
export type RuleSet = Static<typeof RuleSet>;

const LevelRules = Type.Array(MaskingRuleText, { minItems: 1 });
export const MaskingPolicy = Type.Object(
  {
    version: Type.Integer(),
    byLevel: Type.Object(
      {
        core: LevelRules,
        important: LevelRules,
        'general-L1': LevelRules,
        'general-L2': LevelRules,
        'general-L3': LevelRules,
        'general-L4': LevelRules,
      },
      { additionalProperties: false },
    ),
    byRole: Type.Object(
      { direct: RuleSet, quasi: RuleSet, sensitive: RuleSet, other: RuleSet },
      { additionalProperties: false },
    ),
    columns: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$' }), RuleSet)),
  },
  { additionalProperties: false },
);
export type MaskingPolicy = Static<typeof MaskingPolicy>;

const Bounded = Type.Object(
  { default: Type.Integer({ minimum: 1 }), floor: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);
export const DisclosurePolicy = Type.Object(
  {
    version: Type.Integer(),
    minUnits: Bounded,
    maxRows: Type.Object(
      { default: Type.Integer({ minimum: 1 }), ceiling: Type.Integer({ minimum: 1 }) },
      { additionalProperties: false },
    ),
    roundCountsTo: Type.Integer({ minimum: 1, maximum: 1000 }),
    columnMinUnits: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 1, maximum: 1000 }))),
    dominance: Type.Object(
      { n: Type.Integer({ minimum: 1, maximum: 10 }), k: Type.Number({ exclusiveMinimum: 0, maximum: 100 }) },
      { additionalProperties: false },
    ),
    perturbation: Type.Object(
      {
        counts: Type.Object(
          { maxNoise: Type.Integer({ minimum: 1, maximum: 20 }), variance: Type.Number({ exclusiveMinimum: 0 }) },
          { additionalProperties: false },
        ),
        magnitudes: Type.Object(
          { fraction: Type.Number({ minimum: 0, maximum: 10 }), floor: Type.Number({ minimum: 0 }) },
          { additionalProperties: false },
        ),
        quantiles: Type.Object(
          { iqrFraction: Type.Number({ exclusiveMinimum: 0, maximum: 1 }) },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    dp: Type.Object(
      {
        epsilonPerTerm: Type.Object(
          { default: Type.Number({ exclusiveMinimum: 0 }), ceiling: Type.Number({ exclusiveMinimum: 0 }) },
          { additionalProperties: false },
        ),
        epsilonPerQuery: Type.Object(
          { default: Type.Number({ exclusiveMinimum: 0 }), ceiling: Type.Number({ exclusiveMinimum: 0 }) },
          { additionalProperties: false },
        ),
        delta: Type.Number({ exclusiveMinimum: 0, maximum: 0.001 }),
        maxGroupsPerUnit: Type.Integer({ minimum: 1, maximum: 100 }),
        /** Most joined rows of one person counted in one group (a table with several rows a person). */
        maxRowsPerUnit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        /** What a job may ask for instead of the defaults above (more groups, more rows: more noise). */
        maxGroupsPerUnitCeiling: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        maxRowsPerUnitCeiling: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type DisclosurePolicy = Static<typeof DisclosurePolicy>;

const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

export const WorkflowPolicy = Type.Object(
  {
    version: Type.Integer(),
    reviewDeadline: Type.Object(
      { workingDays: Type.Integer({ minimum: 1, maximum: 60 }) },
      { additionalProperties: false },
    ),
    calendar: Type.Object(
      {
        utcOffset: Type.String({ pattern: '^[+-]\\d{2}:\\d{2}$' }),
        /** Take holidays and 调休 days from the State Council's published calendar (chinese-days). */
        official: Type.Boolean(),
        holidays: Type.Array(IsoDate),
        makeupWorkdays: Type.Array(IsoDate),
      },
      { additionalProperties: false },
    ),
    decisionSafety: Type.Object(
      {
        /** An approval whose risk preview has k below the policy's, or prosecutor risk above this, needs an override. */
        maxProsecutorRisk: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
      },
      { additionalProperties: false },
    ),
    effectiveness: Type.Object(
      { failingYearsToRevoke: Type.Integer({ minimum: 1, maximum: 10 }) },
      { additionalProperties: false },
    ),
    audit: Type.Object(
      {
        checkpointEveryEntries: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        checkpointEveryHours: Type.Number({ exclusiveMinimum: 0, maximum: 24 }),
      },
      { additionalProperties: false },
    ),
    reports: Type.Object(
      {
        period: Type.Union([Type.Literal('quarter'), Type.Literal('month'), Type.Literal('year')]),
        scheduleEveryMinutes: Type.Integer({ minimum: 1, maximum: 1440 }),
        escapeAttempts: Type.Object(
          { codes: Type.Array(Type.String()), rules: Type.Array(Type.String()) },
          { additionalProperties: false },
        ),
        singlingOut: Type.Object({ rules: Type.Array(Type.String()) }, { additionalProperties: false }),
        rating: Type.Object(
          {
            escapeAttemptsHigh: Type.Integer({ minimum: 1 }),
            escapeAttemptsMedium: Type.Integer({ minimum: 1 }),
            singlingOutHigh: Type.Integer({ minimum: 1 }),
            singlingOutMedium: Type.Integer({ minimum: 1 }),
            refusalShareMedium: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
            refusalShareMinJobs: Type.Integer({ minimum: 1 }),
            epsilonShareMedium: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
            snapshotShareBelowKMedium: Type.Number({ minimum: 0, maximum: 1 }),
            smallPopulationUnits: Type.Integer({ minimum: 1 }),
            smallPopulationOutputsMedium: Type.Integer({ minimum: 2 }),
            smallPopulationOutputsHigh: Type.Integer({ minimum: 2 }),
            isolationsOfOnePersonHigh: Type.Integer({ minimum: 1 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type WorkflowPolicy = Static<typeof WorkflowPolicy>;

/** A size as DuckDB writes it: 512MB, 1.5GB, 64KiB. */
const SIZE = '^\\d+(\\.\\d+)?\\s*(KB|MB|GB|KiB|MiB|GiB)$';

export const SandboxPolicy = Type.Object(
  {
    version: Type.Integer(),
    limits: Type.Object(
      {
        threads: Type.Integer({ minimum: 1, maximum: 64 }),
        memoryLimit: Type.String({ pattern: SIZE }),
        tempDirectorySize: Type.String({ pattern: SIZE }),
        timeoutMs: Type.Integer({ minimum: 100 }),
        maxResultRows: Type.Integer({ minimum: 1 }),
        maxResultBytes: Type.Integer({ minimum: 1024 }),
        maxSqlBytes: Type.Integer({ minimum: 64 }),
      },
      { additionalProperties: false },
    ),
    process: Type.Object(
      {
        memory: Type.String({ pattern: SIZE }),
        fileSize: Type.String({ pattern: SIZE }),
      },
      { additionalProperties: false },
    ),
    quotas: Type.Object(
      {
        concurrentJobs: Type.Integer({ minimum: 1, maximum: 1000 }),
        jobsPerDay: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        submissionsPerMinute: Type.Integer({ minimum: 1, maximum: 100_000 }),
        reportsPerMinute: Type.Integer({ minimum: 1, maximum: 10_000 }),
      },
      { additionalProperties: false },
    ),
    retries: Type.Object(
      {
        attempts: Type.Integer({ minimum: 1, maximum: 10 }),
        backoffMs: Type.Integer({ minimum: 0, maximum: 600_000 }),
      },
      { additionalProperties: false },
    ),
    /** Re-execution of remote workers' results on the API's own runner (docs/architecture.md §4). */
    spotCheck: Type.Object(
      {
        rate: Type.Number({ minimum: 0, maximum: 1 }),
        firstRuns: Type.Integer({ minimum: 0, maximum: 10_000 }),
        nearThreshold: Type.Integer({ minimum: 0, maximum: 1000 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type SandboxPolicy = Static<typeof SandboxPolicy>;

const FunctionNames = Type.Array(Type.String({ pattern: '^[a-z_][a-z0-9_]*$' }), { uniqueItems: true });
export const SqlAllowlist = Type.Object(
  {
    version: Type.Integer(),
    aggregates: FunctionNames,
    individualValue: FunctionNames,
    identifierAggregates: FunctionNames,
    windows: FunctionNames,
    scalars: FunctionNames,
    operators: Type.Array(Type.String({ minLength: 1, maxLength: 4 }), { uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type SqlAllowlist = Static<typeof SqlAllowlist>;

const Month = Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$' });
const Name = Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$' });

/** A template parameter: a code from a catalog column's code list, a bounded integer, or a month. */
export const TemplateParameter = Type.Union([
  Type.Object(
    {
      type: Type.Literal('code'),
      label: Type.String({ minLength: 1 }),
      /** `dataset.column` whose catalog `codes` are the values it takes. */
      codes: Type.String({ pattern: '^[a-z_][a-z0-9_]*\\.[a-z_][a-z0-9_]*$' }),
      default: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('integer'),
      label: Type.String({ minLength: 1 }),
      min: Type.Integer(),
      max: Type.Integer(),
      default: Type.Optional(Type.Integer()),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('month'),
      label: Type.String({ minLength: 1 }),
      min: Type.Optional(Month),
      max: Type.Optional(Month),
      default: Type.Optional(Month),
    },
    { additionalProperties: false },
  ),
]);
export type TemplateParameter = Static<typeof TemplateParameter>;

export const QueryTemplate = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.String({ minLength: 1, maxLength: 2000 }),
    modes: Type.Array(Type.Union([Type.Literal('aggregate'), Type.Literal('dp'), Type.Literal('custom')]), {
      minItems: 1,
      uniqueItems: true,
    }),
    /** The columns it reads, by dataset: a contract must grant each (not dropped) to run it. */
    needs: Type.Record(Type.String(), Type.Array(Type.String(), { minItems: 1, uniqueItems: true })),
    /** SQL with named parameters `$name`; no other `$` (checked at load). */
    sql: Type.String({ minLength: 1, maxLength: 20_000 }),
    parameters: Type.Record(Name, TemplateParameter),
    /** dp runs: the contribution bounds the bureau fixed for the template. */
    dp: Type.Optional(
      Type.Object(
        { bounds: Type.Record(Type.String(), Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type QueryTemplate = Static<typeof QueryTemplate>;

const Days = Type.Number({ minimum: 0, maximum: 36_500 });

/** retention.yaml: how long data is kept once unused (docs/architecture.md §19). */
export const RetentionPolicy = Type.Object(
  {
    version: Type.Integer(),
    snapshot: Type.Object({ afterRevokedDays: Days, afterExpiredDays: Days }, { additionalProperties: false }),
    outputs: Type.Object({ afterReleaseDays: Days }, { additionalProperties: false }),
    housekeeping: Type.Object(
      { everyMinutes: Type.Number({ minimum: 0.01, maximum: 10_080 }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type RetentionPolicy = Static<typeof RetentionPolicy>;

export const TemplatesPolicy = Type.Object(
  {
    version: Type.Integer(),
    templates: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$' }), QueryTemplate),
  },
  { additionalProperties: false },
);
export type TemplatesPolicy = Static<typeof TemplatesPolicy>;

/** Kinds of entry in the public register (seed 003 第三十五条). */
export const RegisterKind = Type.Union([
  Type.Literal('restriction'),
  Type.Literal('suspension'),
  Type.Literal('resumption'),
  Type.Literal('revocation'),
  Type.Literal('dataset-withdrawal'),
  Type.Literal('violation'),
]);
export type RegisterKind = Static<typeof RegisterKind>;

/** The closed list of reasons the register gives: the internal free-text reason is never published. */
export const ReasonCategory = Type.Union([
  Type.Literal('breach-of-agreement'),
  Type.Literal('unauthorised-use'),
  Type.Literal('re-identification'),
  Type.Literal('data-leak'),
  Type.Literal('security-incident'),
  Type.Literal('objection'),
  Type.Literal('under-investigation'),
  Type.Literal('effectiveness'),
  Type.Literal('measures-lifted'),
]);
export type ReasonCategory = Static<typeof ReasonCategory>;

/** The fields a register entry may carry publicly; none of them names a person or holds a query. */
export const RegisterField = Type.Union([
  Type.Literal('contractId'),
  Type.Literal('operatorOrg'),
  Type.Literal('scenarioTitle'),
  Type.Literal('datasets'),
  Type.Literal('action'),
  Type.Literal('effectiveAt'),
  Type.Literal('reasonCategory'),
  Type.Literal('statement'),
]);
export type RegisterField = Static<typeof RegisterField>;

const RegisterKindRule = Type.Object(
  {
    publish: Type.Boolean(),
    /** Hours between the measure taking effect and its entry becoming public. */
    delayHours: Type.Number({ minimum: 0, maximum: 24 * 90 }),
    /** The reason given when the action names none. */
    defaultReason: ReasonCategory,
  },
  { additionalProperties: false },
);

export const RegisterPolicy = Type.Object(
  {
    version: Type.Integer(),
    kinds: Type.Object(
      {
        restriction: RegisterKindRule,
        suspension: RegisterKindRule,
        resumption: RegisterKindRule,
        revocation: RegisterKindRule,
        'dataset-withdrawal': RegisterKindRule,
        violation: RegisterKindRule,
      },
      { additionalProperties: false },
    ),
    fields: Type.Array(RegisterField, { uniqueItems: true }),
  },
  { additionalProperties: false },
);
export type RegisterPolicy = Static<typeof RegisterPolicy>;
