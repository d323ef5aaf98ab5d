/**
 * How the CLI's API commands reach a server: a signed-in profile (`pds login`), overridden by
 * PDS_SERVER / PDS_TOKEN or --server / --token, and the typed client over it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { createPdsClient, type PdsClient } from '../client/index.ts';
import { PdsError } from '../errors/index.ts';

export interface Profile {
  server: string;
  token: string;
  sub: string;
  org: string;
  roles: string[];
  savedAt: string;
}

export interface ApiOptions {
  server?: string;
  token?: string;
  json?: boolean;
}

/** Where `pds login` keeps its profile: PDS_CONFIG_DIR, else $XDG_CONFIG_HOME/pds, else ~/.config/pds. */
export function profileFile(): string {
  const dir =
    process.env.PDS_CONFIG_DIR ?? path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'pds');
  return path.join(dir, 'profile.json');
}

export function readProfile(): Profile | undefined {
  const file = profileFile();
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  } catch (err) {
    throw new PdsError('ERR_CONFIG', `${file} is not a pds profile (${(err as Error).message}); run pds login again`);
  }
}

/** Written whole (temp file, then rename) and readable by its owner only: it holds a bearer token. */
export function writeProfile(profile: Profile): string {
  const file = profileFile();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(profile, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}

export function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PdsError('ERR_CONFIG', `--server: ${JSON.stringify(raw)} is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new PdsError('ERR_CONFIG', `--server: must be an http:// or https:// URL, got ${url.protocol}`);
  return url.origin;
}

/** The client for a command: flags over environment over the saved profile. */
export function clientFrom(opts: ApiOptions): PdsClient {
  const profile = opts.server && opts.token ? undefined : readProfile();
  const server = opts.server ?? process.env.PDS_SERVER ?? profile?.server;
  const token = opts.token ?? process.env.PDS_TOKEN ?? profile?.token;
  // ERR_AUTH_MISSING_TOKEN: its sentence (请重新登录) is what a person without a profile needs to read
  if (!server || !token)
    throw new PdsError(
      'ERR_AUTH_MISSING_TOKEN',
      'not signed in: run `pds login --server URL --token TOKEN` (a token from your identity provider, or `pds token` on the server), or set PDS_SERVER and PDS_TOKEN',
    );
  return createPdsClient({ baseUrl: serverUrl(server), token });
}

/** --server, --token and --json on an API command. */
export function apiCommand(cmd: Command): Command {
  return cmd
    .addOption(new Option('--server <url>', 'API 地址（默认 PDS_SERVER，否则取已登录的配置）'))
    .addOption(new Option('--token <token>', 'Bearer 令牌（默认 PDS_TOKEN，否则取已登录的配置）'))
    .option('--json', '以 JSON 打印 API 的回答');
}

/** Prints JSON, or the lines a person reads. */
export function print(opts: { json?: boolean }, value: unknown, lines: () => string[]): void {
  console.log(opts.json ? JSON.stringify(value, null, 2) : lines().join('\n'));
}
