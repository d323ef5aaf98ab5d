import { base64url, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMonths, signContract, verifyContract, type ContractClaims } from '../../src/contracts/index.ts';
import { loadKeyRing, type KeyRing } from '../../src/keys/index.ts';
import { tmpDataDir } from '../helpers.ts';

const claims = {
  application: 'app_x', scenario: { name: 's', purpose: 'p' }, mode: 'aggregate', datasets: [],
  disclosure: { minUnits: 10, maxRows: 10000 }, emergencyPlan: { contact: 'c', triggers: ['t'], actions: ['a'] },
  securityControls: [], policyHash: 'h', catalogVersion: 'v', snapshot: { hash: 'sh', tables: {} },
} satisfies ContractClaims;

describe('contract JWS', () => {
  const t = tmpDataDir();
  let keys: KeyRing;
  const issuedAt = new Date('2026-01-01T00:00:00Z');
  const meta = { contractId: 'ctr_1', operatorOrg: 'org-a', issuedAt, notBefore: issuedAt, expiresAt: addMonths(issuedAt, 12) };
  beforeAll(async () => { keys = await loadKeyRing(t.dir); });
  afterAll(() => t.cleanup());

  it('signs and verifies within its term', async () => {
    const jws = await signContract(keys.bureau, claims, meta);
    const v = await verifyContract(jws, keys.bureau, new Date('2026-06-01T00:00:00Z'));
    expect(v).toMatchObject({ jti: 'ctr_1', sub: 'org-a', mode: 'aggregate', snapshot: { hash: 'sh' } });
  });

  it('refuses outside its term', async () => {
    const jws = await signContract(keys.bureau, claims, meta);
    await expect(verifyContract(jws, keys.bureau, new Date('2027-01-02T00:00:00Z'))).rejects.toMatchObject({ code: 'ERR_CONTRACT_EXPIRED' });
    await expect(verifyContract(jws, keys.bureau, new Date('2025-12-31T00:00:00Z'))).rejects.toMatchObject({ code: 'ERR_CONTRACT_NOT_YET_VALID' });
  });

  it('refuses a stretched term (payload edited after signing)', async () => {
    const jws = await signContract(keys.bureau, claims, meta);
    const [h, p, s] = jws.split('.');
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
    payload.exp += 365 * 86400;
    const forged = [h, base64url.encode(JSON.stringify(payload)), s].join('.');
    await expect(verifyContract(forged, keys.bureau, new Date('2026-06-01T00:00:00Z'))).rejects.toMatchObject({ code: 'ERR_CONTRACT_INVALID' });
  });

  it('refuses alg none, another key, and a user token signed by the issuer key', async () => {
    const none = new UnsecuredJWT({ ...claims }).setIssuer('urn:pds:bureau').setAudience('urn:pds:sandbox').setJti('ctr_1').setSubject('org-a').setIssuedAt().setNotBefore('0s').setExpirationTime('1y').encode();
    await expect(verifyContract(none, keys.bureau)).rejects.toMatchObject({ code: 'ERR_CONTRACT_INVALID' });
    const other = await signContract(keys.issuer, claims, meta);
    await expect(verifyContract(other, keys.bureau, new Date('2026-06-01T00:00:00Z'))).rejects.toMatchObject({ code: 'ERR_CONTRACT_INVALID' });
    const wrongTyp = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).setIssuer('urn:pds:bureau').setAudience('urn:pds:sandbox')
      .setJti('ctr_1').setSubject('org-a').setIssuedAt().setNotBefore('0s').setExpirationTime('1y').sign(keys.bureau.privateKey);
    await expect(verifyContract(wrongTyp, keys.bureau)).rejects.toMatchObject({ code: 'ERR_CONTRACT_INVALID' });
  });

  it('adds calendar months, clamping to the last day', () => {
    expect(addMonths(new Date('2026-01-31T10:00:00Z'), 1).toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(addMonths(new Date('2026-03-15T00:00:00Z'), 36).toISOString()).toBe('2029-03-15T00:00:00.000Z');
  });
});
