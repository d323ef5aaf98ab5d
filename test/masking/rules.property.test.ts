import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotSelect, type DatasetGrant } from '../../src/masking/index.ts';
import type { CatalogColumn } from '../../src/policies/index.ts';
import {
  exec,
  openInstance,
  queryRows,
  type DuckDBConnection,
  type DuckDBInstance,
  type JsonValue,
} from '../../src/store/index.ts';

/**
 * Property tests for every masking rule: random values go through the compiled SQL inside a real
 * DuckDB and the result is checked against what the rule promises.
 */

const KEY = Buffer.alloc(32, 7);
// the measure-noise key is the domain's in production: another key here
const pads = { pkey: KEY.toString('hex'), nkey: Buffer.alloc(32, 6).toString('hex') };
// computed here from the definition (SHA-256 of key ‖ value, first 128 bits), not by the code under test
const token = (v: string) =>
  createHash('sha256')
    .update(Buffer.concat([KEY, Buffer.from(v, 'utf8')]))
    .digest('hex')
    .slice(0, 32);

let instance: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  instance = await openInstance(':memory:');
  conn = await instance.connect();
  await exec(conn, "ATTACH ':memory:' AS domain");
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

let run = 0;
/** Loads `values` as column `v` (with unit `u`) and returns the masked column for each row, in order. */
async function mask(
  type: string,
  rule: string,
  values: Array<JsonValue>,
  column: Partial<CatalogColumn> = {},
  units?: string[],
): Promise<JsonValue[]> {
  const table = `t${run++}`;
  await exec(conn, `CREATE TABLE domain.${table} (i INTEGER, u VARCHAR, v ${type})`);
  const appender = values.map(
    (v, i) =>
      `(${i}, '${(units?.[i] ?? `u${i}`).replaceAll("'", "''")}', ${v === null ? 'NULL' : typeof v === 'string' ? `'${v.replaceAll("'", "''")}'` : String(v)}::${type})`,
  );
  if (appender.length) await exec(conn, `INSERT INTO domain.${table} VALUES ${appender.join(', ')}`);
  const grant: DatasetGrant = {
    dataset: table,
    provider: 'p',
    providerName: 'p',
    privacyUnit: 'u',
    columns: [
      { column: 'i', rule: 'keep' },
      { column: 'v', rule },
    ],
  };
  const columns: Record<string, CatalogColumn> = {
    i: { type: 'INTEGER', classification: 'general-L1', role: 'other' },
    u: { type: 'VARCHAR', classification: 'general-L4', role: 'direct' },
    v: { type, classification: 'general-L2', role: 'quasi', ...column },
  };
  const sql = snapshotSelect(grant, columns, '2026-01-01');
  const used = Object.fromEntries(Object.entries(pads).filter(([k]) => sql.includes(`$${k}`)));
  const rows = await queryRows<{ i: number; v: JsonValue }>(conn, `SELECT i, v FROM (${sql}) ORDER BY i`, used);
  await exec(conn, `DROP TABLE domain.${table}`);
  return rows.map((r) => r.v);
}

const dates = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2025-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const money = fc
  .double({ min: -1e7, max: 1e7, noNaN: true, noDefaultInfinity: true })
  .map((x) => Math.round(x * 100) / 100 || 0);
const prop = { numRuns: 25 };

