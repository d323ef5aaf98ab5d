import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import { PdsError } from '../errors/index.ts';
import type { CheckReport } from '../disclosure/index.ts';
import type { SigningKey } from '../keys/index.ts';
import { CONTRACT_ISSUER } from '../contracts/index.ts';

export const MANIFEST_TYP = 'pds-manifest+jwt';

/**
 * What the bureau's seal on a released output says (seed 002 第二十六条: electronic seal;
 * seed 003 第三十四条: every product cites its data sources).
 */
export interface Manifest {
  output: { id: string; sha256: string; format: 'text/csv'; rows: number; columns: string[] };
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

export async function signManifest(key: SigningKey, m: Manifest, operatorOrg: string): Promise<string> {
  return new SignJWT({ ...m })
    .setProtectedHeader({ alg: 'EdDSA', typ: MANIFEST_TYP, kid: key.kid })
    .setIssuer(CONTRACT_ISSUER)
    .setSubject(operatorOrg)
    .setIssuedAt(Math.floor(Date.parse(m.releasedAt) / 1000))
    .setJti(m.output.id)
    .sign(key.privateKey);
}

/** Verifies a manifest against a key or a JWKS; pinned to EdDSA and the manifest `typ`. */
export async function verifyManifest(jws: string, key: CryptoKey | JWTVerifyGetKey): Promise<Manifest & JWTPayload> {
  try {
    const { payload } = await jwtVerify(jws, key as CryptoKey, { algorithms: ['EdDSA'], typ: MANIFEST_TYP, issuer: CONTRACT_ISSUER, requiredClaims: ['jti', 'iat'] });
    return payload as unknown as Manifest & JWTPayload;
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) throw new PdsError('ERR_VALIDATION', `manifest does not verify (${err.code})`, { cause: err });
    throw err;
  }
}
