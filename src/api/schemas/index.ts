import { Type, type Static, type TSchema } from 'typebox';
import { RiskAssessmentReportSchema } from '../../reports/index.ts';
import { AttackCostSchema } from '../../disclosure/index.ts';
import { RULE_PATTERN } from '../../policies/index.ts';

/**
 * Request and response schemas of the HTTP API. The same schemas validate requests, type the
 * handlers and generate `/openapi.json`. Objects are closed (`additionalProperties: false`) so
 * a misspelt field is an error naming it, not silently ignored.
 */

const closed = { additionalProperties: false } as const;
const Str = (min = 1, max = 2000) => Type.String({ minLength: min, maxLength: max });

export const Id = Type.String({ pattern: '^[a-z]{2,4}_[a-z0-9]{8,40}$', maxLength: 64 });
export const IdParams = Type.Object({ id: Id }, closed);

/** An SQL refusal's machine facts (src/errors/refusals.ts): clients render their own words from them. */
const RefusalFacts = Type.Object({
  reason: Type.String({ description: 'which refusal of the sandbox: one of a fixed list (src/errors/refusals.ts)' }),
  function: Type.Optional(Type.String({ description: 'a function or operator the query calls' })),
  columnName: Type.Optional(Type.String({ description: 'a column the query names' })),
  table: Type.Optional(Type.String()),
  clause: Type.Optional(Type.String({ description: 'the clause or construct at fault, as SQL writes it' })),
  limit: Type.Optional(Type.String({ description: 'a limit the query passed' })),
  allowed: Type.Optional(Type.Array(Type.String(), { description: 'the columns the rule allows here' })),
});

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    facts: Type.Optional(RefusalFacts),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details' },
);

export const ProblemRef = Type.Ref('Problem');

/** Any rule of the masking grammar; which ones a column allows is in GET /v1/catalog (columns[].masking.allowed). */
const MaskingRule = Type.String({
  pattern: RULE_PATTERN,
  maxLength: 64,
  description:
    "a masking rule: keep | drop | pseudonymize | partial | generalize:year|quarter|month|district | generalize:age-band:W[:T] (T: ages from T up in one band T+) | generalize:range:W | topcode:V | bottomcode:V | noise:F (F ≥ 0.12) | rare-to-other:K. Each column allows the rules GET /v1/catalog lists for it (masking.allowed: a kind such as 'generalize' allows every form of it); a refusal names them",
  examples: ['generalize:age-band:10', 'noise:0.2', 'rare-to-other:20'],
});

export const ApplicationBody = Type.Object(
  {
    operatorOrg: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: "the applying organisation; when given it must be the caller's own",
      }),
    ),
    scenario: Type.Object(
      {
        name: Str(1, 200),
        purpose: Str(1, 2000),
        description: Type.Optional(Str(0, 10000)),
        paid: Type.Optional(Type.Boolean()),
      },
      closed,
    ),
    mode: Type.Union([Type.Literal('aggregate'), Type.Literal('dp'), Type.Literal('custom')]),
    termMonths: Type.Integer({ minimum: 1, maximum: 36, description: 'seed 002 第三十二条: at most three years' }),
    datasets: Type.Array(
      Type.Object(
        {
          dataset: Str(1, 100),
          columns: Type.Array(Str(1, 100), { minItems: 1, maxItems: 200 }),
          masking: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), MaskingRule)),
        },
        closed,
      ),
      { minItems: 1, maxItems: 20 },
    ),
    emergencyPlan: Type.Object(
      {
        contact: Str(1, 200),
        triggers: Type.Array(Str(1, 500), { minItems: 1 }),
        actions: Type.Array(Str(1, 500), { minItems: 1 }),
      },
      { ...closed, description: 'seed 002 第三十九条: 一场景一预案' },
    ),
    securityControls: Type.Optional(Type.Array(Str(1, 500))),
  },
  closed,
);
export type ApplicationBody = Static<typeof ApplicationBody>;

/** What `POST /v1/applications/preview` reads: the datasets, columns and masking choices, and the mode. */
export const ApplicationPreviewBody = Type.Pick(ApplicationBody, ['mode', 'datasets'], { additionalProperties: false });

export const ReviewBody = Type.Object(
  {
    dataset: Str(1, 100),
    decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]),
    reason: Type.Optional(Str(0, 2000)),
  },
  closed,
);

