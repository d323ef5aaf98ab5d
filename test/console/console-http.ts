/** A console session driven over HTTP (inject): sign in by link, read pages, post forms as a browser would. */
import type { UserRole } from '../../src/auth/index.ts';
import { issueLoginLink } from '../../src/console/index.ts';
import type { TestWorld } from '../helpers.ts';

export interface ConsoleHttp {
  get(url: string): Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
  /** Posts urlencoded fields (a repeated name is several entries) with the session's CSRF token. */
  post(
    url: string,
    fields: [string, string][],
  ): Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
}

export async function consoleAs(
  world: TestWorld,
  who: { role: UserRole; org: string; sub: string },
): Promise<ConsoleHttp> {
  const link = await issueLoginLink(world.platform.keys, who);
  const login = await world.server.inject({ method: 'POST', url: '/console/login', payload: { link } });
  const line = [login.headers['set-cookie'] ?? []].flat().find((c) => String(c).startsWith('pds_console='));
  if (!line) throw new Error(`sign-in answered ${login.statusCode}: ${login.body}`);
  const cookie = String(line).split(';')[0]!;
  const home = await world.server.inject({ method: 'GET', url: '/console/', headers: { cookie } });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home.body)?.[1];
  if (!csrf) throw new Error('no CSRF token on the console home page');
  return {
    get: (url) => world.server.inject({ method: 'GET', url, headers: { cookie } }),
    post: (url, fields) =>
      world.server.inject({
        method: 'POST',
        url,
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams([['_csrf', csrf], ...fields]).toString(),
      }),
  };
}
