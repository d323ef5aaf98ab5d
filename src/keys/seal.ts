import { jwtVerify, SignJWT, type CryptoKey, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { TSchema } from 'typebox';
import type { Compile } from 'typebox/compile';
import type { SigningKey } from './signing-keys.ts';

/** The issuer of every document the bureau key seals (contracts, manifests, reports, checkpoints, acknowledgements). */
export const BUREAU_ISSUER = 'urn:pds:bureau';

/**
 * One builder behind every signed document of the domain — contracts, output manifests, risk
 * reports, audit checkpoints and embedded user tokens — each with its own `typ`, always EdDSA
 * with the key's `kid` (docs/architecture.md, "Signed documents"). Opening one verifies the
 * signature pinned to EdDSA, the `typ` and the issuer (and audience, term, required claims when
 * asked), then checks the claims against the document's TypeBox schema: a payload is typed only
 * after it was shown to have that shape.
 */

export interface SealHeader {
  typ: string;
  issuer: string;
  subject?: string;
  audience?: string;
  jti?: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  notBefore?: number;
  expiresAt?: number;
}

export async function seal(key: SigningKey, claims: Record<string, unknown>, h: SealHeader): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: h.typ, kid: key.kid })
    .setIssuer(h.issuer)
    .setIssuedAt(h.issuedAt);
  if (h.subject !== undefined) jwt.setSubject(h.subject);
  if (h.audience !== undefined) jwt.setAudience(h.audience);
  if (h.jti !== undefined) jwt.setJti(h.jti);
  if (h.notBefore !== undefined) jwt.setNotBefore(h.notBefore);
  if (h.expiresAt !== undefined) jwt.setExpirationTime(h.expiresAt);
  return jwt.sign(key.privateKey);
}

export interface OpenOptions {
  typ: string;
  issuer: string;
  audience?: string;
  requiredClaims?: string[];
  currentDate?: Date;
  clockTolerance?: number;
}

/** A sealed document whose signature holds but whose claims do not have the document's shape. */
export class SealedClaimsInvalid extends Error {
  constructor(
    readonly typ: string,
    readonly problems: string[],
  ) {
    super(`the ${typ} claims do not have the expected shape: ${problems.slice(0, 3).join('; ')}`);
    this.name = 'SealedClaimsInvalid';
  }
}

const compiled = new WeakMap<TSchema, ReturnType<typeof Compile>>();

/**
 * Verifies and opens a sealed document; jose's errors pass through (each caller maps them to its
 * codes), and claims off the schema throw SealedClaimsInvalid.
 */
export async function openSealed<T>(
  jws: string,
  key: CryptoKey | JWTVerifyGetKey,
  schema: TSchema,
  o: OpenOptions,
): Promise<T & JWTPayload> {
  const { payload } = await jwtVerify(jws, key as JWTVerifyGetKey, {
    algorithms: ['EdDSA'],
    typ: o.typ,
    issuer: o.issuer,
    audience: o.audience,
    requiredClaims: o.requiredClaims,
    currentDate: o.currentDate,
    clockTolerance: o.clockTolerance,
  });
  let check = compiled.get(schema);
  if (!check) {
    // loaded on first use: the compiler costs a CLI command that never opens a document ~0.4 s
    check = (await import('typebox/compile')).Compile(schema);
    compiled.set(schema, check);
  }
  if (!check.Check(payload))
    throw new SealedClaimsInvalid(
      o.typ,
      [...check.Errors(payload)].map((e) => `${e.instancePath || '/'} ${e.message}`),
    );
  return payload as T & JWTPayload;
}
