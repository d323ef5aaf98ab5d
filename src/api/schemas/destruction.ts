import { Type } from 'typebox';
import { Id } from './index.ts';

/** Request and response schemas of the destruction records (GET /v1/destruction-records). */

const closed = { additionalProperties: false } as const;
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });

export const DestructionListQuery = Type.Object(
  { contract: Type.Optional(Id) },
  { ...closed, description: "with contract: only that contract's records (its snapshot, its outputs' data)" },
);

export const DestructionRecordView = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('snapshot'), Type.Literal('output')], {
    description: "snapshot: a contract's masked snapshot; output: an output's data in every form",
  }),
  subjectId: Type.String({ description: 'the contract (snapshot) or the output' }),
  contractId: Type.String(),
  why: Type.Union(
    [Type.Literal('term-ended'), Type.Literal('revoked'), Type.Literal('retention'), Type.Literal('request')],
    {
      description:
        'closed list: the term ended, revoked, retention ran out (policies/retention.yaml), or asked for (a review that did not release the output)',
    },
  ),
  by: Type.Object(
    { sub: Type.String(), role: Type.String(), org: Type.String() },
    { description: 'who asked for it; sub `housekeeping` for retention' },
  ),
  status: Type.Union([Type.Literal('pending'), Type.Literal('done')], {
    description:
      'pending: recorded, files not yet deleted (completed at the next start if the process stopped); done: deleted and sealed',
  }),
  requestedAt: Type.String(),
  destroyedAt: Type.Union([Type.String(), Type.Null()]),
  files: Type.Array(
    Type.Object({
      path: Type.String({ description: 'relative to DATA_DIR' }),
      sha256: Sha256,
      bytes: Type.Integer({ minimum: 0 }),
      removal: Type.Optional(
        Type.Union([Type.Literal('unlinked'), Type.Literal('gone-before')], {
          description: 'unlinked: the deletion removed it; gone-before: it was already gone when the deletion step ran',
        }),
      ),
    }),
  ),
  method: Type.Literal('unlinked', {
    description:
      'directory entries removed, blocks not overwritten (docs/operations.md, "Retention and destruction records")',
  }),
  jws: Type.Union([Type.String(), Type.Null()], {
    description:
      'the record sealed by the bureau key (typ pds-destruction+jwt) once done; check it offline with `pds verify-destruction`',
  }),
  jwsSha256: Type.Union([Sha256, Type.Null()], {
    description: 'SHA-256 of the seal, as the audit entry data.destroyed names it',
  }),
});