export const DecisionBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]),
    reason: Str(1, 2000),
    override: Type.Optional(
      Type.Object(
        { reason: Str(1, 2000) },
        {
          ...closed,
          description:
            "approve although the application's risk preview breaks the policy (its `warnings`): why; recorded in the signed contract, the audit trail and the contract's reports",
        },
      ),
    ),
    terms: Type.Optional(
      Type.Object(
        {
          termMonths: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 36, description: 'at most the term applied for' }),
          ),
          minUnits: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 1000, description: 'k: at least the policy floor' }),
          ),
          maxRows: Type.Optional(Type.Integer({ minimum: 1, description: 'at most the policy ceiling' })),
          epsilon: Type.Optional(
            Type.Number({
              exclusiveMinimum: 0,
              description: 'dp mode: ε budget over the term, at most the policy ceiling',
            }),
          ),
          epsilonPerQuery: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, description: 'dp mode: most ε one query may spend' }),
          ),
          columns: Type.Optional(
            Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.Array(Str(1, 100), { maxItems: 200 }), {
              description: 'per dataset, the columns to keep (a subset of those applied for)',
            }),
          ),
        },
        { ...closed, description: 'the bureau may tighten the application, never loosen policy' },
      ),
    ),
  },
  closed,
);

export const StatusChangeBody = Type.Object(
  {
    reason: Str(1, 2000),
  },
  closed,
);

export const AssessmentBody = Type.Object(
  {
    year: Type.Integer({ minimum: 2000, maximum: 2200 }),
    passed: Type.Boolean(),
    indicators: Type.Array(
      Type.Object(
        {
          name: Str(1, 200),
          // what the reports render and rate: a number, or null for an indicator not measured (issue 32:
          // a text value was stored and signed, and every later report of the contract failed)
          value: Type.Union([Type.Number(), Type.Null()], { description: 'the measured value; null: not measured' }),
          target: Type.Optional(
            Type.Union([Type.Number(), Type.Null()], { description: 'the target; null: none set' }),
          ),
          met: Type.Boolean(),
        },
        closed,
      ),
      { minItems: 1, maxItems: 100 },
    ),
    assessor: Str(1, 200),
    notes: Type.Optional(Str(0, 10000)),
  },
  { ...closed, description: 'seed 002 第三十五条: yearly effectiveness assessment' },
);

// not an allOf with the closed AssessmentBody: no object could be valid against both (a client
// validating against the document's schema refused every stored assessment)
export const AssessmentView = Type.Object({
  ...AssessmentBody.properties,
  contractId: Type.String(),
  recordedBy: Type.String(),
  recordedAt: Type.String(),
});

export const ApplicationListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  closed,
);

export const ReviewListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')])),
    overdue: Type.Optional(Type.Boolean({ description: 'only pending reviews past their deadline' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  closed,
);

export const ContractStatus = Type.Union(
  [
    Type.Literal('building'),
    Type.Literal('failed'),
    Type.Literal('active'),
    Type.Literal('suspended'),
    Type.Literal('revoked'),
    Type.Literal('expired'),
  ],
  {
    description:
      'building: approved, its snapshot being built (see build); failed: the build failed (statusReason), the bureau may retry it; active once signed with its sealed snapshot',
  },
);

export const ContractListQuery = Type.Object(
  {
    status: Type.Optional(ContractStatus),
    dataset: Type.Optional(Type.String({ maxLength: 100 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  closed,
);

export const SubmitHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'makes a retried submission return the same job',
    }),
  ),
});

export const JobBody = Type.Object(
  {
    contractId: Id,
    sql: Str(1, 100_000),
    name: Type.Optional(Str(1, 200)),
    revisionOf: Type.Optional(
      Type.String({
        maxLength: 64,
        pattern: '^job_[a-z0-9]+$',
        description: 'the job the reviewers sent back (changes-requested) that this one revises',
      }),
    ),
    dp: Type.Optional(
      Type.Object(
        {
          bounds: Type.Record(
            Type.String({ pattern: '^[a-z_][a-z0-9_]*$' }),
            // an array of two rather than a tuple: TypeBox's tuple is draft-07 `items: [...]`, which
            // OpenAPI 3.1 tools refuse (they want 2020-12 `prefixItems`, which this Ajv does not speak)
            Type.Unsafe<[number, number]>(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 })),
            {
              description: 'dp mode: per-unit contribution bounds [low, high] of each summed or averaged column',
            },
          ),
          maxGroupsPerUnit: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 100,
              description:
                'dp mode: the most groups one person counts in (default and ceiling: policies/disclosure.yaml dp); more groups, more noise',
            }),
          ),
          maxRowsPerUnit: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 100,
              description:
                'dp mode: the most joined rows of one person counted in a group (a table with several rows a person); more rows, more noise',
            }),
          ),
        },
        closed,
      ),
    ),
  },
  closed,
);

