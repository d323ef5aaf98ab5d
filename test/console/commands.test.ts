import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorld, PDS_ENTRY, SLOWDOWN, tmpDataDir, type TestWorld } from '../helpers.ts';

/** `pds login-link` and `pds demo --serve`: the two ways into the console without an IdP. */
describe('console sign-in commands', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld({ rows: 300 });
  });
  afterAll(async () => {
    await world?.close();
  });

  const signInWith = async (url: string) => {
    const u = new URL(url);
    return world.server.inject({
      method: 'POST',
      url: '/console/login',
      payload: { link: u.searchParams.get('link')! },
    });
  };

  it('pds login-link prints a link for the data directory that signs in once', async () => {
    const run = spawnSync(
      process.execPath,
      [
        ...PDS_ENTRY,
        'login-link',
        '--data-dir',
        world.dataDir,
        '--role',
        'bureau',
        '--org',
        'org-bureau',
        '--sub',
        'wang.fang',
        '--url',
        'https://pds.example.gov.cn',
        '--json',
      ],
      { encoding: 'utf8', env: { ...process.env, AUTH_ISSUER: '', AUTH_JWKS_URL: '', AUTH_AUDIENCE: '' } },
    );
    expect(run.status, run.stderr).toBe(0);
    const { url, expiresAt } = JSON.parse(run.stdout) as { url: string; expiresAt: string };
    expect(url.startsWith('https://pds.example.gov.cn/console/login?link=')).toBe(true);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(600_000);
    const first = await signInWith(url);
    expect(first.statusCode).toBe(303);
    const page = await world.server.inject({
      method: 'GET',
      url: '/console/',
      headers: { cookie: String(first.headers['set-cookie']).split(';')[0]! },
    });
    expect(page.body).toContain('wang.fang');
    expect((await signInWith(url)).statusCode).toBe(409);
    // a bad role is named, and nothing is printed
    const bad = spawnSync(
      process.execPath,
      [...PDS_ENTRY, 'login-link', '--data-dir', world.dataDir, '--role', 'admin', '--org', 'x'],
      {
        encoding: 'utf8',
      },
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('admin');
    expect(bad.stdout).toBe('');
  });

  it('pds demo --serve passes the demo, keeps the console up with a link per role, and stops on SIGINT', async () => {
    const { dir, cleanup } = tmpDataDir('pds-serve-');
    const child = spawn(
      process.execPath,
      [...PDS_ENTRY, 'demo', '--serve', '--port', '0', '--rows', '800', '--data-dir', dir],
      {
        env: { ...process.env, SANDBOX_OS: process.env.SANDBOX_OS ?? 'bwrap' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      let out = '';
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const links = await new Promise<Record<string, string>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no links in time: ${out.slice(-800)}`)), 120_000 * SLOWDOWN);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (!out.includes('按 Ctrl-C 停止服务器')) return;
          clearTimeout(timer);
          resolve(
            Object.fromEntries(
              [...out.matchAll(/^ {2}(\w+)\s+(http:\/\/\S+\/console\/login\?link=\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
            ),
          );
        });
        child.once('exit', (code) => reject(new Error(`demo exited ${String(code)}: ${out.slice(-800)}`)));
      });
      expect(out).toContain('DEMO PASSED');
      expect(Object.keys(links).sort()).toEqual(['bureau', 'bureau2', 'operator', 'provider', 'risk']);
      // the link signs in on the demo's own server
      const link = new URL(links.risk!);
      const res = await fetch(`${link.origin}/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ link: link.searchParams.get('link')! }),
        redirect: 'manual',
      });
      expect(res.status).toBe(303);
      const home = await fetch(`${link.origin}/console/audit`, {
        headers: { cookie: res.headers.get('set-cookie')!.split(';')[0]! },
      });
      expect(await home.text()).toContain('审计日志');
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      cleanup();
    }
  });
});
