import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { bureauJwks, loadKeyRing } from '../../src/keys/index.ts';
import { freshDataDirs, tmpDataDir } from '../helpers.ts';

describe('loadKeyRing', () => {
  const fresh = freshDataDirs();

  it('creates the bureau key, issuer key and master key (with its check value) with mode 0600 on first start', async () => {
    const dir = fresh();
    await loadKeyRing(dir);
    const files = fs.readdirSync(path.join(dir, 'keys')).sort();
    expect(files).toEqual(['bureau-ed25519.jwk', 'domain-master.key', 'domain-master.key.check', 'issuer-ed25519.jwk']);
    for (const f of files) expect(fs.statSync(path.join(dir, 'keys', f)).mode & 0o777).toBe(0o600);
  });

  it('loads the same keys on the next start', async () => {
    const dir = fresh();
    const a = await loadKeyRing(dir);
    const b = await loadKeyRing(dir);
    expect(b.bureau.kid).toBe(a.bureau.kid);
    expect(b.derive('pseudonym', 'ctr_1').equals(a.derive('pseudonym', 'ctr_1'))).toBe(true);
  });

  it('derives different keys per purpose and context', async () => {
    const keys = await loadKeyRing(fresh());
    expect(keys.derive('pseudonym', 'ctr_1').equals(keys.derive('pseudonym', 'ctr_2'))).toBe(false);
    expect(keys.derive('pseudonym', 'ctr_1').equals(keys.derive('other', 'ctr_1'))).toBe(false);
  });

  it('refuses a key file others can read', async () => {
    const dir = fresh();
    await loadKeyRing(dir);
    fs.chmodSync(path.join(dir, 'keys', 'bureau-ed25519.jwk'), 0o644);
    await expect(loadKeyRing(dir)).rejects.toMatchObject({ code: 'ERR_KEY_PERMISSIONS' });
  });

  it('publishes only public key material', async () => {
    const keys = await loadKeyRing(fresh());
    const jwks = bureauJwks(keys);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: keys.bureau.kid });
    expect(keys.issuer.kid).not.toBe(keys.bureau.kid);
  });
});

describe('KeySet rotation', () => {
  it('computes kid as the RFC 7638 thumbprint', async () => {
    const t = tmpDataDir();
    try {
      const keys = await loadKeyRing(t.dir);
      const { kty, crv, x } = keys.bureau.publicJwk;
      expect(keys.bureau.kid).toBe(await calculateJwkThumbprint({ kty, crv, x }));
    } finally {
      t.cleanup();
    }
  });

  it('retires the old key with mode 0600 files and refuses a concurrent rotation', async () => {
    const t = tmpDataDir();
    try {
      const keys = await loadKeyRing(t.dir);
      const first = keys.bureau.kid;
      keys.sets.bureau.rotate(new Date('2026-11-23T00:00:00Z'));
      const retired = JSON.parse(fs.readFileSync(path.join(t.dir, 'keys', 'bureau-retired.json'), 'utf8'));
      expect(retired.keys).toEqual([expect.objectContaining({ kid: first, retiredAt: '2026-11-23T00:00:00.000Z' })]);
      expect(retired.keys[0]).not.toHaveProperty('d');
      for (const f of ['bureau-ed25519.jwk', 'bureau-retired.json'])
        expect(fs.statSync(path.join(t.dir, 'keys', f)).mode & 0o777).toBe(0o600);
      expect(bureauJwks(keys).keys.map((k) => k.kid)).toEqual([keys.bureau.kid, first]);
      expect(bureauJwks(keys).keys[1]).not.toHaveProperty('retiredAt');
      // the issuer key is a separate identity and did not rotate
      expect(keys.issuer.kid).not.toBe(first);
      fs.writeFileSync(path.join(t.dir, 'keys', 'bureau.rotate.lock'), '');
      expect(() => keys.sets.bureau.rotate()).toThrow(expect.objectContaining({ code: 'ERR_CONFLICT' }));
    } finally {
      t.cleanup();
    }
  });
});