export const OutputDataQuery = Type.Object(
  {
    format: Type.Optional(
      Type.Union([Type.Literal('csv'), Type.Literal('json'), Type.Literal('parquet')], { default: 'csv' }),
    ),
  },
  closed,
);

export const DummyDataQuery = Type.Object(
  {
    rows: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, default: 100, description: 'rows per table' })),
    seed: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 1, description: 'the same seed gives the same rows' }),
    ),
    format: Type.Optional(
      Type.Union([Type.Literal('json'), Type.Literal('duckdb'), Type.Literal('parquet')], {
        description: 'json (default); duckdb: one database file of every table; parquet: one table (see table)',
      }),
    ),
    table: Type.Optional(
      Type.String({ pattern: '^[a-z_][a-z0-9_]*$', maxLength: 64, description: 'parquet: which table' }),
    ),
  },
  closed,
);

const OutputStatus = Type.Union([
  Type.Literal('released'),
  Type.Literal('held'),
  Type.Literal('rejected'),
  Type.Literal('changes-requested'),
]);

export const OutputListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(OutputStatus.anyOf, { description: 'held = the bureau review queue' })),
    contractId: Type.Optional(Type.String({ maxLength: 64 })),
  },
  closed,
);

export const OutputReviewBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('approve'), Type.Literal('reject'), Type.Literal('request-changes')]),
    reason: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        description: 'required to reject or to request changes: the operator reads it in the job’s thread',
      }),
    ),
  },
  closed,
);

export const AuditQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    objectId: Type.Optional(Type.String({ maxLength: 64 })),
    action: Type.Optional(Type.String({ maxLength: 64 })),
  },
  closed,
);

const Reason = Type.Object({
  code: Type.String(),
  message: Type.String(),
  layer: Type.Optional(
    Type.String({ description: 'the sandbox layer that stopped the job: analysis, engine, process or disclosure' }),
  ),
  rule: Type.Optional(
    Type.String({ description: 'the named SQL rule a static-analysis refusal cites (README, "Sandbox rules")' }),
  ),
  facts: Type.Optional(RefusalFacts),
});

const JobStatus = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('rejected'),
  Type.Literal('held'),
  Type.Literal('released'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
  Type.Literal('changes-requested'),
]);

export const JobView = Type.Object({
  id: Type.String(),
  contractId: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  status: JobStatus,
  reasons: Type.Array(Reason),
  outputId: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Integer({ description: 'runs so far; more than one after an infrastructure failure was retried' }),
  submittedBy: Type.String(),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  revisionOf: Type.Union([Type.String(), Type.Null()], { description: 'the changes-requested job this one revises' }),
});

export const JobListQuery = Type.Object(
  {
    contractId: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(JobStatus),
    since: Type.Optional(
      Type.String({ format: 'date-time', description: 'submitted at or after this instant (RFC 3339)' }),
    ),
    before: Type.Optional(
      Type.String({ maxLength: 64, pattern: '^job_[a-z0-9]+$', description: "the previous page's `next`" }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 100' })),
  },
  closed,
);

export const ValidateBody = Type.Omit(JobBody, ['name', 'revisionOf']);

export const Validation = Type.Object({
  valid: Type.Boolean(),
  mode: Type.String(),
  reasons: Type.Array(Reason, {
    description: 'what a submission of this SQL would be refused with (empty when valid)',
  }),
  tables: Type.Optional(Type.Array(Type.String(), { description: 'the snapshot tables it reads' })),
  columns: Type.Optional(
    Type.Array(Type.Object({ name: Type.String(), type: Type.String() }), {
      description: 'the columns the output would have',
    }),
  ),
});

export const JobList = Type.Object({
  jobs: Type.Array(JobView),
  next: Type.Union([Type.String(), Type.Null()], {
    description: 'pass as `before` for the next page; null on the last',
  }),
});

const Check = Type.Object({
  check: Type.String(),
  params: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()])),
  passed: Type.Boolean(),
  effect: Type.String(),
  onFail: Type.Optional(Type.Union([Type.Literal('hold'), Type.Literal('refuse')])),
  rule: Type.Optional(Type.String({ description: 'the rule a refusal is recorded under, when not the check itself' })),
  facts: Type.Optional(
    Type.Record(Type.String(), Type.Union([Type.Number(), Type.String()]), {
      description:
        "the specifics `effect` names, as machine values: a held differencing check's `pairedWith` output id and `rows`, a held max-rows check's `rows`",
    }),
  ),
  rowsSuppressed: Type.Optional(Type.Integer()),
  cellsSuppressed: Type.Optional(Type.Integer()),
});

