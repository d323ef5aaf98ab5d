import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { domainPath, domainVersions, ingest, maskSample, seedDomain } from '../../src/domain/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { exec, openInstance, withConnection } from '../../src/store/index.ts';
import { tmpDataDir } from '../helpers.ts';

const { catalog } = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));

describe('ingest', () => {
  const t = tmpDataDir();
  const csv = path.join(t.dir, 'population.csv');
  let header: string;
  let lines: string[];
  beforeAll(async () => {
    await seedDomain(t.dir, { rows: 3000, seed: 9 });
    const instance = await openInstance(domainPath(t.dir), { access_mode: 'READ_ONLY' });
    await withConnection(instance, async (c) => {
      await exec(c, `COPY (SELECT * FROM population) TO '${csv}' (HEADER)`);
      await exec(c, `COPY (SELECT * FROM population) TO '${path.join(t.dir, 'population.parquet')}' (FORMAT parquet)`);
    });
    instance.closeSync();
    [header, ...lines] = fs.readFileSync(csv, 'utf8').trim().split('\n') as [string, ...string[]];
  });
  afterAll(() => t.cleanup());

  let before: Awaited<ReturnType<typeof domainVersions>>;
  beforeEach(async () => {
    before = await domainVersions(t.dir);
  });
  const write = (name: string, content: string | Buffer) => {
    const f = path.join(t.dir, name);
    fs.writeFileSync(f, content);
    return f;
  };
  const load = (file: string) => ingest(t.dir, { dataset: 'population', file, catalog });

  async function expectRefusedAndIntact(file: string, code: string, detail: RegExp) {
    const err = await load(file).then(
      () => undefined,
      (e: unknown) => e as { code: string; detail: string },
    );
    expect(err?.code).toBe(code);
    expect(err?.detail).toMatch(detail);
    expect(await domainVersions(t.dir)).toEqual(before);
  }

  it('a CSV round trip of a seeded table is a new version with the same content hash', async () => {
    const report = await load(csv);
    expect(report.version).toMatchObject({
      dataset: 'population',
      version: before.population!.version + 1,
      rows: 3000,
      contentHash: before.population!.contentHash,
    });
    expect(report.findings).toEqual([]);
  });

  it('loads Parquet too', async () => {
    const report = await load(path.join(t.dir, 'population.parquet'));
    expect(report.version.contentHash).toBe(before.population!.contentHash);
  });

  it('reports invalid check characters as counts and masked samples, and still loads', async () => {
    const bad = lines
      .slice(0, 50)
      .map((l, i) => (i === 3 ? `${l.slice(0, 17)}${l[17] === '0' ? '1' : '0'}${l.slice(18)}` : l));
    const report = await load(write('bad-check.csv', [header, ...bad].join('\n')));
    const finding = report.findings.find((f) => f.column === 'id_number');
    expect(finding).toMatchObject({ check: 'GB 11643 check character', count: 1, samples: [{ line: 5 }] });
    expect(finding!.samples[0]!.value).toContain('*');
    expect(finding!.samples[0]!.value).not.toBe(bad[3]!.slice(0, 18));
  });

  it('refuses a missing column, naming it, and keeps the previous version', async () => {
    const cut = (l: string) => l.split(',').slice(0, -1).join(',');
    await expectRefusedAndIntact(
      write('missing.csv', [cut(header), ...lines.map(cut)].join('\n')),
      'ERR_INGEST_COLUMNS',
      /missing column\(s\) religion/,
    );
  });

  it('refuses a column the catalog does not have', async () => {
    await expectRefusedAndIntact(
      write('extra.csv', [`${header},secret`, ...lines.map((l) => `${l},x`)].join('\n')),
      'ERR_INGEST_COLUMNS',
      /not in the catalog for population: secret/,
    );
  });

  it('refuses a wrong type, naming the column and the line', async () => {
    const bad = [...lines];
    bad[6] = bad[6]!.replace(/,[\d.]+,([^,]+)$/, ',lots,$1');
    await expectRefusedAndIntact(
      write('type.csv', [header, ...bad].join('\n')),
      'ERR_INGEST_TYPE',
      /income: 1 value\(s\) are not DOUBLE \(lines 8\)/,
    );
  });

  it('refuses invalid UTF-8', async () => {
    const body = Buffer.concat([
      Buffer.from(`${header}\n${lines[0]}\n`),
      Buffer.from(lines[1]!.replace(/,[^,]+,/, ',XX,')).map((b) => (b === 0x58 ? 0xff : b)),
    ]);
    await expectRefusedAndIntact(write('latin.csv', body), 'ERR_INGEST_ENCODING', /not utf-8|unicode/i);
  });

  it('refuses an empty file, a header-only file and an unknown format', async () => {
    await expectRefusedAndIntact(write('empty.csv', ''), 'ERR_INGEST_FILE', /empty/);
    await expectRefusedAndIntact(write('header.csv', `${header}\n`), 'ERR_INGEST_FILE', /no data rows/);
    await expectRefusedAndIntact(write('data.xlsx', 'x'), 'ERR_INGEST_FILE', /unknown format/);
  });

  it('masks samples', () => {
    expect(maskSample('52010219900101001X')).toBe('520102**********1X');
    expect(maskSample('abc')).toBe('***');
  });
});