describe('masking rules (property tests)', () => {
  it('keep returns the value; pseudonymize is SHA-256 of the contract key and the value, truncated', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 20 }),
        async (vs) => {
          expect(await mask('VARCHAR', 'keep', vs)).toEqual(vs);
          expect(await mask('VARCHAR', 'pseudonymize', vs)).toEqual(vs.map(token));
        },
      ),
      prop,
    );
  });

  it('generalize:year | quarter | month truncate a date', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(dates, { minLength: 1, maxLength: 20 }), async (ds) => {
        expect(await mask('DATE', 'generalize:year', ds)).toEqual(ds.map((d) => d.slice(0, 4)));
        expect(await mask('DATE', 'generalize:month', ds)).toEqual(ds.map((d) => d.slice(0, 7)));
        expect(await mask('DATE', 'generalize:quarter', ds)).toEqual(
          ds.map((d) => `${d.slice(0, 4)}-Q${Math.ceil(Number(d.slice(5, 7)) / 3)}`),
        );
      }),
      prop,
    );
  });

  it('generalize:age-band:W puts the age on the reference date in its band', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(dates, { minLength: 1, maxLength: 20 }), fc.constantFrom(5, 10, 20), async (ds, w) => {
        const out = await mask('DATE', `generalize:age-band:${w}`, ds);
        ds.forEach((d, i) => {
          const [y, m, day] = d.split('-').map(Number) as [number, number, number];
          const age = 2026 - y - (m * 100 + day > 101 ? 1 : 0);
          const lo = Math.floor(age / w) * w;
          expect(out[i]).toBe(`${lo}-${lo + w - 1}`);
        });
      }),
      prop,
    );
  });

  it('generalize:range:W returns the range holding the value', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(money, { minLength: 1, maxLength: 20 }),
        fc.constantFrom(1000, 10000),
        async (xs, w) => {
          const out = await mask('DOUBLE', `generalize:range:${w}`, xs);
          xs.forEach((x, i) => {
            const [lo, hi] = String(out[i]).slice(1, -1).split(',').map(Number) as [number, number];
            expect(hi - lo).toBe(w);
            expect(lo <= x && x < hi).toBe(true);
          });
        },
      ),
      prop,
    );
  });

  // labels are looked up in a list written into the SQL for the usual bands (ages 0–150, the
  // first 1,024 ranges) and formatted row by row for any other: the same strings either way
  it('generalize:range:W labels are the same inside and outside the written list', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 7, 1000, 10000),
        fc.array(fc.oneof(fc.integer({ min: -3, max: 1100 }), fc.double({ min: -3, max: 1100, noNaN: true })), {
          minLength: 1,
          maxLength: 30,
        }),
        async (w, bands) => {
          const xs = bands.map((b) => b * w);
          const out = await mask('DOUBLE', `generalize:range:${w}`, xs);
          expect(out).toEqual(xs.map((x) => `[${Math.floor(x / w) * w + 0},${Math.floor(x / w) * w + w})`));
        },
      ),
      prop,
    );
  });

  it('generalize:age-band:W of a numeric age: the same labels inside and outside the written list', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 5, 10, 25),
        fc.array(fc.double({ min: -40, max: 400, noNaN: true }), { minLength: 1, maxLength: 30 }),
        async (w, ages) => {
          const out = await mask('DOUBLE', `generalize:age-band:${w}`, ages);
          expect(out).toEqual(
            ages.map((a) => {
              const age = Math.floor(a);
              // DuckDB's // truncates toward zero
              const lo = Math.trunc(age / w) * w + 0;
              return w === 1 ? `${age}` : `${lo}-${lo + w - 1}`;
            }),
          );
        },
      ),
      prop,
    );
  });

  it('generalize:age-band:W:T puts every age from T up in one band T+, the rest as age-band:W', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom([5, 80], [10, 80], [10, 90], [20, 60]),
        fc.array(fc.double({ min: -9, max: 400, noNaN: true }), { minLength: 1, maxLength: 30 }),
        async ([w, top], ages) => {
          const out = await mask('DOUBLE', `generalize:age-band:${w}:${top}`, ages);
          expect(out).toEqual(
            ages.map((a) => {
              const age = Math.floor(a);
              const lo = Math.trunc(age / w!) * w! + 0;
              return age >= top! ? `${top}+` : `${lo}-${lo + w! - 1}`;
            }),
          );
        },
      ),
      prop,
    );
  });

  it('bands at the edges: the largest BIGINT age, negative ages and ranges are formatted, not an error', async () => {
    expect(await mask('DECIMAL(38,0)', 'generalize:age-band:1', ['9223372036854775807'])).toEqual([
      '9223372036854775807',
    ]);
    expect(await mask('DOUBLE', 'generalize:age-band:10', [-15, -5, 150, 151, 1e6])).toEqual([
      '-10--1',
      '0-9',
      '150-159',
      '150-159',
      '1000000-1000009',
    ]);
    expect(await mask('DOUBLE', 'generalize:range:10000', [-1, 10239999, 10240000])).toEqual([
      '[-10000,0)',
      '[10230000,10240000)',
      '[10240000,10250000)',
    ]);
  });

  it('generalize:district keeps only the district of an address', async () => {
    const districts = ['云岩区', '南明区', '清镇市', '修文县', '观山湖区'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...districts), fc.boolean(), fc.integer({ min: 1, max: 999 })), {
          minLength: 1,
          maxLength: 20,
        }),
        async (parts) => {
          const addresses = parts.map(
            ([d, province, n]) => `${province ? '贵州省' : ''}贵阳市${d}丁路${n}号${n % 30}栋`,
          );
          expect(await mask('VARCHAR', 'generalize:district', addresses)).toEqual(parts.map(([d]) => d));
        },
      ),
      prop,
    );
  });

  it('partial masks mobile numbers, cuts ID numbers to the division code, keeps a third of other text', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.stringMatching(/^1[3-9]\d{9}$/), { minLength: 1, maxLength: 20 }),
        async (phones) => {
          expect(await mask('VARCHAR', 'partial', phones, { format: 'mobile' })).toEqual(
            phones.map((p) => `${p.slice(0, 3)}****${p.slice(-4)}`),
          );
        },
      ),
      prop,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.stringMatching(/^\d{17}[\dX]$/), { minLength: 1, maxLength: 20 }), async (ids) => {
        expect(await mask('VARCHAR', 'partial', ids, { format: 'id-number' })).toEqual(ids.map((id) => id.slice(0, 6)));
      }),
      prop,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme-ascii' }), { minLength: 1, maxLength: 20 }),
        async (names) => {
          const out = await mask('VARCHAR', 'partial', names);
          names.forEach((n, i) => {
            const keep = Math.max(1, Math.floor(n.length / 3));
            expect(out[i]).toBe(n.slice(0, keep) + '*'.repeat(n.length - keep));
          });
        },
      ),
      prop,
    );
  });

  it('topcode and bottomcode cap values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(money, { minLength: 1, maxLength: 20 }), money, async (xs, cap) => {
        expect(await mask('DOUBLE', `topcode:${cap}`, xs)).toEqual(xs.map((x) => Math.min(x, cap)));
        expect(await mask('DOUBLE', `bottomcode:${cap}`, xs)).toEqual(xs.map((x) => Math.max(x, cap)));
      }),
      prop,
    );
  });

  it('noise:F moves every value by F/2 to F, and is the same for every row of one unit and column', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.double({ min: 1, max: 1e6, noNaN: true }).map((x) => Math.round(x * 100) / 100),
          { minLength: 2, maxLength: 20 },
        ),
        fc.constantFrom(0.12, 0.15, 0.2),
        async (xs, f) => {
          const out = (await mask('DOUBLE', `noise:${f}`, xs)) as number[];
          xs.forEach((x, i) => {
            expect(Math.abs(out[i]! - x)).toBeLessThanOrEqual(f * x + 0.006);
            // never closer than F/2: no value comes out nearly exact (rounding to cents aside)
            expect(Math.abs(out[i]! - x)).toBeGreaterThanOrEqual((f / 2) * x - 0.006);
          });
          // two rows of one unit get the same factor
          const same = (await mask('DOUBLE', `noise:${f}`, [xs[0]!, xs[0]!], {}, ['p1', 'p1'])) as number[];
          expect(same[0]).toBe(same[1]);
        },
      ),
      prop,
    );
  });

  it('rare-to-other:K replaces categories with fewer than K units, by units not rows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5', 'p6')), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 4 }),
        async (rows, k) => {
          const out = await mask(
            'VARCHAR',
            `rare-to-other:${k}`,
            rows.map(([c]) => c),
            {},
            rows.map(([, u]) => u),
          );
          const units = new Map<string, Set<string>>();
          for (const [c, u] of rows) units.set(c, (units.get(c) ?? new Set()).add(u));
          rows.forEach(([c], i) => expect(out[i]).toBe(units.get(c)!.size < k ? '其他' : c));
        },
      ),
      prop,
    );
  });

  it('every rule keeps NULL as NULL', async () => {
    for (const [type, rule] of [
      ['VARCHAR', 'pseudonymize'],
      ['DATE', 'generalize:year'],
      ['DOUBLE', 'topcode:5'],
      ['DOUBLE', 'noise:0.15'],
      ['VARCHAR', 'partial'],
      ['VARCHAR', 'rare-to-other:2'],
      ['VARCHAR', 'generalize:district'],
      ['DATE', 'generalize:age-band:10'],
      ['DOUBLE', 'generalize:age-band:1'],
      ['DOUBLE', 'generalize:range:1000'],
    ] as const) {
      expect(await mask(type, rule, [null]), rule).toEqual([null]);
    }
  });
});