export const OutputView = Type.Object({
  id: Type.String(),
  jobId: Type.String(),
  contractId: Type.String(),
  status: OutputStatus,
  columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
  rowCount: Type.Integer(),
  cellsSuppressed: Type.Integer(),
  checks: Type.Array(Check),
  sha256: Type.String(),
  heldBecause: Type.Array(Type.String(), { description: 'why a held output waits for review' }),
  withheld: Type.Optional(
    Type.Object(
      { workerId: Type.String(), forgedJobId: Type.String(), at: Type.String() },
      {
        description:
          'a held output withheld because the worker that ran it was caught forging: the worker, the forged job and when (its output.withheld audit entry)',
      },
    ),
  ),
  reviews: Type.Array(
    Type.Object({
      reviewer: Type.String(),
      decision: Type.Union([Type.Literal('approve'), Type.Literal('reject'), Type.Literal('request-changes')]),
      reason: Type.Union([Type.String(), Type.Null()]),
      reviewedAt: Type.String(),
    }),
    {
      description:
        'the votes you may read: reviews are independent, so until both votes are in a reviewer sees only their own',
    },
  ),
  votes: Type.Object({ recorded: Type.Integer(), needed: Type.Integer() }),
  releasedAt: Type.Union([Type.String(), Type.Null()]),
  releasedBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});

const Grant = Type.Object({
  dataset: Type.String(),
  provider: Type.String(),
  providerName: Type.String(),
  privacyUnit: Type.String(),
  columns: Type.Array(Type.Object({ column: Type.String(), rule: Type.String() })),
});

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ReviewView = Type.Object({
  dataset: Type.String(),
  provider: Type.String(),
  status: Type.String(),
  reviewer: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  reviewedAt: Nullable(Type.String()),
  dueAt: Type.Union([Type.String(), Type.Null()], {
    description: 'when the provider must answer (policies/workflow.yaml; seed 001 第二十条)',
  }),
  overdue: Type.Boolean(),
});

export const ReviewQueueItem = Type.Intersect([
  ReviewView,
  Type.Object({
    applicationId: Type.String(),
    operatorOrg: Type.String(),
    scenario: Type.String(),
    submittedAt: Type.String(),
  }),
]);

