import type { Server } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLoginLink } from '../../src/console/index.ts';
import { buildWorld, SLOWDOWN, type TestWorld } from '../helpers.ts';
import { freePort } from '../support/ports.ts';
import { launch } from './browser.ts';

const AUDIENCE = 'urn:pds:api:test';
const WAIT = { timeout: 30_000 * SLOWDOWN };

/**
 * Sign-in against a real OpenID provider (oidc-provider, a certified implementation) running in the
 * test: authorization code with PKCE, a JWT access token for the API's audience, the person's roles
 * and organisation in claims named by configuration (here nested, as Keycloak puts them).
 */
describe('console sign-in with OpenID Connect (authorization code + PKCE)', () => {
  let idp: Server;
  let world: TestWorld;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const idpPort = await freePort();
    const issuer = `http://127.0.0.1:${idpPort}`;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'pds-console',
          token_endpoint_auth_method: 'none',
          redirect_uris: [`${base}/console/auth/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          id_token_signed_response_alg: 'ES256',
        },
      ],
      jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'idp-1' }] },
      pkce: { required: () => true },
      cookies: { keys: ['test-cookie-key'] },
      findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
      features: {
        devInteractions: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'openid profile',
            audience: AUDIENCE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 3600,
            jwt: { sign: { alg: 'ES256' } },
          }),
        },
      },
      // the organisation's directory: roles and department in the access token
      extraTokenClaims: async () => ({ realm_access: { roles: ['provider', 'not-a-role'] }, department: 'org-psb' }),
    });
    idp = await new Promise<Server>((resolve) => {
      const s = provider.listen(idpPort, '127.0.0.1', () => resolve(s));
    });
    world = await buildWorld({
      rows: 300,
      config: {
        auth: {
          issuer,
          jwksUrl: new URL(`${issuer}/jwks`),
          audience: AUDIENCE,
          rolesClaim: 'realm_access.roles',
          orgClaim: 'department',
          client: { id: 'pds-console', secret: undefined },
        },
        console: { publicUrl: new URL(base), idleMinutes: 30, absoluteHours: 8 },
      },
    });
    await world.server.listen({ port, host: '127.0.0.1' });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await world?.close();
    await new Promise((r) => idp?.close(r));
  });

  it('signs a provider in through the IdP, with roles and organisation from the configured claims', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/console/reviews`);
    // not signed in: the sign-in page, then the IdP
    await page.waitForURL(/\/console\/signin/);
    await page.getByRole('link', { name: '统一身份认证登录' }).click();
    await page.locator('input[name=login]').waitFor(WAIT);
    expect(page.url()).not.toContain(base);
    await page.locator('input[name=login]').fill('li.na');
    await page.locator('input[name=password]').fill('any');
    await page.locator('button[type=submit]').click();
    await page.locator('button[type=submit]').click(); // consent
    await page.waitForURL(`${base}/console/reviews`, WAIT);
    expect((await page.locator('.who').textContent())!.replace(/\s+/g, ' ')).toContain(
      'li.na · org-psb · 数据提供单位',
    );
    expect(await page.locator('h1').textContent()).toBe('审核队列');
    // the session cookie is Strict and HttpOnly; the pending sign-in's cookie is gone
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'pds_console')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookies.some((c) => c.name === 'pds_oidc' && c.value !== '')).toBe(false);
    // audited as an OIDC sign-in
    const audit = await world.platform.store.all<{ details: string }>(
      "SELECT details FROM audit_log WHERE action = 'console.signed_in'",
    );
    expect(audit.map((a) => JSON.parse(a.details).via)).toContain('oidc');
    await context.close();
  });

  it('refuses a callback that is not the answer to a sign-in this browser started', async () => {
    const res = await fetch(`${base}/console/auth/callback?code=stolen&state=forged`, { redirect: 'manual' });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('ERR_CONSOLE_SIGN_IN');
  });

  it('turns sign-in links off: the embedded issuer does not speak for this deployment', async () => {
    const link = await issueLoginLink(world.platform.keys, { sub: 'x', org: 'org-bureau', role: 'bureau' });
    const res = await fetch(`${base}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ link }),
      redirect: 'manual',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
  });
});
