import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKeyRing } from '../../src/keys/index.ts';
import { buildCli } from '../../src/cli/program.ts';
import { runPds } from '../support/pds.ts';
import { tmpDataDir } from '../helpers.ts';
import { flipCharacter } from '../support/damage.ts';

const pds = runPds;

describe('pds keys check', () => {
  const t = tmpDataDir();
  afterAll(() => t.cleanup());

  it('says each key file is ok, offline and writing nothing; one changed character of the master key is named and exits 1', async () => {
    await loadKeyRing(t.dir);
    const keys = path.join(t.dir, 'keys');
    const before = fs.readdirSync(keys).map((f) => [f, fs.statSync(path.join(keys, f)).mtimeMs]);
    const intact = await pds('keys', 'check', '--data-dir', t.dir);
    expect(intact.code).toBe(0);
    for (const f of ['domain-master.key', 'bureau-ed25519.jwk', 'issuer-ed25519.jwk'])
      expect(intact.out).toMatch(new RegExp(`^正常  ${path.join(keys, f)}$`, 'm'));

    const master = path.join(keys, 'domain-master.key');
    flipCharacter(master);
    const damaged = await pds('keys', 'check', '--data-dir', t.dir);
    expect(damaged.code).toBe(1);
    expect(damaged.out).toContain(`损坏  ${master}：the key does not match its check value`);
    expect(damaged.out).toMatch(new RegExp(`^正常  ${path.join(keys, 'bureau-ed25519.jwk')}$`, 'm'));
    const json = JSON.parse((await pds('keys', 'check', '--data-dir', t.dir, '--json')).out) as Array<{
      file: string;
      ok: boolean;
    }>;
    expect(json.filter((c) => !c.ok).map((c) => c.file)).toEqual([master]);
    // nothing written: the same files, the signing keys untouched
    expect(fs.readdirSync(keys).sort()).toEqual(before.map(([f]) => f).sort());
    for (const [f, mtime] of before)
      if (f !== 'domain-master.key') expect(fs.statSync(path.join(keys, f as string)).mtimeMs).toBe(mtime);
  });

  it('has --help', () => {
    const check = buildCli()
      .commands.find((c) => c.name() === 'keys')!
      .commands.find((c) => c.name() === 'check')!;
    expect(check.helpInformation()).toMatch(/用法： pds keys check .*--data-dir/s);
  });
});
