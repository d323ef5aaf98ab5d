import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainPath, domainVersions, seedDomain, DISTRICTS } from '../../src/domain/index.ts';
import type { Row } from '../../src/store/index.ts';
import { readRows, tmpDataDir } from '../helpers.ts';

/** Independent GB 11643 check, written from the standard: weights 2^(17-i) mod 11. */
function validIdNumber(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * (2 ** (17 - i) % 11);
  return '10X98765432'[sum % 11] === id[17];
}

/** Independent GB 32100 check (weights 3^i mod 31) and its embedded GB 11714 organisation code. */
const USCC = '0123456789ABCDEFGHJKLMNPQRTUWXY';
function validUscc(code: string): boolean {
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(code)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC.indexOf(code[i]!) * (3 ** i % 31);
  if (USCC[(31 - (sum % 31)) % 31] !== code[17]) return false;
  const org = code.slice(8, 17);
  let s = 0;
  const w = [3, 7, 9, 10, 5, 8, 4, 2];
  for (let i = 0; i < 8; i++) s += USCC.indexOf(org[i]!) * w[i]!;
  const c = 11 - (s % 11);
  return org[8] === (c === 10 ? 'X' : c === 11 ? '0' : String(c));
}

const query = <T extends Row = Row>(dir: string, sql: string) => readRows<T>(domainPath(dir), sql);

describe('pds seed at 1,000,000 rows', () => {
  const t = tmpDataDir();
  beforeAll(async () => {
    await seedDomain(t.dir, { rows: 1_000_000, seed: 2026 });
  }, 120_000);
  afterAll(() => t.cleanup());

  it('every id_number passes an independent GB 11643 check and is unique', async () => {
    const ids = (await query<{ id: string }>(t.dir, 'SELECT id_number AS id FROM population')).map((r) => r.id);
    expect(ids).toHaveLength(1_000_000);
    expect(ids.filter((id) => !validIdNumber(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every uscc passes an independent GB 32100 (and GB 11714) check and is unique', async () => {
    const codes = (await query<{ c: string }>(t.dir, 'SELECT uscc AS c FROM enterprise')).map((r) => r.c);
    expect(codes.length).toBe(25_000);
    expect(codes.filter((c) => !validUscc(c))).toEqual([]);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('every foreign key resolves', async () => {
    const [r] = await query<Record<string, number>>(
      t.dir,
      `SELECT
      (SELECT count(*) FROM social_insurance s WHERE NOT EXISTS (SELECT 1 FROM population p WHERE p.id_number = s.id_number)) AS si_person,
      (SELECT count(*) FROM social_insurance s WHERE NOT EXISTS (SELECT 1 FROM enterprise e WHERE e.uscc = s.employer_uscc)) AS si_employer,
      (SELECT count(*) FROM medical_visit m WHERE NOT EXISTS (SELECT 1 FROM population p WHERE p.id_number = m.id_number)) AS visit_person,
      (SELECT count(*) FROM enterprise e WHERE NOT EXISTS (SELECT 1 FROM population p WHERE p.id_number = e.legal_rep_id_number)) AS rep_person,
      (SELECT count(*) FROM enterprise e JOIN population p ON p.id_number = e.legal_rep_id_number WHERE p.birth_date > DATE '2007-12-31') AS minor_reps,
      (SELECT count(*) FROM population p WHERE NOT EXISTS (SELECT 1 FROM utility_usage u WHERE u.address = p.address)) AS home_without_account,
      (SELECT count(*) FROM social_insurance) AS si_rows, (SELECT count(*) FROM medical_visit) AS visits`,
    );
    expect(r).toMatchObject({
      si_person: 0,
      si_employer: 0,
      visit_person: 0,
      rep_person: 0,
      minor_reps: 0,
      home_without_account: 0,
    });
    expect(r!.si_rows).toBeGreaterThan(500_000);
    expect(r!.visits).toBeGreaterThan(500_000);
  });

  it('has skewed districts, an age pyramid, rare diagnoses and dominant contributors', async () => {
    const districts = await query<{ district: string; n: number }>(
      t.dir,
      'SELECT district, count(*) AS n FROM population GROUP BY 1 ORDER BY 2 DESC',
    );
    expect(districts.map((d) => d.district)).toEqual(DISTRICTS.map((d) => d.name));
    expect(districts[0]!.n / districts.at(-1)!.n).toBeGreaterThan(8);
    const [old] = await query<{ n: number }>(
      t.dir,
      "SELECT count(*) AS n FROM population WHERE birth_date < DATE '1931-01-01'",
    );
    expect(old!.n).toBeGreaterThan(0);
    expect(old!.n).toBeLessThan(2000);
    const rare = await query<{ icd10: string; n: number }>(
      t.dir,
      "SELECT icd10, count(*) AS n FROM medical_visit WHERE icd10 IN ('B20', 'G35', 'F20.9') GROUP BY 1",
    );
    expect(rare.length).toBeGreaterThan(0);
    expect(rare.every((d) => d.n < 1000)).toBe(true);
    // somewhere the top two enterprises hold more than 85% of a district-industry's capital
    const [dom] = await query<{ n: number }>(
      t.dir,
      `SELECT count(*) AS n FROM (
      SELECT district, industry, sum(registered_capital) AS total,
        list_sum(list_slice(list(registered_capital ORDER BY registered_capital DESC), 1, 2)) AS top2, count(*) AS firms
      FROM enterprise GROUP BY 1, 2) WHERE firms >= 5 AND top2 > 0.85 * total`,
    );
    expect(dom!.n).toBeGreaterThan(0);
  });

  it('records a version with row count and content hash for each dataset', async () => {
    const versions = await domainVersions(t.dir);
    expect(Object.keys(versions).sort()).toEqual([
      'enterprise',
      'medical_visit',
      'population',
      'social_insurance',
      'utility_usage',
    ]);
    expect(versions.population).toMatchObject({ version: 1, rows: 1_000_000 });
    expect(versions.population!.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('determinism', () => {
  const a = tmpDataDir();
  const b = tmpDataDir();
  afterAll(() => {
    a.cleanup();
    b.cleanup();
  });

  it('the same seed gives the same content hash; another seed does not', async () => {
    const va = await seedDomain(a.dir, { rows: 20_000, seed: 11 });
    const vb = await seedDomain(b.dir, { rows: 20_000, seed: 11 });
    for (const t of Object.keys(va)) expect(vb[t]!.contentHash, t).toBe(va[t]!.contentHash);
    const vc = await seedDomain(b.dir, { rows: 20_000, seed: 12 });
    expect(vc.population!.contentHash).not.toBe(va.population!.contentHash);
    expect(vc.population!.version).toBe(2);
  });
});
