import { Type } from 'typebox';
import { ReasonCategory, RegisterKind } from '../../policies/index.ts';
import { REGISTER_FORMAT, REGISTER_PAGE_MAX } from '../../register/index.ts';
import { Id } from './index.ts';

/** Request and response schemas of the public register (seed 003 第三十五条; GET /v1/register). */

const closed = { additionalProperties: false } as const;
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Instant = Type.String({ description: 'RFC 3339, UTC' });

/** The statement the bureau writes for publication: no ID number, mobile number, e-mail address or query. */
export const PublicStatement = Type.String({
  minLength: 1,
  maxLength: 1000,
  description:
    'the public statement (公示说明), written for publication; refused (ERR_REGISTER_STATEMENT_PERSONAL) if it carries an ID number, a mobile number, an e-mail address or a query',
});

export const RegisterEntrySchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    prev: Type.String({ description: "the previous entry's hash; 64 zeros for the first" }),
    kind: RegisterKind,
    recordedAt: Instant,
    publishedAt: Instant,
    contractId: Type.Optional(Type.String()),
    operatorOrg: Type.Optional(Type.String({ description: 'the licensed operating company, never a person' })),
    scenarioTitle: Type.Optional(Type.String()),
    datasets: Type.Optional(Type.Array(Type.String())),
    action: Type.Optional(
      Type.Union([
        Type.Literal('suspend'),
        Type.Literal('resume'),
        Type.Literal('revoke'),
        Type.Literal('withdraw-dataset'),
        Type.Literal('restrict'),
        Type.Literal('record-violation'),
      ]),
    ),
    effectiveAt: Type.Optional(Instant),
    reasonCategory: Type.Optional(ReasonCategory),
    statement: Type.Optional(Type.String()),
    hash: Type.String({ description: "SHA-256 of the entry's canonical JSON (RFC 8785) without hash and jws" }),
    jws: Type.String({ description: 'the bureau seal over the same body (typ pds-register-entry+jwt)' }),
  },
  { ...closed, description: 'one register entry; the fields shown are those policies/register.yaml publishes' },
);

export const RegisterHeadSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 0, description: 'how many entries are public' }),
    hash: Sha256,
    signedAt: Instant,
    jws: Type.String({ description: 'the bureau seal over {seq, hash} (typ pds-register-head+jwt)' }),
  },
  closed,
);

export const RegisterPageSchema = Type.Object(
  {
    format: Type.Literal(REGISTER_FORMAT),
    head: RegisterHeadSchema,
    entries: Type.Array(RegisterEntrySchema),
    next: Type.Union([Type.Integer(), Type.Null()], { description: 'the `after` of the next page; null on the last' }),
  },
  closed,
);

export const RegisterQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 2147483647, description: 'entries after this seq (default 0)' }),
    ),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: REGISTER_PAGE_MAX, description: `at most this many (default 100)` }),
    ),
  },
  closed,
);

export const ViolationBody = Type.Object(
  {
    contractId: Id,
    kind: Type.Optional(
      Type.Union([Type.Literal('violation'), Type.Literal('restriction')], {
        description: 'violation (default), or a restriction of access the bureau imposed',
      }),
    ),
    reasonCategory: ReasonCategory,
    statement: PublicStatement,
    reason: Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'the internal reason: kept in the audit trail, never published',
    }),
  },
  closed,
);

export const ViolationResult = Type.Object(
  {
    entry: Type.Union([RegisterEntrySchema, Type.Null()], {
      description: 'the published entry; null when policies/register.yaml publishes no entry of this kind',
    }),
  },
  closed,
);

/** A lifecycle change or a withdrawal: the internal reason, and what the register shows instead. */
export const PublishedChangeBody = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 2000, description: 'the internal reason: never published' }),
    reasonCategory: Type.Optional(ReasonCategory),
    statement: Type.Optional(PublicStatement),
  },
  closed,
);
