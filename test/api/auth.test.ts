import http from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/api/index.ts';
import { EMBEDDED_AUDIENCE, EMBEDDED_ISSUER, issueToken } from '../../src/auth/index.ts';
import { createPlatform } from '../../src/platform/index.ts';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  silentLogger,
  testConfig,
  tmpDataDir,
  type TestWorld,
} from '../helpers.ts';

describe('authentication and authorization', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld();
  });
  afterAll(async () => world.close());

  const get = (url: string, token?: string) =>
    world.server.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers 401 problem+json without a token', async () => {
    const res = await get('/v1/catalog');
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({
      status: 401,
      code: 'ERR_AUTH_MISSING_TOKEN',
      type: 'urn:pds:problem:ERR_AUTH_MISSING_TOKEN',
    });
    expect(res.json().requestId).toBe(res.headers['x-request-id']);
  });

  it('refuses a token with a bad signature', async () => {
    const token = await world.token('operator', 'org-a');
    const [h, p, s] = token.split('.');
    const mid = Math.floor(s!.length / 2);
    const flipped = `${s!.slice(0, mid)}${s![mid] === 'A' ? 'B' : 'A'}${s!.slice(mid + 1)}`;
    expect((await get('/v1/catalog', `${h}.${p}.${flipped}`)).json()).toMatchObject({ code: 'ERR_AUTH_INVALID_TOKEN' });
  });

  it('refuses alg: none', async () => {
    const none = new UnsecuredJWT({ org: 'org-a', roles: ['bureau'] })
      .setSubject('x')
      .setIssuer(EMBEDDED_ISSUER)
      .setAudience(EMBEDDED_AUDIENCE)
      .setExpirationTime('1h')
      .encode();
    const res = await get('/v1/catalog', none);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('ERR_AUTH_INVALID_TOKEN');
  });

  it('refuses an expired token', async () => {
    const old = await issueToken(
      world.platform.keys,
      { sub: 'x', org: 'org-a', roles: ['operator'], ttlSeconds: 60 },
      new Date(Date.now() - 3600_000),
    );
    const res = await get('/v1/catalog', old);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('ERR_AUTH_TOKEN_EXPIRED');
  });

  it('refuses a wrong audience and a token signed by a foreign key', async () => {
    const wrongAud = await new SignJWT({ org: 'org-a', roles: ['operator'] })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setSubject('x')
      .setIssuer(EMBEDDED_ISSUER)
      .setAudience('urn:someone-else')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(world.platform.keys.issuer.privateKey);
    expect((await get('/v1/catalog', wrongAud)).statusCode).toBe(401);
    const { privateKey } = await generateKeyPair('EdDSA');
    const foreign = await new SignJWT({ org: 'org-a', roles: ['operator'] })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setSubject('x')
      .setIssuer(EMBEDDED_ISSUER)
      .setAudience(EMBEDDED_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    expect((await get('/v1/catalog', foreign)).statusCode).toBe(401);
    // the bureau key signs contracts, never user tokens
    const bureauSigned = await new SignJWT({ org: 'org-a', roles: ['bureau'] })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setSubject('x')
      .setIssuer(EMBEDDED_ISSUER)
      .setAudience(EMBEDDED_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(world.platform.keys.bureau.privateKey);
    expect((await get('/v1/catalog', bureauSigned)).statusCode).toBe(401);
  });

  it('answers 403 for a wrong role', async () => {
    const provider = await world.token('provider', 'org-psb');
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${provider}` },
      payload: APPLICATION,
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('ERR_AUTH_FORBIDDEN');
    const operator = await world.token('operator', 'org-a');
    expect((await get('/v1/audit', operator)).statusCode).toBe(403);
  });

  it('answers 400 naming every invalid field', async () => {
    const operator = await world.token('operator', 'org-a');
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${operator}` },
      payload: {
        ...APPLICATION,
        termMonths: 48,
        scenario: { name: 'x', purpose: 'y', colour: 'red' },
        emergencyPlan: undefined,
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const fields = (res.json().errors as { field: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(['/body/emergencyPlan', '/body/scenario/colour', '/body/termMonths']);
  });

  it("hides another organisation's objects behind 404", async () => {
    const contractId = await approvedContract(world, 'org-a');
    const a = await world.token('operator', 'org-a');
    const b = await world.token('operator', 'org-b');
    const job = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${a}` },
      payload: { contractId, sql: 'SELECT district, count(*) FROM population GROUP BY 1' },
    });
    expect(job.statusCode).toBe(202);
    const id = job.json().id as string;
    const other = await get(`/v1/jobs/${id}`, b);
    expect(other.statusCode).toBe(404);
    expect(other.json().code).toBe('ERR_NOT_FOUND');
    expect((await get(`/v1/contracts/${contractId}`, b)).statusCode).toBe(404);
    const submitUnderOthers = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${b}` },
      payload: { contractId, sql: 'SELECT count(*) FROM population' },
    });
    expect(submitUnderOthers.statusCode).toBe(404);
    expect((await get(`/v1/jobs/${id}`, a)).statusCode).toBe(200);
  });

  it('keeps a well-formed client request id', async () => {
    const res = await world.server.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-123' } });
    expect(res.headers['x-request-id']).toBe('trace-123');
  });
});

describe('external identity provider (AUTH_JWKS_URL)', () => {
  it('verifies tokens against a remote JWKS and refuses the embedded issuer', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'ES256' };
    const idp = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const port = (idp.address() as { port: number }).port;
    const t = tmpDataDir();
    const config = testConfig(t.dir, {
      auth: {
        jwksUrl: new URL(`http://127.0.0.1:${port}/jwks`),
        issuer: 'https://idp.test',
        audience: 'pds-api',
        rolesClaim: 'roles',
        orgClaim: 'org',
        client: undefined,
      },
    });
    const platform = await createPlatform(config, silentLogger);
    const server = await createServer(platform, silentLogger);
    try {
      const good = await new SignJWT({ org: 'org-a', roles: 'operator risk' })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
        .setSubject('u1')
        .setIssuer('https://idp.test')
        .setAudience('pds-api')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      expect(
        (await server.inject({ method: 'GET', url: '/v1/catalog', headers: { authorization: `Bearer ${good}` } }))
          .statusCode,
      ).toBe(200);
      const embedded = await issueToken(platform.keys, { sub: 'x', org: 'org-a', roles: ['bureau'] });
      expect(
        (await server.inject({ method: 'GET', url: '/v1/catalog', headers: { authorization: `Bearer ${embedded}` } }))
          .statusCode,
      ).toBe(401);
    } finally {
      await server.close();
      await platform.close();
      idp.close();
      t.cleanup();
    }
  });
});
