import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainPath, ingestDataset, seedDomain, withDomainTransaction } from '../../src/domain/index.ts';
import { exec, openInstance, quoteLiteral, withConnection } from '../../src/store/index.ts';
import { buildSnapshot, fileSha256, pseudonym, resolveGrants, type DatasetGrant } from '../../src/masking/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import type { Row } from '../../src/store/index.ts';
import { readRows, tmpDataDir } from '../helpers.ts';
import path from 'node:path';

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));

const readTable = readRows;

describe('resolveGrants', () => {
  it('applies default rules: quasi identifiers kept, birth dates generalized to the year', () => {
    const [g] = resolveGrants(policies.catalog, policies.masking, [
      { dataset: 'population', columns: ['district', 'birth_date'] },
    ]);
    expect(g!.columns).toEqual([
      { column: 'district', rule: 'keep' },
      { column: 'birth_date', rule: 'generalize:year' },
    ]);
    expect(g!.privacyUnit).toBe('id_number');
  });

  it('names every offending field: negative list, raw direct identifier, unknown column, disallowed rule', () => {
    try {
      resolveGrants(policies.catalog, policies.masking, [
        { dataset: 'population', columns: ['religion', 'name', 'nope', 'income'], masking: { income: 'pseudonymize' } },
        { dataset: 'tax_secrets', columns: ['x'] },
      ]);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_COLUMN_NOT_GRANTABLE' });
      const fields = (err as { errors: { field: string }[] }).errors.map((e) => e.field);
      expect(fields).toEqual([
        '/body/datasets/0/columns/0',
        '/body/datasets/0/columns/1',
        '/body/datasets/0/columns/2',
        '/body/datasets/0/masking/income',
        '/body/datasets/1/dataset',
      ]);
    }
  });

  it('grants a direct identifier only in masked form', () => {
    const [g] = resolveGrants(policies.catalog, policies.masking, [
      { dataset: 'population', columns: ['phone'], masking: { phone: 'pseudonymize' } },
    ]);
    expect(g!.columns).toEqual([{ column: 'phone', rule: 'pseudonymize' }]);
  });
});

