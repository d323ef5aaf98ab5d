import { errors as joseErrors, type JWTPayload, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import { Type } from 'typebox';
import { PdsError } from '../errors/index.ts';
import type { CheckReport } from '../disclosure/index.ts';
import { openSealed, seal, SealedClaimsInvalid, type SigningKey } from '../keys/index.ts';
import { CONTRACT_ISSUER } from '../contracts/index.ts';

export const MANIFEST_TYP = 'pds-manifest+jwt';

/**
 * What the bureau's seal on a released output says (seed 002 第二十六条: electronic seal;
 * seed 003 第三十四条: every product cites its data sources).
 */
export interface Manifest {
  /** `sha256` seals the csv form; `formats` every form (absent in manifests made before). */
  output: {
    id: string;
    sha256: string;
    format: 'text/csv';
    rows: number;
    columns: string[];
    formats?: { csv: string; json: string; parquet: string };
  };
  contractId: string;
  jobId: string;
  sqlSha256: string;
  snapshotHash: string;
  policyHash: string;
  checks: CheckReport[];
  cellsSuppressed: number;
  epsilonSpent: number;
  /** Who executed the query: 'embedded' (the API's own executor) or the registered worker's id. */
  ranBy: string;
  dataSources: { dataset: string; provider: string; providerName: string }[];
  releasedAt: string;
  /** 'auto' when every check passed, else the bureau reviewers who released it. */
  releasedBy: string;
  reviewers?: string[];
}

const Scalar = Type.Union([Type.String(), Type.Number()]);

/** The shape a manifest's claims must have to be opened. */
export const ManifestSchema = Type.Object({
  output: Type.Object({
    id: Type.String(),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    format: Type.Literal('text/csv'),
    rows: Type.Integer({ minimum: 0 }),
    columns: Type.Array(Type.String()),
    formats: Type.Optional(
      Type.Object({
        csv: Type.String({ pattern: '^[0-9a-f]{64}$' }),
        json: Type.String({ pattern: '^[0-9a-f]{64}$' }),
        parquet: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      }),
    ),
  }),
  contractId: Type.String(),
  jobId: Type.String(),
  sqlSha256: Type.String(),
  snapshotHash: Type.String(),
  policyHash: Type.String(),
  checks: Type.Array(
    Type.Object({
      check: Type.String(),
      params: Type.Record(Type.String(), Scalar),
      passed: Type.Boolean(),
      effect: Type.String(),
      facts: Type.Optional(Type.Record(Type.String(), Scalar)),
    }),
  ),
  cellsSuppressed: Type.Integer({ minimum: 0 }),
  epsilonSpent: Type.Number({ minimum: 0 }),
  ranBy: Type.String(),
  dataSources: Type.Array(
    Type.Object({ dataset: Type.String(), provider: Type.String(), providerName: Type.String() }),
  ),
  releasedAt: Type.String(),
  releasedBy: Type.String(),
  reviewers: Type.Optional(Type.Array(Type.String())),
});

export async function signManifest(key: SigningKey, m: Manifest, operatorOrg: string): Promise<string> {
  return seal(
    key,
    { ...m },
    {
      typ: MANIFEST_TYP,
      issuer: CONTRACT_ISSUER,
      subject: operatorOrg,
      jti: m.output.id,
      issuedAt: Math.floor(Date.parse(m.releasedAt) / 1000),
    },
  );
}

/** Verifies a manifest against a key or a JWKS; pinned to EdDSA and the manifest `typ`. */
export async function verifyManifest(jws: string, key: CryptoKey | JWTVerifyGetKey): Promise<Manifest & JWTPayload> {
  try {
    return await openSealed<Manifest>(jws, key, ManifestSchema, {
      typ: MANIFEST_TYP,
      issuer: CONTRACT_ISSUER,
      requiredClaims: ['jti', 'iat'],
    });
  } catch (err) {
    if (err instanceof SealedClaimsInvalid)
      throw new PdsError('ERR_VALIDATION', `manifest does not verify (${err.message})`, { cause: err });
    if (err instanceof joseErrors.JOSEError)
      throw new PdsError('ERR_VALIDATION', `manifest does not verify (${err.code})`, { cause: err });
    throw err;
  }
}
