import { base64url, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMonths, signContract, verifyContract } from '../../src/contracts/index.ts';
import { loadKeyRing, type KeyRing } from '../../src/keys/index.ts';
import { CONTRACT_CLAIMS, tmpDataDir } from '../helpers.ts';

const claims = CONTRACT_CLAIMS;

describe('contract JWS', () => {
  const t = tmpDataDir();
  let keys: KeyRing;
  const issuedAt = new Date('2026-01-01T00:00:00Z');
  const meta = {
    contractId: 'ctr_1',
    operatorOrg: 'org-a',
    issuedAt,
    notBefore: issuedAt,
    expiresAt: addMonths(issuedAt, 12),
  };
  beforeAll(async () => {
    keys = await loadKeyRing(t.dir);
  });
  afterAll(() => t.cleanup());

  const at = new Date('2026-06-01T00:00:00Z');
  const verify = (jws: string, when = at) => verifyContract(jws, keys.bureauVerifier(), when);

  it('signs and verifies within its term', async () => {
    const jws = await signContract(keys.bureau, claims, meta);
    const v = await verify(jws);
    expect(v).toMatchObject({ jti: 'ctr_1', sub: 'org-a', mode: 'aggregate', snapshot: { hash: 'b'.repeat(64) } });
  });

  it('refuses outside its term: expired and not yet valid each with its own code', async () => {
    const jws = await signContract(keys.bureau, claims, meta);
    await expect(verify(jws, new Date('2027-01-02T00:00:00Z'))).rejects.toMatchObject({ code: 'ERR_CONTRACT_EXPIRED' });
    await expect(verify(jws, new Date('2025-12-31T00:00:00Z'))).rejects.toMatchObject({
      code: 'ERR_CONTRACT_NOT_YET_VALID',
    });
  });

  it('refuses a tampered payload (term stretched after signing)', async () => {
    const jws = await signContract(keys.bureau, claims, meta);
    const [h, p, s] = jws.split('.');
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
    payload.exp += 365 * 86400;
    const forged = [h, base64url.encode(JSON.stringify(payload)), s].join('.');
    await expect(verify(forged)).rejects.toMatchObject({ code: 'ERR_CONTRACT_SIGNATURE_INVALID' });
  });

  it('refuses alg none', async () => {
    const none = new UnsecuredJWT({ ...claims })
      .setIssuer('urn:pds:bureau')
      .setAudience('urn:pds:sandbox')
      .setJti('ctr_1')
      .setSubject('org-a')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('1y')
      .encode();
    await expect(verify(none, new Date())).rejects.toMatchObject({ code: 'ERR_CONTRACT_ALG_NOT_ALLOWED' });
    // the same with the typ header a real contract carries
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'pds-contract+jwt', kid: keys.bureau.kid }));
    await expect(verify(`${header}.${none.split('.')[1]}.`, new Date())).rejects.toMatchObject({
      code: 'ERR_CONTRACT_ALG_NOT_ALLOWED',
    });
  });

  it('refuses another key: unknown kid, or our kid over a foreign signature', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const foreign = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'pds-contract+jwt', kid: 'attacker' })
      .setIssuer('urn:pds:bureau')
      .setAudience('urn:pds:sandbox')
      .setJti('ctr_1')
      .setSubject('org-a')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('1y')
      .sign(privateKey);
    await expect(verify(foreign, new Date())).rejects.toMatchObject({ code: 'ERR_CONTRACT_KEY_UNKNOWN' });
    const posing = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'pds-contract+jwt', kid: keys.bureau.kid })
      .setIssuer('urn:pds:bureau')
      .setAudience('urn:pds:sandbox')
      .setJti('ctr_1')
      .setSubject('org-a')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('1y')
      .sign(privateKey);
    await expect(verify(posing, new Date())).rejects.toMatchObject({ code: 'ERR_CONTRACT_SIGNATURE_INVALID' });
    // the embedded issuer's key is a different key: a user token can never pass as a contract
    const byIssuer = await signContract(keys.issuer, claims, meta);
    await expect(verify(byIssuer)).rejects.toMatchObject({ code: 'ERR_CONTRACT_KEY_UNKNOWN' });
  });

  it('refuses a token of another type signed by the bureau key', async () => {
    const wrongTyp = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: keys.bureau.kid })
      .setIssuer('urn:pds:bureau')
      .setAudience('urn:pds:sandbox')
      .setJti('ctr_1')
      .setSubject('org-a')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('1y')
      .sign(keys.bureau.privateKey);
    await expect(verify(wrongTyp, new Date())).rejects.toMatchObject({ code: 'ERR_CONTRACT_INVALID' });
  });

  it('keeps verifying contracts signed before a key rotation, until they expire', async () => {
    const t2 = tmpDataDir();
    try {
      const ring = await loadKeyRing(t2.dir);
      const before = await signContract(ring.bureau, claims, meta);
      const oldKid = ring.bureau.kid;
      const { retiredKid, currentKid } = ring.sets.bureau.rotate();
      expect(retiredKid).toBe(oldKid);
      expect(ring.bureau.kid).toBe(currentKid);
      expect(currentKid).not.toBe(oldKid);
      const after = await signContract(ring.bureau, claims, meta);
      expect(ring.sets.bureau.jwks().keys.map((k) => k.kid)).toEqual([currentKid, oldKid]);
      await expect(verifyContract(before, ring.bureauVerifier(), at)).resolves.toMatchObject({ jti: 'ctr_1' });
      await expect(verifyContract(after, ring.bureauVerifier(), at)).resolves.toMatchObject({ jti: 'ctr_1' });
      await expect(
        verifyContract(before, ring.bureauVerifier(), new Date('2027-01-02T00:00:00Z')),
      ).rejects.toMatchObject({ code: 'ERR_CONTRACT_EXPIRED' });
      // a second process on the same DATA_DIR sees the rotation without a restart
      const other = await loadKeyRing(t2.dir);
      other.sets.bureau.rotate();
      expect(ring.bureau.kid).toBe(other.bureau.kid);
      expect(ring.sets.bureau.jwks().keys).toHaveLength(3);
      await expect(verifyContract(before, ring.bureauVerifier(), at)).resolves.toMatchObject({ jti: 'ctr_1' });
    } finally {
      t2.cleanup();
    }
  });

  it('adds calendar months, clamping to the last day', () => {
    expect(addMonths(new Date('2026-01-31T10:00:00Z'), 1).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addMonths(new Date('2026-03-15T00:00:00Z'), 36).toISOString()).toBe('2029-03-15T00:00:00.000Z');
  });

  it('a contract the bureau key signed but whose claims are malformed is refused as invalid', async () => {
    const jws = await signContract(keys.bureau, { ...claims, datasets: [], policyHash: 'h' }, meta);
    await expect(verifyContract(jws, keys.bureauVerifier(), issuedAt)).rejects.toMatchObject({
      code: 'ERR_CONTRACT_INVALID',
    });
  });
});
