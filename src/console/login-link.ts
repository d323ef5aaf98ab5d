/**
 * One-time sign-in links for the embedded mode (no external IdP): `pds login-link` signs a short
 * lived statement with the embedded issuer's key — who, which organisation, which role — and the
 * console turns it into a session once. The link's id is recorded when it is used, in the same
 * transaction as the audit entry, so a link copied from a terminal or a mail cannot sign in twice.
 * Opening the link shows a confirmation; only its POST signs in, so a mail scanner that fetches the
 * link does not spend it.
 */
import { randomUUID } from 'node:crypto';
import { errors as joseErrors } from 'jose';
import { Type } from 'typebox';
import { appendAudit } from '../audit/index.ts';
import { EMBEDDED_ISSUER, USER_ROLES, type UserRole } from '../auth/index.ts';
import type { Principal } from '../auth/index.ts';
import { PdsError } from '../errors/index.ts';
import { openSealed, seal, type KeyRing } from '../keys/index.ts';
import type { Store } from '../store/index.ts';

export const LOGIN_LINK_TYP = 'pds-login-link+jwt';
export const CONSOLE_AUDIENCE = 'urn:pds:console';
/** A link lives ten minutes unless asked otherwise (at most a day). */
export const LOGIN_LINK_TTL_SECONDS = 600;

const LinkClaims = Type.Object({
  sub: Type.String({ minLength: 1, maxLength: 200 }),
  org: Type.String({ minLength: 1, maxLength: 100 }),
  role: Type.Union(USER_ROLES.map((r) => Type.Literal(r))),
  jti: Type.String({ minLength: 1, maxLength: 100 }),
  exp: Type.Integer(),
});

export interface LoginLinkRequest {
  sub: string;
  org: string;
  role: UserRole;
  ttlSeconds?: number;
}

export interface LoginLink {
  principal: Principal;
  jti: string;
  expiresAt: number;
}

export async function issueLoginLink(keys: KeyRing, req: LoginLinkRequest, now = new Date()): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  const ttl = Math.min(req.ttlSeconds ?? LOGIN_LINK_TTL_SECONDS, 24 * 3600);
  return seal(
    keys.issuer,
    { org: req.org, role: req.role },
    {
      typ: LOGIN_LINK_TYP,
      issuer: EMBEDDED_ISSUER,
      audience: CONSOLE_AUDIENCE,
      subject: req.sub,
      jti: randomUUID(),
      issuedAt: iat,
      expiresAt: iat + ttl,
    },
  );
}

/** Checks a link's signature and lifetime, without using it. */
export async function openLoginLink(keys: KeyRing, link: string): Promise<LoginLink> {
  try {
    const c = await openSealed<{ sub: string; org: string; role: UserRole; jti: string; exp: number }>(
      link,
      keys.sets.issuer.verifier(),
      LinkClaims,
      { typ: LOGIN_LINK_TYP, issuer: EMBEDDED_ISSUER, audience: CONSOLE_AUDIENCE },
    );
    return { principal: { sub: c.sub, org: c.org, roles: [c.role] }, jti: c.jti, expiresAt: c.exp * 1000 };
  } catch (err) {
    const why = err instanceof joseErrors.JWTExpired ? 'it has expired' : 'its signature or form does not check out';
    throw new PdsError('ERR_LOGIN_LINK_INVALID', `this sign-in link cannot be used: ${why}; ask for a new one`);
  }
}

/**
 * Records a sign-in (a link's id once; an OIDC sign-in under its own id) with its audit entry, in
 * one transaction: a link used twice is refused with ERR_LOGIN_LINK_USED and no session is made.
 */
export async function recordSignIn(
  store: Store,
  s: { jti: string; via: 'link' | 'oidc'; principal: Principal; requestId?: string },
): Promise<void> {
  await store.write(async (tx) => {
    const used = await tx.one('SELECT signed_in_at FROM console_sign_ins WHERE jti = $1', [s.jti]);
    if (used)
      throw new PdsError(
        'ERR_LOGIN_LINK_USED',
        `this sign-in link was used at ${String(used.signed_in_at)}; ask for a new one`,
      );
    const at = new Date().toISOString();
    await tx.run(
      'INSERT INTO console_sign_ins VALUES ($1, $2, $3, $4, $5, $6)',
      [s.jti, s.via, s.principal.sub, s.principal.org, JSON.stringify(s.principal.roles), at],
      'console_sign_ins',
    );
    await appendAudit(tx, {
      actor: { sub: s.principal.sub, org: s.principal.org, role: s.principal.roles[0]! },
      action: 'console.signed_in',
      objectType: 'session',
      objectId: s.jti,
      requestId: s.requestId,
      details: { via: s.via, roles: s.principal.roles },
    });
  });
}
