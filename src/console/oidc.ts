/**
 * Sign-in with the external identity provider: OpenID Connect's authorization-code flow with PKCE
 * (RFC 7636, S256) and a nonce, through `openid-client` (a certified relying party). The console
 * is a confidential "backend for frontend": the code is redeemed here, the access token is checked
 * exactly as the API checks a bearer token (issuer, audience, algorithms, the configured role and
 * organisation claims) and kept in the server's session; the browser holds only the session cookie.
 */
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import type { ExternalAuthConfig } from '../config/index.ts';
import type { Principal } from '../auth/index.ts';
import { PdsError } from '../errors/index.ts';

/** One sign-in under way: what the callback must match (kept server side, keyed by a cookie). */
interface Pending {
  verifier: string;
  state: string;
  nonce: string;
  createdAt: number;
}

const PENDING_MS = 10 * 60_000;
const MAX_PENDING = 10_000;

export interface SignedIn {
  principal: Principal;
  accessToken: string;
  /** When the access token expires (ms since the epoch), if the IdP said. */
  expiresAt: number | undefined;
  /** This sign-in's own id, under which it is recorded and audited. */
  signInId: string;
}

export class OidcSignIn {
  private config: oidc.Configuration | undefined;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly auth: ExternalAuthConfig & { client: NonNullable<ExternalAuthConfig['client']> },
    private readonly redirectUri: string,
    private readonly verifyToken: (token: string) => Promise<Principal>,
  ) {}

  /** Discovery, once and lazily: the API starts even while the IdP is unreachable. */
  private async configuration(): Promise<oidc.Configuration> {
    if (this.config) return this.config;
    const issuer = new URL(this.auth.issuer);
    const local = issuer.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
    try {
      this.config = await oidc.discovery(
        issuer,
        this.auth.client.id,
        undefined,
        this.auth.client.secret ? oidc.ClientSecretBasic(this.auth.client.secret) : oidc.None(),
        // plain http only for an IdP on this machine (tests, a developer's provider)
        local ? { execute: [oidc.allowInsecureRequests] } : undefined,
      );
    } catch (err) {
      throw new PdsError(
        'ERR_CONSOLE_SIGN_IN',
        `the identity provider ${issuer.href} cannot be reached: ${(err as Error).message}`,
      );
    }
    return this.config;
  }

  /** Where to send the browser, and the id of this pending sign-in (for a short-lived cookie). */
  async start(): Promise<{ url: URL; pendingId: string }> {
    const config = await this.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const p: Pending = {
      verifier,
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      createdAt: Date.now(),
    };
    this.sweep();
    const pendingId = randomBytes(24).toString('base64url');
    this.pending.set(pendingId, p);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: 'openid profile',
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: p.state,
      nonce: p.nonce,
      // an access token for the API (RFC 8707), which the API verifies by its audience
      resource: this.auth.audience,
    });
    return { url, pendingId };
  }

  /** Redeems the code the IdP sent back to `callbackUrl`; the pending sign-in is used up either way. */
  async finish(pendingId: string | undefined, callbackUrl: URL): Promise<SignedIn> {
    const p = pendingId ? this.pending.get(pendingId) : undefined;
    if (pendingId) this.pending.delete(pendingId);
    if (!p || Date.now() - p.createdAt > PENDING_MS)
      throw new PdsError(
        'ERR_CONSOLE_SIGN_IN',
        'no sign-in is under way in this browser (or it took over 10 minutes); start again',
      );
    const config = await this.configuration();
    let tokens;
    try {
      tokens = await oidc.authorizationCodeGrant(
        config,
        callbackUrl,
        { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce, idTokenExpected: true },
        { resource: this.auth.audience },
      );
    } catch (err) {
      throw new PdsError(
        'ERR_CONSOLE_SIGN_IN',
        `the identity provider's answer does not check out: ${(err as Error).message}`,
      );
    }
    // the same check the API makes of every bearer token: roles and organisation from the configured claims
    const principal = await this.verifyToken(tokens.access_token);
    const claims = tokens.claims();
    if (claims && claims.sub !== principal.sub)
      throw new PdsError('ERR_CONSOLE_SIGN_IN', 'the ID token and the access token name different people');
    const expiresIn = tokens.expiresIn();
    return {
      principal,
      accessToken: tokens.access_token,
      expiresAt: expiresIn === undefined ? undefined : Date.now() + expiresIn * 1000,
      signInId: `oidc-${randomBytes(16).toString('hex')}`,
    };
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) if (now - p.createdAt > PENDING_MS) this.pending.delete(id);
    while (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
  }
}
