import { errors as joseErrors, type CryptoKey, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { Type, type Static } from 'typebox';
import { PdsError } from '../errors/index.ts';
import { BUREAU_ISSUER, openSealed, seal, SealedClaimsInvalid, type SigningKey } from '../keys/index.ts';

export const DESTRUCTION_TYP = 'pds-destruction+jwt';

/** What was destroyed: a contract's masked snapshot, or an output's data in every form. */
export const DESTRUCTION_KINDS = ['snapshot', 'output'] as const;
export type DestructionKind = (typeof DESTRUCTION_KINDS)[number];

/**
 * Why, a closed list: the contract's term ended, it was revoked, its retention ran out
 * (policies/retention.yaml), or someone asked (a review that rejected an output).
 */
export const DESTRUCTION_WHYS = ['term-ended', 'revoked', 'retention', 'request'] as const;
export type DestructionWhy = (typeof DESTRUCTION_WHYS)[number];

/** Who asked for the deletion; `housekeeping` for retention. */
export const HOUSEKEEPING_ACTOR = { sub: 'housekeeping', role: 'system', org: 'domain' } as const;

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });

/**
 * One file as the record seals it: its path under DATA_DIR, the SHA-256 and size taken before
 * deletion, and what the deletion step found — `unlinked` (it removed the file) or `gone-before`
 * (the file was already gone when the step ran, e.g. a process stopped after unlinking and before
 * sealing, and the restart completed the record).
 */
export const DestroyedFileSchema = Type.Object(
  {
    path: Type.String({ minLength: 1 }),
    sha256: Sha256,
    bytes: Type.Integer({ minimum: 0 }),
    removal: Type.Union([Type.Literal('unlinked'), Type.Literal('gone-before')]),
  },
  { additionalProperties: false },
);
export type DestroyedFile = Static<typeof DestroyedFileSchema>;

/** The claims a destruction record's seal carries (typ `pds-destruction+jwt`). */
export const DestructionClaimsSchema = Type.Object({
  kind: Type.Union([Type.Literal('snapshot'), Type.Literal('output')]),
  contractId: Type.String({ minLength: 1 }),
  outputId: Type.Optional(Type.String({ minLength: 1 })),
  why: Type.Union([
    Type.Literal('term-ended'),
    Type.Literal('revoked'),
    Type.Literal('retention'),
    Type.Literal('request'),
  ]),
  by: Type.Object({ sub: Type.String(), role: Type.String(), org: Type.String() }, { additionalProperties: false }),
  requestedAt: Type.String(),
  destroyedAt: Type.String(),
  /**
   * How: `unlinked` — the directory entries were removed; the blocks stay on the device until
   * reused (on ext4 and SSDs an overwrite would be no guarantee either). Encryption at rest is
   * what keeps them unreadable (docs/operations.md, "Retention and destruction records").
   */
  method: Type.Literal('unlinked'),
  files: Type.Array(DestroyedFileSchema, { minItems: 1 }),
});
export type DestructionClaims = Static<typeof DestructionClaimsSchema>;

/** Seals a completed record with the bureau key; `jti` is the record id, `sub` the contract. */
export async function sealDestruction(key: SigningKey, id: string, claims: DestructionClaims): Promise<string> {
  return seal(key, claims, {
    typ: DESTRUCTION_TYP,
    issuer: BUREAU_ISSUER,
    subject: claims.contractId,
    jti: id,
    issuedAt: Math.floor(Date.parse(claims.destroyedAt) / 1000),
  });
}

/**
 * Verifies a destruction record against a key or a JWKS (offline: `pds verify-destruction`):
 * EdDSA, the record's `typ`, the bureau issuer, then the claims' shape. Whatever fails is
 * ERR_DESTRUCTION_RECORD_INVALID naming what.
 */
export async function verifyDestruction(
  jws: string,
  key: CryptoKey | JWTVerifyGetKey,
): Promise<DestructionClaims & JWTPayload> {
  try {
    return await openSealed<DestructionClaims>(jws.trim(), key, DestructionClaimsSchema, {
      typ: DESTRUCTION_TYP,
      issuer: BUREAU_ISSUER,
      requiredClaims: ['jti', 'iat', 'sub'],
    });
  } catch (err) {
    if (err instanceof SealedClaimsInvalid)
      throw new PdsError('ERR_DESTRUCTION_RECORD_INVALID', `destruction record does not verify (${err.message})`, {
        cause: err,
      });
    if (err instanceof joseErrors.JOSEError)
      throw new PdsError('ERR_DESTRUCTION_RECORD_INVALID', `destruction record does not verify (${err.code})`, {
        cause: err,
      });
    throw err;
  }
}
