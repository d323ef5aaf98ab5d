import { randomBytes, hkdfSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';
import { PdsError } from '../errors/index.ts';

/** An Ed25519 key pair with its JWK thumbprint as `kid`. */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * All key material of one domain. Keys are created on first start under `DATA_DIR/keys` with
 * mode 0600 and are never logged or returned: only `publicJwk`s leave this module.
 */
export interface KeyRing {
  /** The data bureau's key: signs contracts and output manifests (seed 002 第二十六条: electronic seal). */
  bureau: SigningKey;
  /** The embedded identity issuer's key: signs user tokens when no external IdP is configured. */
  issuer: SigningKey;
  /** Derives a per-purpose key from the domain master key (HKDF-SHA256). */
  derive(purpose: string, context: string, length?: number): Buffer;
}

const FILES = {
  bureau: 'bureau-ed25519.jwk',
  issuer: 'issuer-ed25519.jwk',
  master: 'domain-master.key',
} as const;

/** Refuse key files that others can read, as ssh does: a leaked key forges every contract. */
function checkMode(file: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new PdsError('ERR_KEY_PERMISSIONS', `${file} has mode ${mode.toString(8)}; it must be 0600`);
  }
}

/**
 * Writes `content` to `file` only if the file does not exist yet, with mode 0600, atomically:
 * two processes starting at once end with the same key, never a torn one.
 */
function createExclusive(file: string, content: string | Buffer): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.unlinkSync(tmp);
  }
}

async function loadSigningKey(file: string): Promise<SigningKey> {
  if (!fs.existsSync(file)) {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    createExclusive(file, JSON.stringify(await exportJWK(privateKey)));
  }
  checkMode(file);
  const jwk = JSON.parse(fs.readFileSync(file, 'utf8')) as JWK;
  const { d: _private, ...pub } = jwk;
  const kid = await calculateJwkThumbprint(pub);
  const publicJwk: JWK = { ...pub, kid, alg: 'EdDSA', use: 'sig' };
  return {
    kid,
    privateKey: (await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey,
    publicKey: (await importJWK({ ...pub, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey,
    publicJwk,
  };
}

function loadMasterKey(file: string): Buffer {
  if (!fs.existsSync(file)) createExclusive(file, randomBytes(32).toString('base64'));
  checkMode(file);
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new PdsError('ERR_CONFIG', `${file}: the domain master key must be 32 bytes`);
  return key;
}

/** Loads the domain's keys, creating any that are missing. */
export async function loadKeyRing(dataDir: string): Promise<KeyRing> {
  const dir = path.join(dataDir, 'keys');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bureau = await loadSigningKey(path.join(dir, FILES.bureau));
  const issuer = await loadSigningKey(path.join(dir, FILES.issuer));
  const master = loadMasterKey(path.join(dir, FILES.master));
  return {
    bureau,
    issuer,
    derive(purpose, context, length = 32) {
      return Buffer.from(hkdfSync('sha256', master, Buffer.from(`pds/${purpose}/v1`), Buffer.from(context), length));
    },
  };
}

/** The bureau's public JWKS, served at `/.well-known/jwks.json`. */
export function bureauJwks(keys: KeyRing): { keys: JWK[] } {
  return { keys: [keys.bureau.publicJwk] };
}