export const ApplicationView = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
  operatorOrg: Type.String(),
  createdBy: Type.String(),
  createdAt: Type.String(),
  scenario: ApplicationBody.properties.scenario,
  mode: Type.String(),
  termMonths: Type.Integer(),
  datasets: Type.Array(
    Type.Object({
      dataset: Type.String(),
      columns: Type.Array(Type.String()),
      masking: Type.Optional(Type.Record(Type.String(), Type.String())),
    }),
  ),
  emergencyPlan: ApplicationBody.properties.emergencyPlan,
  securityControls: Type.Optional(Type.Array(Type.String())),
  grants: Type.Array(Grant),
  risk: Type.Union(
    [
      Type.Record(
        Type.String(),
        Type.Union([
          Type.Object({
            quasiIdentifiers: Type.Array(Type.String()),
            sensitive: Type.Array(Type.String()),
            records: Type.Integer(),
            classes: Type.Integer(),
            k: Type.Integer({ description: 'the smallest class (k-anonymity achieved)' }),
            policyK: Type.Integer(),
            recordsBelowK: Type.Integer(),
            shareBelowK: Type.Number(),
            prosecutorRisk: Type.Number({ description: '1 / the smallest class' }),
            averageRisk: Type.Number(),
            classSizes: Type.Array(
              Type.Object({ size: Type.String(), classes: Type.Integer(), records: Type.Integer() }),
            ),
            lDiversity: Type.Record(Type.String(), Type.Integer()),
          }),
          Type.Null(),
        ]),
      ),
      Type.Null(),
    ],
    {
      description:
        're-identification risk of the snapshot this application would get, per dataset (ARX measures; null: no data yet)',
    },
  ),
  attackCost: AttackCostSchema,
  reviews: Type.Array(ReviewView),
  warnings: Type.Array(Type.String(), {
    description:
      'what in the risk preview breaks the policy (k below the policy’s, prosecutor risk above policies/workflow.yaml decisionSafety): approving needs override.reason',
  }),
  notices: Type.Array(Type.String(), {
    description:
      'what the policy does with these datasets that reviewers should know, e.g. a dataset of sensitive facts about people (catalog sensitiveFacts) is analysed only under the ε budget; no override needed',
  }),
  decision: Type.Union([
    Type.Object({
      by: Type.String(),
      at: Type.String(),
      reason: Type.Union([Type.String(), Type.Null()]),
      terms: Type.Union([
        Type.Object({}, { additionalProperties: true, description: 'the terms the contract was signed with' }),
        Type.Null(),
      ]),
      override: Type.Union([
        Type.Object({ reason: Type.String(), warnings: Type.Array(Type.String()), by: Type.String() }),
        Type.Null(),
      ]),
    }),
    Type.Null(),
  ]),
  contractId: Type.Union([Type.String(), Type.Null()]),
});

export const ContractView = Type.Object({
  id: Type.String(),
  applicationId: Type.String(),
  operatorOrg: Type.String(),
  status: ContractStatus,
  statusReason: Type.Union([Type.String(), Type.Null()]),
  statusChangedAt: Type.Union([Type.String(), Type.Null()]),
  statusChangedBy: Type.Union([Type.String(), Type.Null()]),
  notBefore: Type.Union([Type.String(), Type.Null()], { description: 'null until the contract is signed' }),
  expiresAt: Type.Union([Type.String(), Type.Null()], { description: 'null until the contract is signed' }),
  createdAt: Type.String(),
  claims: Type.Object(
    {},
    {
      additionalProperties: true,
      description: 'the signed contract claims; before signing, the decided claims without the snapshot',
    },
  ),
  build: Type.Union(
    [
      Type.Object({
        phase: Type.Union([
          Type.Literal('waiting'),
          Type.Literal('counting'),
          Type.Literal('writing'),
          Type.Literal('assessing'),
          Type.Literal('sealing'),
          Type.Literal('failed'),
        ]),
        table: Type.Union([Type.String(), Type.Null()]),
        done: Type.Number({ minimum: 0, maximum: 1, description: 'share of the build done' }),
        attempts: Type.Integer(),
        error: Type.Union([Type.String(), Type.Null()], { description: "the last attempt's error" }),
      }),
      Type.Null(),
    ],
    { description: 'the snapshot build, while the contract is not signed yet' },
  ),
});

export const DecisionResult = Type.Object({
  application: ApplicationView,
  contractId: Type.Union([Type.String(), Type.Null()]),
  contract: Type.Union([ContractView, Type.Null()]),
});

export const AuditEntryView = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  actor: Type.String(),
  role: Type.String(),
  org: Type.String(),
  action: Type.String(),
  objectType: Type.String(),
  objectId: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Object({}, { additionalProperties: true }),
  prevHash: Type.String(),
  hash: Type.String(),
});

export const AuditVerification = Type.Object({
  ok: Type.Boolean(),
  entries: Type.Integer(),
  headHash: Type.String(),
  checkpoints: Type.Optional(Type.Integer({ description: 'signed checkpoints checked' })),
  firstBad: Type.Optional(
    Type.Object({
      seq: Type.Integer(),
      code: Type.String({ description: 'how the trail broke: seq-gap, prev-hash, entry-hash, checkpoint-…, entry-…' }),
      reason: Type.String(),
      expectedSeq: Type.Optional(Type.Integer()),
    }),
  ),
});

const PeriodLabel = Type.String({
  pattern: '^\\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$',
  description: '2026-Q3 (quarter), 2026-07 (month) or 2026 (year)',
});

