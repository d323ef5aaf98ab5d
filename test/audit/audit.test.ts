import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  appendAudit,
  exportAudit,
  listAudit,
  maybeCheckpoint,
  SYSTEM_ACTOR,
  verifyAudit,
  verifyEntries,
} from '../../src/audit/index.ts';
import { loadKeyRing, type KeyRing } from '../../src/keys/index.ts';
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
      await store.write((tx) =>
        appendAudit(tx, {
          actor: SYSTEM_ACTOR,
          action: `test.${i}`,
          objectType: 'job',
          objectId: `job_${i}`,
          details: { i },
        }),
      );
    }
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  it('chains entries and verifies', async () => {
    const entries = await listAudit(store);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[1]!.prevHash).toBe(entries[0]!.hash);
    expect(await verifyAudit(store)).toMatchObject({ ok: true, entries: 5, headHash: entries[4]!.hash });
  });

  it('writes the entries of one transaction together, seen by a read inside it, nothing of a rolled-back one', async () => {
    const event = (i: number) => ({
      actor: SYSTEM_ACTOR,
      action: `batch.${i}`,
      objectType: 'job',
      objectId: `job_b${i}`,
    });
    await store.write(async (tx) => {
      for (const i of [1, 2, 3]) await appendAudit(tx, event(i));
      // a read of the log inside the transaction sees the entries not yet written
      expect(await tx.all('SELECT seq FROM audit_log WHERE seq > 5 ORDER BY seq')).toEqual([
        { seq: 6 },
        { seq: 7 },
        { seq: 8 },
      ]);
      await appendAudit(tx, event(4));
    });
    await expect(
      store.write(async (tx) => {
        await appendAudit(tx, event(5));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await store.write((tx) => appendAudit(tx, event(6)));
    const entries = await listAudit(store);
    expect(entries.map((e) => e.action).slice(5)).toEqual(['batch.1', 'batch.2', 'batch.3', 'batch.4', 'batch.6']);
    expect(await verifyAudit(store)).toMatchObject({ ok: true, entries: 10 });
    expect(await store.one('SELECT seq::INTEGER AS seq FROM audit_head')).toEqual({ seq: 10 });
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

describe('signed checkpoints', () => {
  let store: Store;
  let keys: KeyRing;
  let cleanup: () => void;
  const add = (n: number) =>
    store.write(async (tx) => {
      for (let i = 0; i < n; i++)
        await appendAudit(tx, { actor: SYSTEM_ACTOR, action: 'test.x', objectType: 'job', objectId: `job_${i}` });
    });
  beforeEach(async () => {
    const t = tmpDataDir();
    cleanup = t.cleanup;
    store = await Store.open(t.dir);
    keys = await loadKeyRing(t.dir);
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  it('signs the head every N entries and daily, and verifies', async () => {
    await add(5);
    expect(await maybeCheckpoint(store, keys.bureau, { everyEntries: 5, everyMs: 86_400_000 })).toMatchObject({
      seq: 5,
      reason: 'entries',
    });
    await add(2);
    expect(await maybeCheckpoint(store, keys.bureau, { everyEntries: 5, everyMs: 86_400_000 })).toBeUndefined();
    expect(
      await maybeCheckpoint(store, keys.bureau, {
        everyEntries: 5,
        everyMs: 86_400_000,
        now: new Date(Date.now() + 86_400_001),
      }),
    ).toMatchObject({ seq: 7, reason: 'daily' });
    expect(await verifyAudit(store, keys.bureauVerifier())).toMatchObject({ ok: true, entries: 7, checkpoints: 2 });
  });

  it('finds a cut-off tail that the hash chain alone cannot', async () => {
    await add(6);
    await maybeCheckpoint(store, keys.bureau, { everyEntries: 6, everyMs: 86_400_000 });
    await store.write((tx) => tx.run('DELETE FROM audit_log WHERE seq >= 5'));
    expect((await verifyAudit(store)).ok).toBe(true); // the chain of what is left is intact
    expect(await verifyAudit(store, keys.bureauVerifier())).toMatchObject({
      ok: false,
      firstBad: { seq: 6, code: 'entry-missing', reason: expect.stringMatching(/missing: the log was cut/) },
    });
  });

  it('a tail cut before the next checkpoint shows at the next entry written', async () => {
    await add(6);
    await store.write((tx) => tx.run('DELETE FROM audit_log WHERE seq >= 5'));
    await add(1);
    // the head kept with the chain still names entry 6: the next entry follows it, not entry 4
    expect(await verifyAudit(store)).toMatchObject({
      ok: false,
      firstBad: { seq: 7, code: 'seq-gap', expectedSeq: 5, reason: 'expected seq 5' },
    });
  });

  it('reads the log in pages and judges it the same as whole', async () => {
    await add(8);
    await maybeCheckpoint(store, keys.bureau, { everyEntries: 8, everyMs: 86_400_000 });
    await add(9);
    await maybeCheckpoint(store, keys.bureau, { everyEntries: 9, everyMs: 86_400_000 });
    await add(3);
    const whole = await verifyAudit(store, keys.bureauVerifier());
    expect(whole).toMatchObject({ ok: true, entries: 20, checkpoints: 2 });
    for (const pageSize of [1, 3, 8, 19, 20, 21])
      expect(await verifyAudit(store, keys.bureauVerifier(), { pageSize })).toEqual(whole);
    // an edit in the third page and a cut past the second checkpoint are found whatever the page size
    await store.write((tx) => tx.run(`UPDATE audit_log SET action = 'x' WHERE seq = 13`));
    for (const pageSize of [4, 5000])
      expect(await verifyAudit(store, keys.bureauVerifier(), { pageSize })).toMatchObject({
        ok: false,
        entries: 20,
        firstBad: { seq: 13 },
      });
    await store.write((tx) => tx.run(`UPDATE audit_log SET action = 'test.x' WHERE seq = 13`));
    await store.write((tx) => tx.run('DELETE FROM audit_log WHERE seq >= 17'));
    for (const pageSize of [4, 5000])
      expect(await verifyAudit(store, keys.bureauVerifier(), { pageSize })).toMatchObject({
        ok: false,
        entries: 16,
        firstBad: { seq: 17, reason: expect.stringMatching(/missing/) },
      });
  });

  it('finds a rewritten chain and a forged checkpoint', async () => {
    await add(4);
    await maybeCheckpoint(store, keys.bureau, { everyEntries: 4, everyMs: 86_400_000 });
    // rebuild the whole chain after an edit: consistent in itself, but not what the bureau signed
    const entries = await listAudit(store);
    await store.write(async (tx) => {
      // an attacker with write access to the store resets the head too
      await tx.run('DELETE FROM audit_log');
      await tx.run('DELETE FROM audit_head');
      for (const e of entries) {
        await appendAudit(tx, {
          actor: SYSTEM_ACTOR,
          action: e.seq === 2 ? 'rewritten' : e.action,
          objectType: e.objectType,
          objectId: e.objectId,
        });
      }
    });
    expect((await verifyAudit(store)).ok).toBe(true);
    expect(await verifyAudit(store, keys.bureauVerifier())).toMatchObject({
      ok: false,
      firstBad: { seq: 4, code: 'entry-rewritten', reason: expect.stringMatching(/rewritten/) },
    });
    await store.write((tx) => tx.run("UPDATE audit_checkpoints SET head_hash = 'x'"));
    expect((await verifyAudit(store, keys.bureauVerifier())).firstBad?.reason).toMatch(
      /does not match what was signed/,
    );
  });

  it('exports entries and checkpoints as JSON Lines that verify offline', async () => {
    await add(3);
    await maybeCheckpoint(store, keys.bureau, { everyEntries: 3, everyMs: 86_400_000 });
    const lines = (await exportAudit(store))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(['entry', 'entry', 'entry', 'checkpoint']);
    const entries = lines.filter((l) => l.type === 'entry').map(({ type: _t, ...e }) => e) as unknown as Parameters<
      typeof verifyEntries
    >[0];
    expect(verifyEntries(entries)).toMatchObject({ ok: true, entries: 3 });
  });
});
