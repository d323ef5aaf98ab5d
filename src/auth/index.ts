import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { ExternalAuthConfig } from '../config/index.ts';
import type { Principal } from './principal.ts';
import { PdsError } from '../errors/index.ts';
import { seal, type KeyRing } from '../keys/index.ts';

export { actorOf, canSeeOperatorWork, canSeeScenario, hasRole, type Principal } from './principal.ts';

/** The roles a person's token may carry. */
export const USER_ROLES = ['operator', 'provider', 'bureau', 'risk'] as const;
/**
 * `worker`: a registered `pds worker`, signed in with its own credential (never a token): it may
 * only claim jobs, renew its leases and hand back outcomes (docs/architecture.md, "Workers").
 */
export const ROLES = [...USER_ROLES, 'worker'] as const;
export type Role = (typeof ROLES)[number];
export type UserRole = (typeof USER_ROLES)[number];

/** The embedded issuer's identity, used when no external IdP is configured. */
export const EMBEDDED_ISSUER = 'urn:pds:embedded-issuer';
export const EMBEDDED_AUDIENCE = 'urn:pds:api';

export interface TokenRequest {
  sub: string;
  org: string;
  roles: UserRole[];
  /** Lifetime in seconds. Default 12 hours. */
  ttlSeconds?: number;
}

/** Signs a user token with the embedded issuer's key (`pds token`, the demo, tests). */
export async function issueToken(keys: KeyRing, req: TokenRequest, now: Date = new Date()): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return seal(
    keys.issuer,
    { org: req.org, roles: req.roles },
    {
      typ: 'JWT',
      issuer: EMBEDDED_ISSUER,
      audience: EMBEDDED_AUDIENCE,
      subject: req.sub,
      issuedAt: iat,
      expiresAt: iat + (req.ttlSeconds ?? 12 * 3600),
    },
  );
}

export type TokenVerifier = (token: string) => Promise<Principal>;

/** Asymmetric algorithms only: an HMAC algorithm would let a public key be used as a shared secret. */
const EXTERNAL_ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'];

/**
 * Verifies bearer tokens, pinned to algorithms, issuer and audience (never `alg: none`, never a
 * key from the token). Roles come from a `roles` array (or a space-separated string) claim.
 */
export function createTokenVerifier(keys: KeyRing, external: ExternalAuthConfig | undefined): TokenVerifier {
  // the embedded issuer's keys are resolved by `kid` at each call, so a rotation needs no restart
  const key: JWTVerifyGetKey = external
    ? createRemoteJWKSet(external.jwksUrl, { timeoutDuration: 5000, cooldownDuration: 30_000 })
    : (header, token) => keys.sets.issuer.verifier()(header, token);
  const options = {
    algorithms: external ? EXTERNAL_ALGORITHMS : ['EdDSA'],
    issuer: external?.issuer ?? EMBEDDED_ISSUER,
    audience: external?.audience ?? EMBEDDED_AUDIENCE,
    requiredClaims: ['sub', 'exp'],
  };
  return async (token) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, options));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw new PdsError('ERR_AUTH_TOKEN_EXPIRED', 'the bearer token has expired');
      const code = (err as { code?: string }).code ?? 'ERR_UNKNOWN';
      throw new PdsError('ERR_AUTH_INVALID_TOKEN', `the bearer token is invalid (${code})`);
    }
    const rawRoles = claimAt(payload, external?.rolesClaim ?? 'roles');
    const org = claimAt(payload, external?.orgClaim ?? 'org');
    // a token never makes its bearer a worker: workers sign in with their own credentials
    const roles = (Array.isArray(rawRoles) ? rawRoles : typeof rawRoles === 'string' ? rawRoles.split(' ') : []).filter(
      (r): r is UserRole => (USER_ROLES as readonly string[]).includes(String(r)),
    );
    if (typeof org !== 'string' || org === '')
      throw new PdsError('ERR_AUTH_INVALID_TOKEN', `the bearer token has no ${external?.orgClaim ?? 'org'} claim`);
    if (roles.length === 0)
      throw new PdsError('ERR_AUTH_INVALID_TOKEN', `the bearer token has no known role (${USER_ROLES.join(', ')})`);
    return { sub: payload.sub!, org, roles };
  };
}

/** A claim by name, or by dotted path into nested objects (an IdP's `realm_access.roles`). */
function claimAt(payload: Record<string, unknown>, name: string): unknown {
  if (name in payload) return payload[name];
  let v: unknown = payload;
  for (const part of name.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}
