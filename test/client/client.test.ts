import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, createPdsClient, must } from '../../src/client/index.ts';
import { injectFetch } from '../../src/client/inject.ts';
import { buildWorld, type TestWorld } from '../helpers.ts';

/** The typed client: answers as data, refusals as ApiError with the problem's stable code. */
describe('the typed client', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld({ rows: 200 });
  }, 60_000);
  afterAll(() => world.close());

  const client = (token?: string) =>
    createPdsClient({ baseUrl: 'http://pds.test/', ...(token ? { token } : {}), fetch: injectFetch(world.server) });

  it('answers with the data of a call that succeeded', async () => {
    expect(await must(client().GET('/healthz'))).toMatchObject({ status: 'ok' });
    const me = await must(client(await world.token('risk', 'org-bureau', 'rui')).GET('/v1/me'));
    expect(me).toEqual({ sub: 'rui', org: 'org-bureau', roles: ['risk'] });
  });

  it('throws ApiError with the status, the stable code, the detail and the whole problem', async () => {
    const missing = await must(client().GET('/v1/me')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect(missing).toMatchObject({ status: 401, code: expect.stringMatching(/^ERR_AUTH_/) });

    const token = await world.token('operator', 'org-a');
    const notFound = await must(
      client(token).GET('/v1/jobs/{id}', { params: { path: { id: 'job_0000000000000000' } } }),
    ).catch((e: unknown) => e);
    expect(notFound).toMatchObject({
      status: 404,
      code: 'ERR_NOT_FOUND',
      detail: 'job job_0000000000000000 not found',
    });

    const invalid = (await must(
      client(token).POST('/v1/jobs', { body: { contractId: 'ctr_00000000', sql: '' } }),
    ).catch((e: unknown) => e)) as ApiError;
    expect(invalid).toMatchObject({ status: 400, code: 'ERR_VALIDATION' });
    expect(invalid.problem.errors).toEqual([expect.objectContaining({ field: '/body/sql' })]);
    expect(invalid.message).toBe(`400 ERR_VALIDATION: ${invalid.detail}`);
  });
});
