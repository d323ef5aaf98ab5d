import fs from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { loadConfig } from '../config/index.ts';
import { ApiError } from '../client/index.ts';
import { isPdsError, PdsError } from '../errors/index.ts';
import { keysDir, loadKeyRing } from '../keys/index.ts';
import type { Store } from '../store/index.ts';
import { errorText } from '../terms/index.ts';

/** Applies `--data-dir` over DATA_DIR and validates the whole configuration once. */
export function configFrom(opts: { dataDir?: string }) {
  return loadConfig(opts.dataDir ? { ...process.env, DATA_DIR: opts.dataDir } : process.env);
}

export const dataDirOption = () => new Option('--data-dir <dir>', '状态目录（默认：$DATA_DIR 或 ./data）');
export const jwksOption = () =>
  new Option(
    '--jwks <urlOrFile>',
    '数据主管部门的 JWKS：地址（…/.well-known/jwks.json）或本地文件（默认：DATA_DIR 中的密钥）',
  );

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('须为正整数');
  return Number(value);
}

/** A TCP port; 0 lets the system choose. */
export function portNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('须为端口号（0 到 65535）');
  return Number(value);
}

export function isoTime(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('须为 ISO 8601 时间，例如 2027-01-01T00:00:00Z');
  return d;
}

/** A file's text, or standard input for `-`. */
export function readText(file: string, what: string): string {
  if (file === '-') return fs.readFileSync(0, 'utf8');
  if (!fs.existsSync(file)) throw new PdsError('ERR_VALIDATION', `${what}: ${file} does not exist`);
  return fs.readFileSync(file, 'utf8');
}

export function readJws(file: string): string {
  if (!fs.existsSync(file)) throw new PdsError('ERR_VALIDATION', `${file} does not exist`);
  return fs.readFileSync(file, 'utf8').trim();
}

/** The key resolver for offline verification: a JWKS URL or file, or the bureau keys of DATA_DIR. */
export async function jwksFrom(opts: { jwks?: string; dataDir?: string }): Promise<JWTVerifyGetKey> {
  if (opts.jwks && /^https?:\/\//.test(opts.jwks)) return createRemoteJWKSet(new URL(opts.jwks));
  if (opts.jwks) {
    if (!fs.existsSync(opts.jwks)) throw new PdsError('ERR_VALIDATION', `--jwks: ${opts.jwks} does not exist`);
    return createLocalJWKSet(JSON.parse(fs.readFileSync(opts.jwks, 'utf8')) as JSONWebKeySet);
  }
  const config = configFrom(opts);
  if (!fs.existsSync(keysDir(config.dataDir)))
    throw new PdsError(
      'ERR_VALIDATION',
      `no keys under ${config.dataDir}: pass --jwks with the bureau's JWKS URL or file`,
    );
  return (await loadKeyRing(config.dataDir)).bureauVerifier();
}

/**
 * What a command that opens the store can do while a server holds it: its `--api` form, or nothing
 * (then: stop the server, or run it on a copy of DATA_DIR).
 */
export interface StoreRoute {
  /** the same command through the running API, e.g. `pds audit verify --api <url> --token <令牌>` */
  api?: string;
  /** what to do when the command has no API form (default: stop the server, or use a copy) */
  instead?: string;
}

/** ERR_STORE_LOCKED with what this command can do instead, in words a person reads. */
export function storeLockedHint(err: PdsError, route: StoreRoute): PdsError {
  const instead = route.api
    ? `服务器运行时请改用 API：${route.api}`
    : (route.instead ?? '此命令没有 API 方式：请先停止服务器，或在 DATA_DIR 的备份副本上运行（--data-dir <副本目录>）');
  return new PdsError('ERR_STORE_LOCKED', `${err.detail}。${instead}`, { cause: err, extra: err.extra });
}

/**
 * Opens the control store for one command and always closes it (its file lock blocks a server
 * otherwise). A store a running server holds is refused with ERR_STORE_LOCKED and `route`.
 */
export async function withStore<T>(
  dataDir: string,
  fn: (store: Store) => Promise<T>,
  route: StoreRoute = {},
): Promise<T> {
  const { Store } = await import('../store/index.ts');
  let store: Store;
  try {
    store = await Store.open(dataDir);
  } catch (err) {
    throw isPdsError(err, 'ERR_STORE_LOCKED') ? storeLockedHint(err, route) : err;
  }
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * What the CLI prints for a failure, as the console shows a refusal (docs/glossary.md): the Chinese
 * sentence of its code first, then the code and the English detail for support and searches. The
 * code comes from our catalogue or from the API's problem; an error without one is shown as it is.
 */
export function errorLines(err: unknown): string[] {
  const coded = isPdsError(err) || err instanceof ApiError ? err : undefined;
  if (!coded) return [`pds: ${err instanceof Error ? err.message : String(err)}`];
  const { primary, secondary } = errorText(coded);
  const status = coded instanceof ApiError ? ` (HTTP ${coded.status})` : '';
  return secondary !== undefined || primary !== coded.detail
    ? [`pds: ${primary}`, `  ${coded.code}${status}: ${coded.detail}`]
    : [`pds: ${coded.code}${status}: ${coded.detail}`];
}
