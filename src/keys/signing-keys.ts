import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';
import { PdsError } from '../errors/index.ts';
import { checkMode, createExclusive, replaceAtomically, withLockFile } from './files.ts';

/** An Ed25519 key pair with its JWK thumbprint (RFC 7638) as `kid`. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

/** A public key that no longer signs but still verifies what it signed. */
export type RetiredJwk = JWK & { kid: string; retiredAt: string };

/**
 * One signing identity (the bureau, or the embedded token issuer) with key rotation: the current
 * key signs; retired keys stay in the published JWKS so that what they signed keeps verifying
 * (contracts until they expire, manifests for good). Files under `DATA_DIR/keys`:
 *
 *   <name>-ed25519.jwk     the current private key (0600)
 *   <name>-retired.json    the retired public keys, newest first
 *
 * A rotation by another process (`pds keys rotate`) is picked up on the next use: the current
 * file is re-read when its inode or mtime changes, so a running server needs no restart.
 */
export class KeySet {
  private loaded: { stamp: string; key: SigningKey; retired: RetiredJwk[] } | undefined;
  private cachedVerifier: { stamp: string; fn: JWTVerifyGetKey } | undefined;

  constructor(
    readonly name: string,
    private readonly dir: string,
  ) {}

  private get currentFile(): string {
    return path.join(this.dir, `${this.name}-ed25519.jwk`);
  }
  private get retiredFile(): string {
    return path.join(this.dir, `${this.name}-retired.json`);
  }

  /** Creates the first key if there is none; refuses unsafe permissions. */
  init(): this {
    if (!fs.existsSync(this.currentFile)) createExclusive(this.currentFile, JSON.stringify(newPrivateJwk()));
    this.state();
    return this;
  }

  private stamp(): string {
    const cur = fs.statSync(this.currentFile);
    const ret = fs.statSync(this.retiredFile, { throwIfNoEntry: false });
    return `${cur.ino}:${cur.mtimeMs}:${ret?.ino ?? 0}:${ret?.mtimeMs ?? 0}`;
  }

  private state() {
    const stamp = this.stamp();
    if (this.loaded?.stamp === stamp) return this.loaded;
    const key = readSigningKey(this.currentFile);
    const retired = fs.existsSync(this.retiredFile) ? readRetired(this.retiredFile) : [];
    this.loaded = { stamp, key, retired };
    return this.loaded;
  }

  /** The key that signs now. */
  get current(): SigningKey {
    return this.state().key;
  }

  /** Every key that verifies: the current one first, then the retired ones. Public members only. */
  jwks(): { keys: JWK[] } {
    const { key, retired } = this.state();
    return {
      keys: [key.publicJwk, ...retired.filter((r) => r.kid !== key.kid).map(({ retiredAt: _r, ...pub }) => pub)],
    };
  }

  /** A jose key resolver over `jwks()`, selecting by the JWS header's `kid`. */
  verifier(): JWTVerifyGetKey {
    const { stamp } = this.state();
    if (this.cachedVerifier?.stamp !== stamp) this.cachedVerifier = { stamp, fn: createLocalJWKSet(this.jwks()) };
    return this.cachedVerifier.fn;
  }

  /**
   * Makes a new current key and retires the old one. The retired list is written first, so a
   * crash in between leaves the old key both current and retired — harmless — never lost.
   */
  rotate(now: Date = new Date()): { retiredKid: string; currentKid: string } {
    return withLockFile(path.join(this.dir, `${this.name}.rotate.lock`), () => {
      const { key, retired } = this.state();
      const entry: RetiredJwk = { ...key.publicJwk, kid: key.kid, retiredAt: now.toISOString() };
      replaceAtomically(
        this.retiredFile,
        JSON.stringify({ keys: [entry, ...retired.filter((r) => r.kid !== key.kid)] }, null, 2),
      );
      replaceAtomically(this.currentFile, JSON.stringify(newPrivateJwk()));
      return { retiredKid: key.kid, currentKid: this.current.kid };
    });
  }
}

