import { hkdfSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { JWK, JWTVerifyGetKey } from 'jose';
import { loadMasterKey, MASTER_FILE } from './master-key.ts';
import { KeySet, type SigningKey } from './signing-keys.ts';

export { KeySet, type RetiredJwk, type SigningKey } from './signing-keys.ts';
export { checkKeyFiles, type KeyFileCheck } from './check.ts';
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
  /**
   * Derives a per-purpose key from the domain master key (HKDF-SHA256), on demand: no derived key
   * is stored, so the master's check value covers them all (docs/architecture.md §8).
   */
  derive(purpose: string, context: string, length?: number): Buffer;
}

/** The logger loadKeyRing may tell (pino's shape). */
export interface KeyLog {
  warn(obj: object, msg: string): void;
}

export type KeyName = keyof KeyRing['sets'];
export const KEY_NAMES: KeyName[] = ['bureau', 'issuer'];

export function keysDir(dataDir: string): string {
  return path.join(dataDir, 'keys');
}

/**
 * Loads the domain's keys, creating any that are missing; a damaged one stops here with
 * ERR_KEY_DAMAGED naming its file. `log` hears of a check value recorded for an older master key.
 */
export async function loadKeyRing(dataDir: string, log?: KeyLog): Promise<KeyRing> {
  const dir = keysDir(dataDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const sets = { bureau: new KeySet('bureau', dir).init(), issuer: new KeySet('issuer', dir).init() };
  const master = loadMasterKey(path.join(dir, MASTER_FILE), (checkFile) =>
    log?.warn(
      { file: checkFile },
      'recorded the check value of a domain master key made before check values: from now on a changed key stops start-up; a change before this start cannot be told',
    ),
  );
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