describe('buildSnapshot', () => {
  const t = tmpDataDir();
  let grants: DatasetGrant[];
  let raw: Row[];
  beforeAll(async () => {
    await seedDomain(t.dir, { rows: 3000, seed: 5 });
    grants = resolveGrants(policies.catalog, policies.masking, [
      {
        dataset: 'population',
        columns: ['id_number', 'phone', 'name', 'address', 'district', 'birth_date', 'income'],
        masking: { id_number: 'pseudonymize', phone: 'pseudonymize', name: 'pseudonymize', address: 'pseudonymize' },
      },
    ]);
    raw = await readTable(domainPath(t.dir), 'SELECT * FROM population');
  });
  afterAll(() => t.cleanup());

  it('holds no raw direct identifier in any cell', async () => {
    const snap = await buildSnapshot({
      dataDir: t.dir,
      domainFile: domainPath(t.dir),
      contractId: 'ctr_scan',
      grants,
      catalog: policies.catalog,
      policyK: 10,
      pseudonymKey: Buffer.alloc(32, 1),
    });
    const cells = new Set(
      (await readTable(snap.file, 'SELECT * FROM population')).flatMap((r) => Object.values(r).map(String)),
    );
    const leaks = raw
      .flatMap((r) => ['id_number', 'phone', 'name', 'address'].map((c) => String(r[c])))
      .filter((v) => cells.has(v));
    expect(leaks).toEqual([]);
    expect(snap.tables.population!.rows).toBe(raw.length);
    expect(snap.hash).toBe(await fileSha256(snap.file));
  });

  it('pseudonyms are SHA-256 of the contract key and the value, truncated: stable within a contract, unlinkable across', async () => {
    const k1 = Buffer.alloc(32, 2);
    const k2 = Buffer.alloc(32, 3);
    const s1 = await buildSnapshot({
      dataDir: t.dir,
      domainFile: domainPath(t.dir),
      contractId: 'ctr_k1',
      grants,
      catalog: policies.catalog,
      policyK: 10,
      pseudonymKey: k1,
    });
    const s2 = await buildSnapshot({
      dataDir: t.dir,
      domainFile: domainPath(t.dir),
      contractId: 'ctr_k2',
      grants,
      catalog: policies.catalog,
      policyK: 10,
      pseudonymKey: k2,
    });
    const first = String(raw[0]!.id_number);
    const expected = createHash('sha256')
      .update(Buffer.concat([k1, Buffer.from(first)]))
      .digest('hex')
      .slice(0, 32);
    expect(pseudonym(k1, first)).toBe(expected);
    const t1 = new Set((await readTable(s1.file, 'SELECT id_number FROM population')).map((r) => r.id_number));
    const t2 = new Set((await readTable(s2.file, 'SELECT id_number FROM population')).map((r) => r.id_number));
    expect(t1.has(expected)).toBe(true);
    expect([...t1].filter((x) => t2.has(x))).toEqual([]);
  });

  it('keeps only granted columns plus the privacy unit, with generalized dates', async () => {
    const narrow = resolveGrants(policies.catalog, policies.masking, [
      { dataset: 'population', columns: ['district', 'birth_date'] },
    ]);
    const snap = await buildSnapshot({
      dataDir: t.dir,
      domainFile: domainPath(t.dir),
      contractId: 'ctr_narrow',
      grants: narrow,
      catalog: policies.catalog,
      policyK: 10,
      pseudonymKey: Buffer.alloc(32, 4),
    });
    const rows = await readTable(snap.file, 'SELECT * FROM population LIMIT 5');
    expect(Object.keys(rows[0]!)).toEqual(['district', 'birth_date', 'pds_unit']);
    expect(rows.every((r) => /^\d{4}$/.test(String(r.birth_date)))).toBe(true);
    const tables = await readTable(snap.file, 'SELECT table_name FROM duckdb_tables()');
    expect(tables.map((r) => r.table_name)).toEqual(['population']);
  });

  it("counts a dataset's units once per version: a new version with the same rows is counted again", async () => {
    const build = (contractId: string) =>
      buildSnapshot({
        dataDir: t.dir,
        domainFile: domainPath(t.dir),
        contractId,
        grants,
        catalog: policies.catalog,
        policyK: 10,
        pseudonymKey: Buffer.alloc(32, 6),
      });
    const first = await build('ctr_units_1');
    expect(first.tables.population).toMatchObject({ rows: raw.length, units: raw.length });
    expect((await build('ctr_units_2')).tables.population!.units).toBe(raw.length);
    // a new version, as many rows, one person's id_number on a second row
    const csv = path.join(t.dir, 'population-v2.csv');
    const db = await openInstance(domainPath(t.dir), { access_mode: 'READ_ONLY' });
    await withConnection(db, (c) =>
      exec(
        c,
        `COPY (SELECT * REPLACE (CASE WHEN id_number = ${quoteLiteral(String(raw[1]!.id_number))} THEN ${quoteLiteral(String(raw[0]!.id_number))} ELSE id_number END AS id_number) FROM population) TO ${quoteLiteral(csv)} (HEADER)`,
      ),
    );
    db.closeSync();
    await withDomainTransaction(t.dir, (conn) =>
      ingestDataset(conn, { dataset: 'population', file: csv, catalog: policies.catalog }),
    );
    const third = await build('ctr_units_3');
    expect(third.tables.population).toMatchObject({ rows: raw.length, units: raw.length - 1 });
    expect(third.tables.population!.datasetVersion).toBe(first.tables.population!.datasetVersion! + 1);
  });

  it('a failed build leaves no snapshot behind', async () => {
    const bad: DatasetGrant[] = [{ ...grants[0]!, dataset: 'no_such_table' }];
    await expect(
      buildSnapshot({
        dataDir: t.dir,
        domainFile: domainPath(t.dir),
        contractId: 'ctr_fail',
        grants: bad,
        catalog: policies.catalog,
        policyK: 10,
        pseudonymKey: Buffer.alloc(32, 5),
      }),
    ).rejects.toThrow();
    const fs = await import('node:fs');
    expect(fs.readdirSync(path.join(t.dir, 'snapshots')).filter((f) => f.startsWith('ctr_fail'))).toEqual([]);
  });
});

describe('rows a set of columns tells apart with the unit (catalog uniquePerUnit, issue 30)', () => {
  const t = tmpDataDir();
  beforeAll(() => seedDomain(t.dir, { rows: 2000, seed: 11 }));
  afterAll(() => t.cleanup());
  const build = (contractId: string, columns: string[], masking: Record<string, string> = {}) =>
    buildSnapshot({
      dataDir: t.dir,
      domainFile: domainPath(t.dir),
      contractId,
      grants: resolveGrants(policies.catalog, policies.masking, [
        { dataset: 'social_insurance', columns, masking: { id_number: 'pseudonymize', ...masking } },
      ]),
      catalog: policies.catalog,
      policyK: 10,
      pseudonymKey: Buffer.alloc(32, 9),
    });

  it('records each set that holds on the data and survives the grant (kept as it is, or pseudonymized)', async () => {
    const both = await build('ctr_u1', ['id_number', 'employer_uscc', 'month', 'base_salary'], {
      employer_uscc: 'pseudonymize',
    });
    expect(both.tables.social_insurance!.uniqueWith).toEqual([['month'], ['employer_uscc', 'month']]);
    const monthOnly = await build('ctr_u2', ['id_number', 'month', 'base_salary']);
    expect(monthOnly.tables.social_insurance!.uniqueWith).toEqual([['month']]);
    const none = await build('ctr_u3', ['id_number', 'base_salary']);
    expect(none.tables.social_insurance!.uniqueWith).toBeUndefined();
  });

  it('records none when a person has two rows of one month', async () => {
    const db = await openInstance(domainPath(t.dir));
    await withConnection(db, (c) => exec(c, 'INSERT INTO social_insurance SELECT * FROM social_insurance LIMIT 1'));
    db.closeSync();
    const snap = await build('ctr_u4', ['id_number', 'month', 'base_salary']);
    expect(snap.tables.social_insurance!.uniqueWith).toBeUndefined();
  });
});