/**
 * A current key file: mode 0600, an Ed25519 private JWK whose private half gives its public
 * half — the public half is the key's check value, so no other is stored (docs/architecture.md §14).
 */
export function readSigningKey(file: string): SigningKey {
  checkMode(file);
  const jwk = readKeyFile<JWK>(file, (v) => typeof (v as JWK).kty === 'string');
  try {
    return toSigningKey(jwk);
  } catch (err) {
    throw new PdsError(
      'ERR_KEY_DAMAGED',
      `${file}: not a usable signing key (${(err as Error).message}); restore it from a backup`,
      { cause: err },
    );
  }
}

/**
 * The retired public keys, which the JWKS publishes after the current one: each must be an
 * Ed25519 public key whose `kid` is its thumbprint — a changed character of `x` would make
 * everything it signed fail verification, unnoticed until someone verifies.
 */
export function readRetired(file: string): RetiredJwk[] {
  const keys = readKeyFile<{ keys: RetiredJwk[] }>(file, (v) => Array.isArray((v as { keys?: unknown }).keys)).keys;
  keys.forEach((k, i) => {
    const ok =
      k &&
      k.kty === 'OKP' &&
      k.crv === 'Ed25519' &&
      typeof k.x === 'string' &&
      k.d === undefined &&
      k.kid === thumbprint({ kty: k.kty, crv: k.crv, x: k.x });
    if (!ok)
      throw new PdsError(
        'ERR_KEY_DAMAGED',
        `${file}: retired key ${i + 1} is not an Ed25519 public key whose kid is its thumbprint (a changed character?); restore the file from a backup`,
      );
  });
  return keys;
}

function newPrivateJwk(): JWK {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'jwk' }) as JWK;
}

function toSigningKey(jwk: JWK): SigningKey {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string') {
    throw new PdsError('ERR_CONFIG', 'a signing key file does not hold an Ed25519 private JWK');
  }
  const pub = { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  const kid = thumbprint(pub);
  const privateKey = createPrivateKey({ key: { ...pub, d: jwk.d }, format: 'jwk' });
  const publicKey = createPublicKey({ key: pub, format: 'jwk' });
  // one changed character in d is still a well-formed key, which signs what the JWKS cannot verify:
  // the private half must give the public half, and a probe it signs must verify (issue 32)
  const derived = (createPublicKey(privateKey).export({ format: 'jwk' }) as JWK).x;
  const probe = Buffer.from(`pds key check ${kid}`);
  if (derived !== jwk.x || !verify(null, probe, publicKey, sign(null, probe, privateKey)))
    throw new Error('its private half does not match its public half (a changed character?)');
  return { kid, privateKey, publicKey, publicJwk: { ...pub, kid, alg: 'EdDSA', use: 'sig' } };
}

/** RFC 7638 thumbprint, computed synchronously: the required members of an OKP key in lexical order. */
function thumbprint(pub: { kty: string; crv: string; x: string }): string {
  return createHash('sha256')
    .update(JSON.stringify({ crv: pub.crv, kty: pub.kty, x: pub.x }))
    .digest('base64url');
}

/** A key file's JSON, or an error naming the file and what is wrong with it (a truncated file, a wrong shape). */
function readKeyFile<T>(file: string, looksRight: (v: unknown) => boolean): T {
  const text = fs.readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new PdsError(
      'ERR_KEY_DAMAGED',
      `${file}: not valid JSON (${(err as Error).message}; ${text.length} bytes) — the file is damaged or truncated; restore it from a backup`,
      { cause: err },
    );
  }
  if (!value || typeof value !== 'object' || !looksRight(value))
    throw new PdsError(
      'ERR_KEY_DAMAGED',
      `${file}: valid JSON but not a key file of the expected shape; restore it from a backup`,
    );
  return value as T;
}