export const ReportBody = Type.Object(
  {
    contractId: Type.Optional(Id),
    operatorOrg: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' })),
    domain: Type.Optional(Type.Literal(true, { description: 'the overview of every operator' })),
    period: Type.Optional(PeriodLabel),
  },
  {
    ...closed,
    description:
      'Exactly one of contractId, operatorOrg or domain. Without a period, the current one so far (the report says partial).',
  },
);

export const ReportListQuery = Type.Object(
  {
    subject: Type.Optional(Type.String({ maxLength: 64 })),
    period: Type.Optional(PeriodLabel),
    rating: Type.Optional(Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  closed,
);

export const ReportSummaryView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  subject: Type.String(),
  operatorOrg: Type.String(),
  period: Type.String(),
  trigger: Type.String(),
  rating: Type.String(),
  generatedAt: Type.String(),
});

export const SignedReport = Type.Object({
  report: RiskAssessmentReportSchema,
  acknowledgements: Type.Optional(
    Type.Array(
      Type.Object({
        reportId: Type.String(),
        org: Type.String(),
        by: Type.String(),
        statement: Type.String(),
        at: Type.String(),
        jws: Type.String(),
      }),
      { description: "the operator's acknowledgements of the report, each sealed with the report's signature" },
    ),
  ),
  jws: Type.String({
    description: 'bureau-signed {sha256, htmlSha256, rating, period}; verify against /.well-known/jwks.json',
  }),
  html: Type.String({ description: 'where the HTML page is' }),
  asSigned: Type.Optional(
    Type.String({
      description:
        "only for a report an earlier version made in a shape the schema no longer describes: its JSON exactly as signed (the JWS's sha256 is of this). `report` is then that report read in today's shape — text indicator values as not measured, fields it did not have zero or empty",
    }),
  ),
});

export const Comment = Type.Object({
  seq: Type.Integer(),
  author: Type.String(),
  org: Type.String(),
  role: Type.String(),
  body: Type.String(),
  createdAt: Type.String(),
});

export const CommentBody = Type.Object({ body: Str(1, 4000) }, closed);

const ColumnList = Type.Array(Type.Object({ name: Type.String(), type: Type.String() }));

/** SQL run in the sandbox on a contract's dummy data: its rows, or why it failed there. */
export const DummyRunResult = Type.Union([
  Type.Object({
    ok: Type.Literal(true),
    columns: ColumnList,
    rows: Type.Array(Type.Array(Type.Unknown())),
    dummyRows: Type.Integer({ description: 'dummy rows per table the query ran over' }),
  }),
  Type.Object({ ok: Type.Literal(false), code: Type.String(), message: Type.String() }),
]);

export const ReviewPacket = Type.Object({
  output: OutputView,
  job: Type.Object({
    id: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    sql: Type.String({ description: 'the SQL as the operator submitted it' }),
    submittedBy: Type.String(),
    createdAt: Type.String(),
    dp: Type.Union([
      Type.Object({
        bounds: Type.Record(Type.String(), Type.Array(Type.Number(), { minItems: 2, maxItems: 2 })),
        maxGroupsPerUnit: Type.Optional(Type.Integer()),
        maxRowsPerUnit: Type.Optional(Type.Integer()),
      }),
      Type.Null(),
    ]),
    revisionOf: Type.Union([Type.String(), Type.Null()], {
      description: 'the changes-requested job this one revises: its packet and thread hold the earlier round',
    }),
  }),
  analysis: Type.Union([
    Type.Object({
      mode: Type.String(),
      tables: Type.Array(Type.String()),
      readsColumns: Type.Array(Type.String()),
      ranSql: Type.String({ description: 'the SQL the sandbox ran: the checked query, rewritten for the mode' }),
      resultColumns: ColumnList,
    }),
    Type.Null(),
  ]),
  preview: Type.Object({
    columns: ColumnList,
    rows: Type.Array(Type.Array(Type.Unknown())),
    totalRows: Type.Integer(),
  }),
  dummy: Type.Union([DummyRunResult, Type.Null()], {
    description: "the same SQL run in the sandbox on the contract's dummy data (null: the job never ran)",
  }),
  thread: Type.Array(Comment),
});

const NumOrNull = Type.Union([Type.Number(), Type.Null()]);

