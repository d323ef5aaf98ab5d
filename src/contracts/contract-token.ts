import { errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { Type } from 'typebox';
import { PdsError } from '../errors/index.ts';
import { BUREAU_ISSUER, openSealed, seal, SealedClaimsInvalid, type SigningKey } from '../keys/index.ts';
import type { DatasetGrant, SnapshotTable } from '../masking/index.ts';
import type { QueryMode } from '../sandbox/index.ts';

/** Issuer and audience of every contract: the bureau signs for the sandbox to enforce. */
export const CONTRACT_ISSUER = BUREAU_ISSUER;
export const CONTRACT_AUDIENCE = 'urn:pds:sandbox';
export const CONTRACT_TYP = 'pds-contract+jwt';

export interface Scenario {
  name: string;
  purpose: string;
  description?: string;
  paid?: boolean;
}

export interface EmergencyPlan {
  contact: string;
  triggers: string[];
  actions: string[];
}

/** What the bureau signs (seed 002 第三十四条: 一场景一协议). */
export interface ContractClaims {
  application: string;
  scenario: Scenario;
  mode: QueryMode;
  datasets: DatasetGrant[];
  disclosure: { minUnits: number; maxRows: number };
  /** dp mode: the ε budget over the term and the most one query may spend; null in other modes. */
  privacyBudget: { epsilon: number; epsilonPerQuery: number } | null;
  emergencyPlan: EmergencyPlan;
  securityControls: string[];
  policyHash: string;
  catalogVersion: string;
  snapshot: { hash: string; tables: Record<string, SnapshotTable>; recordKeys?: boolean; unitKeys?: boolean };
  /** Approved although its risk preview broke the policy: the warnings and the bureau's reason. */
  decisionOverride?: DecisionOverride;
}

/** The claims the bureau decided: everything a contract signs but its snapshot's, which comes after. */
export type DecidedClaims = Omit<ContractClaims, 'snapshot'>;

export interface DecisionOverride {
  reason: string;
  warnings: string[];
  by: string;
}

const Strings = Type.Array(Type.String());

/** The shape a contract's claims must have to be opened (the signature alone does not make them well-formed). */
export const ContractClaimsSchema = Type.Object({
  application: Type.String(),
  scenario: Type.Object({
    name: Type.String(),
    purpose: Type.String(),
    description: Type.Optional(Type.String()),
    paid: Type.Optional(Type.Boolean()),
  }),
  mode: Type.Union([Type.Literal('aggregate'), Type.Literal('dp'), Type.Literal('custom')]),
  datasets: Type.Array(
    Type.Object({
      dataset: Type.String(),
      provider: Type.String(),
      providerName: Type.String(),
      privacyUnit: Type.String(),
      columns: Type.Array(Type.Object({ column: Type.String(), rule: Type.String() })),
    }),
    { minItems: 1 },
  ),
  disclosure: Type.Object({ minUnits: Type.Integer({ minimum: 1 }), maxRows: Type.Integer({ minimum: 1 }) }),
  privacyBudget: Type.Union([
    Type.Null(),
    Type.Object({
      epsilon: Type.Number({ exclusiveMinimum: 0 }),
      epsilonPerQuery: Type.Number({ exclusiveMinimum: 0 }),
    }),
  ]),
  emergencyPlan: Type.Object({ contact: Type.String(), triggers: Strings, actions: Strings }),
  securityControls: Strings,
  policyHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  catalogVersion: Type.String(),
  snapshot: Type.Object({
    hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    tables: Type.Record(
      Type.String(),
      Type.Object({
        rows: Type.Integer({ minimum: 0 }),
        units: Type.Optional(Type.Integer({ minimum: 0 })),
        columns: Strings,
        nonNull: Type.Optional(Strings),
        uniqueWith: Type.Optional(Type.Array(Strings)),
      }),
    ),
    recordKeys: Type.Optional(Type.Boolean()),
    unitKeys: Type.Optional(Type.Boolean()),
  }),
  decisionOverride: Type.Optional(Type.Object({ reason: Type.String(), warnings: Strings, by: Type.String() })),
});

export type VerifiedContract = ContractClaims &
  Required<Pick<JWTPayload, 'iss' | 'sub' | 'aud' | 'iat' | 'nbf' | 'exp' | 'jti'>>;

export async function signContract(
  key: SigningKey,
  claims: ContractClaims,
  meta: {
    contractId: string;
    operatorOrg: string;
    issuedAt: Date;
    notBefore: Date;
    expiresAt: Date;
  },
): Promise<string> {
  return seal(
    key,
    { ...claims },
    {
      typ: CONTRACT_TYP,
      issuer: CONTRACT_ISSUER,
      subject: meta.operatorOrg,
      audience: CONTRACT_AUDIENCE,
      jti: meta.contractId,
      issuedAt: Math.floor(meta.issuedAt.getTime() / 1000),
      notBefore: Math.floor(meta.notBefore.getTime() / 1000),
      expiresAt: Math.floor(meta.expiresAt.getTime() / 1000),
    },
  );
}

/**
 * Verifies a contract's signature, type, issuer, audience and term against the bureau's keys
 * (selected by `kid`, retired keys included). Pinned to EdDSA and the contract `typ`, so neither
 * `alg: none` nor a user token signed by another key passes. Each way to fail has its own code.
 */
export async function verifyContract(
  jws: string,
  keys: JWTVerifyGetKey,
  now: Date = new Date(),
): Promise<VerifiedContract> {
  try {
    return await openSealed<VerifiedContract>(jws, keys, ContractClaimsSchema, {
      typ: CONTRACT_TYP,
      issuer: CONTRACT_ISSUER,
      audience: CONTRACT_AUDIENCE,
      requiredClaims: ['sub', 'iat', 'nbf', 'exp', 'jti'],
      currentDate: now,
      clockTolerance: 0,
    });
  } catch (err) {
    throw contractError(err);
  }
}

function contractError(err: unknown): PdsError {
  if (err instanceof SealedClaimsInvalid) return new PdsError('ERR_CONTRACT_INVALID', err.message, { cause: err });
  const jose = (err as { code?: string }).code ?? 'unknown';
  if (err instanceof joseErrors.JWTExpired) return new PdsError('ERR_CONTRACT_EXPIRED', 'the contract term has ended');
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf')
    return new PdsError('ERR_CONTRACT_NOT_YET_VALID', 'the contract term has not started');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new PdsError(
      'ERR_CONTRACT_SIGNATURE_INVALID',
      'the contract signature does not verify: it was altered or signed by another key',
    );
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return new PdsError('ERR_CONTRACT_KEY_UNKNOWN', "the contract names a key that is not one of the bureau's keys");
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return new PdsError('ERR_CONTRACT_ALG_NOT_ALLOWED', 'the contract is not signed with EdDSA', { cause: err });
  }
  return new PdsError('ERR_CONTRACT_INVALID', `contract verification failed (${jose})`, { cause: err });
}

/** Adds whole calendar months, clamping to the month's last day (31 Jan + 1 month = 28/29 Feb). */
export function addMonths(date: Date, months: number): Date {
  const d = new Date(date.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}
