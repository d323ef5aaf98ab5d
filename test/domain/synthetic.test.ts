import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainPath, seedDomain, DISTRICTS } from '../../src/domain/index.ts';
import { openInstance, queryRows, withConnection, type Row } from '../../src/store/index.ts';
import { tmpDataDir } from '../helpers.ts';

/** An independent GB 11643 check: ISO 7064 MOD 11-2 written from the standard, not from the generator. */
function validIdNumber(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * (2 ** (17 - i) % 11);
  return '10X98765432'[sum % 11] === id[17];
}

async function readAll(dir: string): Promise<Row[]> {
  const instance = await openInstance(domainPath(dir), { access_mode: 'READ_ONLY' });
  try {
    return await withConnection(instance, (c) => queryRows(c, 'SELECT * FROM population ORDER BY id_number'));
  } finally {
    instance.closeSync();
  }
}

describe('synthetic population', () => {
  const a = tmpDataDir();
  const b = tmpDataDir();
  let rows: Row[];
  beforeAll(async () => {
    await seedDomain(a.dir, { rows: 20_000, seed: 11 });
    await seedDomain(b.dir, { rows: 20_000, seed: 11 });
    rows = await readAll(a.dir);
  });
  afterAll(() => { a.cleanup(); b.cleanup(); });

  it('every id_number has a valid GB 11643 check character and is unique', () => {
    expect(rows).toHaveLength(20_000);
    const bad = rows.filter((r) => !validIdNumber(String(r.id_number)));
    expect(bad).toEqual([]);
    expect(new Set(rows.map((r) => r.id_number)).size).toBe(rows.length);
  });

  it('id_number agrees with district, birth date and gender parity', () => {
    const codes = new Map(DISTRICTS.map((d) => [d.name, d.code]));
    for (const r of rows.slice(0, 2000)) {
      const id = String(r.id_number);
      expect(id.slice(0, 6)).toBe(codes.get(String(r.district)));
      expect(id.slice(6, 14)).toBe(String(r.birth_date).replaceAll('-', ''));
      expect(Number(id[16]) % 2 === 1).toBe(r.gender === '男');
    }
  });

  it('phones are 11-digit mobile numbers with real prefixes', () => {
    expect(rows.every((r) => /^1[3-9]\d{9}$/.test(String(r.phone)))).toBe(true);
  });

  it('has small groups that disclosure control must handle', () => {
    const cells = new Map<string, number>();
    for (const r of rows) cells.set(`${r.district}|${r.education}`, (cells.get(`${r.district}|${r.education}`) ?? 0) + 1);
    expect([...cells.values()].some((n) => n < 10)).toBe(true);
  });

  it('the same seed gives the same content', async () => {
    const hash = (rs: Row[]) => createHash('sha256').update(JSON.stringify(rs)).digest('hex');
    expect(hash(await readAll(b.dir))).toBe(hash(rows));
  });
});