export const BudgetView = Type.Object({
  contractId: Type.String(),
  mode: Type.String(),
  epsilon: Type.Union([Type.Number(), Type.Null()], {
    description: 'the budget for the term (null: not a dp contract)',
  }),
  spent: NumOrNull,
  remaining: NumOrNull,
  epsilonPerQuery: Type.Union([Type.Number(), Type.Null()], { description: 'what one dp query is charged' }),
  queriesLeft: Type.Union([Type.Integer(), Type.Null()]),
  charges: Type.Array(Type.Object({ jobId: Type.String(), epsilon: Type.Number(), chargedAt: Type.String() }), {
    description: 'the latest charges, newest first',
  }),
});

export const PreviewView = Type.Object({
  validation: Validation,
  budget: BudgetView,
  dp: Type.Union([
    Type.Object({
      epsilon: Type.Number({ description: 'what this query will be charged' }),
      delta: Type.Number(),
      threshold: Type.Number({ description: 'groups whose noisy count is below this are not shown' }),
      remainingAfter: Type.Number(),
      affordable: Type.Boolean(),
      measures: Type.Array(
        Type.Object({
          name: Type.String(),
          kind: Type.Union([
            Type.Literal('count'),
            Type.Literal('persons'),
            Type.Literal('sum'),
            Type.Literal('avg'),
            Type.Literal('variance'),
            Type.Literal('stddev'),
          ]),
          column: Type.Union([Type.String(), Type.Null()]),
          noiseScale: NumOrNull,
          variance: NumOrNull,
          error95: Type.Union(
            [Type.Number(), Type.Array(Type.Object({ units: Type.Number(), error95: Type.Number() }))],
            { description: '95 % of releases fall within this of the exact value (a mean: per group size)' },
          ),
        }),
      ),
    }),
    Type.Null(),
  ]),
});

export const FeedbackBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('data-quality'), Type.Literal('usage')]),
    contractId: Type.String({ maxLength: 64, description: 'the contract under which you used the dataset' }),
    subject: Str(1, 200),
    body: Str(1, 8000),
  },
  closed,
);

export const FeedbackView = Type.Object({
  id: Type.String(),
  dataset: Type.String(),
  provider: Type.String(),
  operatorOrg: Type.String(),
  contractId: Type.String(),
  kind: Type.Union([Type.Literal('data-quality'), Type.Literal('usage')]),
  subject: Type.String(),
  body: Type.String(),
  createdBy: Type.String(),
  createdAt: Type.String(),
  dueAt: Type.String({ description: "when the provider's answer is due (working days, as for reviews)" }),
  overdue: Type.Boolean(),
  answer: Type.Union([Type.Object({ body: Type.String(), by: Type.String(), at: Type.String() }), Type.Null()]),
});

export const FeedbackListQuery = Type.Object(
  {
    open: Type.Optional(Type.Boolean({ description: 'true: not answered yet; false: answered' })),
    dataset: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_]*$', maxLength: 64 })),
  },
  closed,
);

export const AnswerBody = Type.Object({ body: Str(1, 8000) }, closed);

export const AcknowledgementBody = Type.Object(
  { statement: Str(1, 8000) },
  { ...closed, description: 'what the operator did, or says, about the report' },
);

export const AcknowledgementView = Type.Object({
  reportId: Type.String(),
  org: Type.String(),
  by: Type.String(),
  statement: Type.String(),
  at: Type.String(),
  jws: Type.String({
    description: 'bureau-sealed {reportJwsSha256, statement, by, org}; verify against /.well-known/jwks.json',
  }),
});

/** An application's grants, risk and warnings before it is filed (nothing stored). */
export const ApplicationPreview = Type.Object({
  grants: ApplicationView.properties.grants,
  risk: ApplicationView.properties.risk,
  warnings: ApplicationView.properties.warnings,
  notices: ApplicationView.properties.notices,
});

/**
 * `schema` with `value` as its one example. @fastify/swagger moves a body's or a response's
 * top-level `examples` onto the media type (`example`), where Swagger UI and client generators read
 * it; test/api/openapi-docs.test.ts validates each against its schema. The examples themselves are
 * in ./examples/, one module per tag, taken from a run of the demo's flow. `value` is not typed as
 * Static<T>: plain example objects widen their literals, and the test's Ajv is the check that counts.
 */
export function example<T extends TSchema>(schema: T, value: unknown): T {
  return { ...schema, examples: [value] };
}
