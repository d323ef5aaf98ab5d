import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileHasSha256, fileSha256, rememberSha256 } from '../../src/digest/index.ts';
import { tmpDataDir } from '../helpers.ts';

/** A snapshot's hash is checked before every run and read again only when the file changed (docs/architecture.md §17). */
describe('file hashes', () => {
  const t = tmpDataDir('pds-digest-');
  afterAll(() => t.cleanup());
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it('hashes a file once and catches any later change, even one of the same size', async () => {
    const file = path.join(t.dir, 'a.bin');
    const bytes = Buffer.alloc(5 << 20, 7);
    fs.writeFileSync(file, bytes);
    expect(await fileSha256(file)).toBe(sha(bytes));
    expect(await fileHasSha256(file, sha(bytes))).toBe(true);
    expect(await fileHasSha256(file, sha(Buffer.from('other')))).toBe(false);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([8]), 0, 1, 123_456);
    fs.closeSync(fd);
    expect(await fileHasSha256(file, sha(bytes))).toBe(false);
    expect(await fileHasSha256(path.join(t.dir, 'missing.bin'), sha(bytes))).toBe(false);
  });

  it('trusts what it was told of a file only while the file stays as it was', async () => {
    const file = path.join(t.dir, 'b.bin');
    fs.writeFileSync(file, 'written and hashed while streaming');
    // what a worker records after hashing a fetched snapshot as it wrote it: not read again
    rememberSha256(file, 'f'.repeat(64));
    expect(await fileHasSha256(file, 'f'.repeat(64))).toBe(true);
    fs.appendFileSync(file, '!');
    expect(await fileHasSha256(file, 'f'.repeat(64))).toBe(false);
    expect(await fileHasSha256(file, sha(fs.readFileSync(file)))).toBe(true);
  });
});
