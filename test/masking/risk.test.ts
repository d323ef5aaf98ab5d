import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { assessRisk, resolveGrants } from '../../src/masking/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { exec, openInstance, type DuckDBConnection, type DuckDBInstance } from '../../src/store/index.ts';

describe('assessRisk, against a hand-computed example', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    instance = await openInstance(':memory:');
    conn = await instance.connect();
    // classes over (district, band): (A,30) 3 units · (B,40) 2 units · (C,50) 1 unit with 2 rows
    await exec(
      conn,
      `CREATE TABLE t AS SELECT * FROM (VALUES
      ('u1', 'A', '30', 'x'), ('u2', 'A', '30', 'y'), ('u3', 'A', '30', 'x'),
      ('u4', 'B', '40', 'x'), ('u5', 'B', '40', 'x'),
      ('u6', 'C', '50', 'z'), ('u6', 'C', '50', 'w')) v(pds_unit, district, band, icd)`,
    );
  });
  afterAll(() => {
    conn.closeSync();
    instance.closeSync();
  });

  it('reports k, shares below k, prosecutor and average risk, class sizes and l-diversity', async () => {
    const r = await assessRisk(conn, {
      source: 't',
      unit: 'pds_unit',
      quasiIdentifiers: ['district', 'band'],
      sensitive: ['icd'],
      policyK: 3,
    });
    expect(r).toMatchObject({
      records: 7,
      classes: 3,
      k: 1,
      policyK: 3,
      recordsBelowK: 4,
      prosecutorRisk: 1,
      lDiversity: { icd: 1 },
    });
    expect(r.shareBelowK).toBeCloseTo(4 / 7, 10);
    // (3 × 1/3 + 2 × 1/2 + 2 × 1/1) / 7
    expect(r.averageRisk).toBeCloseTo(4 / 7, 10);
    expect(r.classSizes).toEqual([
      { size: '1', classes: 1, records: 2 },
      { size: '2', classes: 1, records: 2 },
      { size: '3-4', classes: 1, records: 3 },
    ]);
  });

  it('with no quasi-identifier the whole table is one class', async () => {
    const r = await assessRisk(conn, {
      source: 't',
      unit: 'pds_unit',
      quasiIdentifiers: [],
      sensitive: ['icd'],
      policyK: 10,
    });
    expect(r).toMatchObject({ classes: 1, k: 6, recordsBelowK: 7, lDiversity: { icd: 4 } });
    expect(r.averageRisk).toBeCloseTo(1 / 6, 10);
  });
});

describe('grant resolution by level and role', () => {
  const { catalog, masking } = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
  const refusal = (req: object) => {
    try {
      resolveGrants(catalog, masking, [req as never]);
    } catch (err) {
      return (err as { errors: { field: string; message: string }[] }).errors;
    }
    throw new Error('expected a refusal');
  };

  it('a general-L4 sensitive column is never kept raw; its default is rare-to-other', () => {
    expect(refusal({ dataset: 'medical_visit', columns: ['icd10'], masking: { icd10: 'keep' } })[0]!.message).toMatch(
      /not allowed for medical_visit\.icd10/,
    );
    const [g] = resolveGrants(catalog, masking, [{ dataset: 'medical_visit', columns: ['icd10', 'visit_date'] }]);
    expect(g!.columns).toEqual([
      { column: 'icd10', rule: 'rare-to-other:10' },
      { column: 'visit_date', rule: 'generalize:month' },
    ]);
  });

  it('refuses a rule that does not fit the column type, or does not parse, naming the field', () => {
    expect(
      refusal({ dataset: 'population', columns: ['income'], masking: { income: 'generalize:year' } })[0],
    ).toMatchObject({ field: '/body/datasets/0/masking/income' });
    expect(
      refusal({ dataset: 'population', columns: ['income'], masking: { income: 'topcode:lots' } })[0]!.message,
    ).toMatch(/numeric value/);
    expect(
      refusal({ dataset: 'population', columns: ['district'], masking: { district: 'generalize:range:10' } })[0]!
        .message,
    ).toMatch(/not allowed|numeric/);
  });

  it('grants masked direct identifiers and parameterized rules', () => {
    const [g] = resolveGrants(catalog, masking, [
      {
        dataset: 'population',
        columns: ['phone', 'address', 'birth_date', 'income', 'education'],
        masking: {
          phone: 'partial',
          address: 'generalize:district',
          birth_date: 'generalize:age-band:10',
          income: 'generalize:range:10000',
          education: 'rare-to-other:20',
        },
      },
    ]);
    expect(g!.columns.map((c) => c.rule)).toEqual([
      'partial',
      'generalize:district',
      'generalize:age-band:10',
      'generalize:range:10000',
      'rare-to-other:20',
    ]);
  });
});
