import { randomBytes, hkdfSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { JWK, JWTVerifyGetKey } from 'jose';
import { PdsError } from '../errors/index.ts';
import { checkMode, createExclusive } from './files.ts';
import { KeySet, type SigningKey } from './signing-keys.ts';

export { KeySet, type RetiredJwk, type SigningKey } from './signing-keys.ts';
export { BUREAU_ISSUER, openSealed, seal, SealedClaimsInvalid, type OpenOptions, type SealHeader } from './seal.ts';

/**
 * All key material of one domain. Keys are created on first start under `DATA_DIR/keys` with
 * mode 0600 and are never logged or returned: only public JWKs leave this module.
 */
export interface KeyRing {
  /** The data bureau's current key: signs contracts and output manifests (seed 002 第二十六条: electronic seal). */
  readonly bureau: SigningKey;
  /** The embedded identity issuer's current key: signs user tokens when no external IdP is configured. */
  readonly issuer: SigningKey;
  /** Both identities with their retired keys, for verification and rotation. */
  readonly sets: { bureau: KeySet; issuer: KeySet };
  /** Resolves the bureau key a contract or manifest names by `kid`, retired keys included. */
  bureauVerifier(): JWTVerifyGetKey;
  /** Derives a per-purpose key from the domain master key (HKDF-SHA256). */
  derive(purpose: string, context: string, length?: number): Buffer;
}

export type KeyName = keyof KeyRing['sets'];
export const KEY_NAMES: KeyName[] = ['bureau', 'issuer'];

const MASTER_FILE = 'domain-master.key';

function loadMasterKey(file: string): Buffer {
  if (!fs.existsSync(file)) createExclusive(file, randomBytes(32).toString('base64'));
  checkMode(file);
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new PdsError('ERR_CONFIG', `${file}: the domain master key must be 32 bytes`);
  return key;
}

export function keysDir(dataDir: string): string {
  return path.join(dataDir, 'keys');
}

/** Loads the domain's keys, creating any that are missing. */
export async function loadKeyRing(dataDir: string): Promise<KeyRing> {
  const dir = keysDir(dataDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const sets = { bureau: new KeySet('bureau', dir).init(), issuer: new KeySet('issuer', dir).init() };
  const master = loadMasterKey(path.join(dir, MASTER_FILE));
  return {
    sets,
    get bureau() {
      return sets.bureau.current;
    },
    get issuer() {
      return sets.issuer.current;
    },
    bureauVerifier: () => sets.bureau.verifier(),
    derive(purpose, context, length = 32) {
      return Buffer.from(hkdfSync('sha256', master, Buffer.from(`pds/${purpose}/v1`), Buffer.from(context), length));
    },
  };
}

/** The bureau's public JWKS, served at `/.well-known/jwks.json`: the current key and every retired one. */
export function bureauJwks(keys: KeyRing): { keys: JWK[] } {
  return keys.sets.bureau.jwks();
}
