import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { checkKeyFiles, keysDir, loadKeyRing } from '../../src/keys/index.ts';
import { freshDataDirs } from '../helpers.ts';
import { flipCharacter } from '../support/damage.ts';

describe('key check values', () => {
  const fresh = freshDataDirs();
  const masterOf = (dir: string) => path.join(keysDir(dir), 'domain-master.key');

  it('the master key gets its check value when it is made, and intact keys all check out', async () => {
    const dir = fresh();
    await loadKeyRing(dir);
    const check = JSON.parse(fs.readFileSync(`${masterOf(dir)}.check`, 'utf8'));
    expect(check).toMatchObject({ kcv: expect.stringMatching(/^[0-9a-f]{16}$/), recorded: 'created' });
    const checks = checkKeyFiles(keysDir(dir));
    expect(checks.map((c) => path.basename(c.file))).toEqual([
      'domain-master.key',
      'bureau-ed25519.jwk',
      'issuer-ed25519.jwk',
    ]);
    expect(checks.every((c) => c.ok)).toBe(true);
  });

  it('one changed character in domain-master.key stops the load naming the file, and the check says so', async () => {
    const dir = fresh();
    const before = (await loadKeyRing(dir)).derive('pseudonym', 'ctr_1');
    const good = fs.readFileSync(masterOf(dir), 'utf8');
    flipCharacter(masterOf(dir));
    // still the base64 of 32 bytes: without the check value it would load as another key
    expect(Buffer.from(fs.readFileSync(masterOf(dir), 'utf8'), 'base64')).toHaveLength(32);
    await expect(loadKeyRing(dir)).rejects.toMatchObject({
      code: 'ERR_KEY_DAMAGED',
      detail: expect.stringContaining(masterOf(dir)),
    });
    const master = checkKeyFiles(keysDir(dir))[0]!;
    expect(master).toMatchObject({ file: masterOf(dir), ok: false, detail: expect.stringMatching(/^damaged: /) });
    // the check file changed instead of the key: the same refusal
    fs.writeFileSync(masterOf(dir), good, { mode: 0o600 });
    expect((await loadKeyRing(dir)).derive('pseudonym', 'ctr_1').equals(before)).toBe(true);
    flipCharacter(`${masterOf(dir)}.check`, 12);
    await expect(loadKeyRing(dir)).rejects.toMatchObject({ code: 'ERR_KEY_DAMAGED' });
  });

  it('a character that is not base64 is damage, not a shorter key', async () => {
    const dir = fresh();
    await loadKeyRing(dir);
    const text = fs.readFileSync(masterOf(dir), 'utf8');
    fs.writeFileSync(masterOf(dir), `${text.slice(0, 10)}*${text.slice(11)}`, { mode: 0o600 });
    await expect(loadKeyRing(dir)).rejects.toMatchObject({ code: 'ERR_KEY_DAMAGED' });
  });

  it('a master key made before check values gets one at its first load, said in the log once', async () => {
    const dir = fresh();
    await loadKeyRing(dir);
    fs.unlinkSync(`${masterOf(dir)}.check`);
    expect(checkKeyFiles(keysDir(dir))[0]).toMatchObject({
      ok: true,
      detail: expect.stringContaining('no check value'),
    });
    const warn = vi.fn();
    await loadKeyRing(dir, { warn });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toEqual({ file: `${masterOf(dir)}.check` });
    expect(JSON.parse(fs.readFileSync(`${masterOf(dir)}.check`, 'utf8'))).toMatchObject({ recorded: 'first-load' });
    await loadKeyRing(dir, { warn });
    expect(warn).toHaveBeenCalledTimes(1);
    flipCharacter(masterOf(dir));
    await expect(loadKeyRing(dir)).rejects.toMatchObject({ code: 'ERR_KEY_DAMAGED' });
  });

  it('a lost master key whose check value remains is not silently replaced by a new one', async () => {
    const dir = fresh();
    await loadKeyRing(dir);
    fs.unlinkSync(masterOf(dir));
    await expect(loadKeyRing(dir)).rejects.toMatchObject({
      code: 'ERR_KEY_DAMAGED',
      detail: expect.stringContaining('missing'),
    });
    expect(fs.existsSync(masterOf(dir))).toBe(false);
  });

  it('a retired key whose public half changed (it would fail what it signed) stops the load naming the file', async () => {
    const dir = fresh();
    const keys = await loadKeyRing(dir);
    keys.sets.bureau.rotate();
    const retired = path.join(keysDir(dir), 'bureau-retired.json');
    const doc = JSON.parse(fs.readFileSync(retired, 'utf8')) as { keys: Array<{ x: string }> };
    const x = doc.keys[0]!.x;
    doc.keys[0]!.x = x.slice(0, 5) + (x[5] === 'A' ? 'B' : 'A') + x.slice(6);
    fs.writeFileSync(retired, JSON.stringify(doc), { mode: 0o600 });
    await expect(loadKeyRing(dir)).rejects.toMatchObject({
      code: 'ERR_KEY_DAMAGED',
      detail: expect.stringContaining(retired),
    });
    expect(checkKeyFiles(keysDir(dir)).find((c) => c.file === retired)).toMatchObject({ ok: false });
  });
});
