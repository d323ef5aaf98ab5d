import fs from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { loadConfig } from '../config/index.ts';
import { PdsError } from '../errors/index.ts';
import { keysDir, loadKeyRing } from '../keys/index.ts';
import type { Store } from '../store/index.ts';

/** Applies `--data-dir` over DATA_DIR and validates the whole configuration once. */
export function configFrom(opts: { dataDir?: string }) {
  return loadConfig(opts.dataDir ? { ...process.env, DATA_DIR: opts.dataDir } : process.env);
}

export const dataDirOption = () => new Option('--data-dir <dir>', 'state directory (default: $DATA_DIR or ./data)');
export const jwksOption = () =>
  new Option(
    '--jwks <urlOrFile>',
    "the bureau's JWKS: a URL (…/.well-known/jwks.json) or a local file (default: the keys of DATA_DIR)",
  );

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive integer');
  return Number(value);
}

/** A TCP port; 0 lets the system choose. */
export function portNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('must be a port, 0 to 65535');
  return Number(value);
}

export function isoTime(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('must be an ISO 8601 time, e.g. 2027-01-01T00:00:00Z');
  return d;
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

/** Opens the control store for one command and always closes it (its file lock blocks a server otherwise). */
export async function withStore<T>(dataDir: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const { Store } = await import('../store/index.ts');
  const store = await Store.open(dataDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
