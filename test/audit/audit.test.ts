import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, listAudit, SYSTEM_ACTOR, verifyAudit, verifyEntries } from '../../src/audit/index.ts';
import { Store } from '../../src/store/index.ts';
import { tmpDataDir } from '../helpers.ts';

describe('audit chain', () => {
  let store: Store;
  let cleanup: () => void;
  beforeEach(async () => {
    const t = tmpDataDir();
    cleanup = t.cleanup;
    store = await Store.open(t.dir);
    for (let i = 1; i <= 5; i++) {
      await store.write((tx) => appendAudit(tx, { actor: SYSTEM_ACTOR, action: `test.${i}`, objectType: 'job', objectId: `job_${i}`, details: { i } }));
    }
  });
  afterEach(async () => { await store.close(); cleanup(); });

  it('chains entries and verifies', async () => {
    const entries = await listAudit(store);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[1]!.prevHash).toBe(entries[0]!.hash);
    expect(await verifyAudit(store)).toMatchObject({ ok: true, entries: 5, headHash: entries[4]!.hash });
  });

  it('detects an edited entry and names it', async () => {
    await store.write((tx) => tx.run(`UPDATE audit_log SET details = '{"i":99}' WHERE seq = 3`));
    expect((await verifyAudit(store)).firstBad).toMatchObject({ seq: 3 });
  });

  it('detects a deleted entry and names the first entry after the gap', async () => {
    await store.write((tx) => tx.run('DELETE FROM audit_log WHERE seq = 2'));
    expect((await verifyAudit(store)).firstBad).toMatchObject({ seq: 3 });
  });

  it('detects an inserted entry', async () => {
    const entries = await listAudit(store);
    const forged = { ...entries[1]!, action: 'forged' };
    const rows = [entries[0]!, forged, ...entries.slice(1).map((e) => ({ ...e, seq: e.seq + 1 }))];
    expect(verifyEntries(rows).firstBad?.seq).toBe(2);
  });

  it('detects swapped entries', async () => {
    await store.write(async (tx) => {
      await tx.run('UPDATE audit_log SET seq = 100 WHERE seq = 2');
      await tx.run('UPDATE audit_log SET seq = 2 WHERE seq = 3');
      await tx.run('UPDATE audit_log SET seq = 3 WHERE seq = 100');
    });
    expect((await verifyAudit(store)).firstBad).toMatchObject({ seq: 2 });
  });
});
