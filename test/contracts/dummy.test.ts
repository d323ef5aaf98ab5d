import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, openInstance, queryRows, quoteIdent, quoteLiteral, withConnection } from '../../src/store/index.ts';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  readRows,
  SLOWDOWN,
  snapshotFile,
  type TestWorld,
} from '../helpers.ts';

describe('GET /v1/contracts/:id/dummy-data', () => {
  let world: TestWorld;
  let contractId: string;
  let op: string;
  beforeAll(async () => {
    world = await buildWorld();
    contractId = await approvedContract(world, 'org-a', {
      ...APPLICATION,
      datasets: [{ dataset: 'population', columns: ['district', 'gender', 'birth_date', 'education', 'income'] }],
    });
    op = await world.token('operator', 'org-a');
  }, 60_000);
  afterAll(() => world.close());

  const get = (url: string, token = op) =>
    world.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  it('comes as a DuckDB database or a Parquet table to develop against locally, with the same rows and types', async () => {
    const json = (await get(`/v1/contracts/${contractId}/dummy-data?rows=40&seed=3`)).json() as Record<
      string,
      { columns: { name: string; type: string }[]; rows: unknown[][] }
    >;
    const dir = fs.mkdtempSync(path.join(world.dataDir, 'dummy-files-'));
    for (const format of ['duckdb', 'parquet'] as const) {
      const res = await get(`/v1/contracts/${contractId}/dummy-data?rows=40&seed=3&format=${format}`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-disposition']).toContain(`.${format}`);
      const file = path.join(dir, `dummy.${format}`);
      fs.writeFileSync(file, res.rawPayload);
      const from = format === 'duckdb' ? 'population' : `read_parquet(${quoteLiteral(file)})`;
      const instance = await openInstance(format === 'duckdb' ? file : ':memory:');
      const [described, rows] = await withConnection(instance, async (c) => [
        await queryRows<{ column_name: string; column_type: string }>(c, `DESCRIBE SELECT * FROM ${from}`),
        await queryRows<{ n: number }>(c, `SELECT count(*)::INTEGER AS n FROM ${from}`),
      ]);
      instance.closeSync();
      expect(
        described.map((d) => ({ name: d.column_name, type: d.column_type })),
        format,
      ).toEqual(json.population!.columns);
      expect(rows[0]!.n).toBe(40);
    }
    const noTable = await get(`/v1/contracts/${contractId}/dummy-data?format=parquet&table=nowhere`);
    expect(noTable.statusCode).toBe(400);
    expect(noTable.json().detail).toContain('population');
  });

  it('draws from the real columns’ vocabularies and ranges: a filter that finds rows in the snapshot finds them in dummy data', async () => {
    const dummy = (await get(`/v1/contracts/${contractId}/dummy-data?rows=500&seed=11`)).json() as Record<
      string,
      { columns: { name: string }[]; rows: unknown[][] }
    >;
    const col = (name: string) => dummy.population!.columns.findIndex((c) => c.name === name);
    const real = await readRows<{ district: string; education: string; income: number }>(
      await snapshotFile(world, contractId),
      'SELECT district, education, income FROM population',
    );
    const share = (rows: unknown[], pred: (x: unknown) => boolean) => rows.filter(pred).length / rows.length;
    // the same vocabularies …
    const districts = new Set(real.map((r) => r.district));
    expect(dummy.population!.rows.every((r) => districts.has(String(r[col('district')])))).toBe(true);
    const levels = new Set(real.map((r) => r.education));
    expect(dummy.population!.rows.every((r) => levels.has(String(r[col('education')])))).toBe(true);
    // … and ranges: income > 30000 holds for a similar share on both sides (log-normal, domain/vocab.ts)
    const incomes = dummy.population!.rows.map((r) => Number(r[col('income')]));
    const realShare = share(
      real.map((r) => r.income),
      (x) => Number(x) > 30_000,
    );
    const dummyShare = share(incomes, (x) => Number(x) > 30_000);
    expect(realShare).toBeGreaterThan(0.2);
    expect(dummyShare).toBeGreaterThan(realShare / 3);
  });

  it("has exactly the snapshot's columns and types, masked formats included, and is the same for the same seed", async () => {
    const res = await get(`/v1/contracts/${contractId}/dummy-data?rows=50&seed=7`);
    expect(res.statusCode, res.body).toBe(200);
    const dummy = res.json() as Record<string, { columns: { name: string; type: string }[]; rows: unknown[][] }>;
    const contract = { snapshot_path: await snapshotFile(world, contractId) };
    const real = await readRows<{ column_name: string; column_type: string }>(
      contract.snapshot_path,
      'DESCRIBE population',
    );
    // every column a query may name; the hidden record-key and unit-key columns (never nameable) are not dummied
    expect(dummy.population!.columns).toEqual(
      real.filter((c) => !c.column_name.startsWith('__pds')).map((c) => ({ name: c.column_name, type: c.column_type })),
    );
    expect(real.map((c) => c.column_name)).toContain('__pds_uk');
    expect(dummy.population!.rows).toHaveLength(50);
    const band = dummy.population!.columns.findIndex((c) => c.name === 'birth_date');
    const [sample] = await readRows<{ birth_date: string }>(
      contract.snapshot_path,
      'SELECT birth_date FROM population LIMIT 1',
    );
    // the same masking SQL made both: an age band looks the same
    expect(String(dummy.population!.rows[0]![band])).toMatch(
      new RegExp(`^${String(sample!.birth_date).replace(/\d+/g, '\\d+')}$`),
    );
    expect((await get(`/v1/contracts/${contractId}/dummy-data?rows=50&seed=7`)).json()).toEqual(dummy);
    expect((await get(`/v1/contracts/${contractId}/dummy-data?rows=50&seed=8`)).json()).not.toEqual(dummy);
  });

  it("holds none of the real pseudonyms, and an operator's query runs on it as written", async () => {
    const dummy = (await get(`/v1/contracts/${contractId}/dummy-data?rows=200`)).json() as Record<
      string,
      { columns: { name: string; type: string }[]; rows: unknown[][] }
    >;
    const t = dummy.population!;
    const unit = t.columns.findIndex((c) => c.name === 'pds_unit');
    const contract = { snapshot_path: await snapshotFile(world, contractId) };
    const realUnits = new Set(
      (await readRows<{ pds_unit: string }>(contract.snapshot_path, 'SELECT pds_unit FROM population')).map(
        (r) => r.pds_unit,
      ),
    );
    expect(t.rows.filter((r) => realUnits.has(String(r[unit])))).toEqual([]);
    const instance = await openInstance(':memory:');
    const rows = await withConnection(instance, async (c) => {
      await exec(
        c,
        `CREATE TABLE population (${t.columns.map((col) => `${quoteIdent(col.name)} ${col.type}`).join(', ')})`,
      );
      await exec(
        c,
        `INSERT INTO population VALUES ${t.rows.map((r) => `(${r.map((v) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : quoteLiteral(String(v)))).join(', ')})`).join(', ')}`,
      );
      return queryRows(
        c,
        'SELECT district, education, count(*) AS n, avg(income) AS mean_income FROM population GROUP BY ALL',
      );
    });
    instance.closeSync();
    expect(rows.length).toBeGreaterThan(3);
  });

  it("is for the contract's parties only", async () => {
    expect(
      (await get(`/v1/contracts/${contractId}/dummy-data`, await world.token('operator', 'org-z'))).statusCode,
    ).toBe(404);
    expect((await get(`/v1/contracts/${contractId}/dummy-data?rows=100000`)).statusCode).toBe(400);
  });

  it('four large requests at once never hold the event loop: /healthz keeps answering quickly', async () => {
    /** The slowest /healthz answer while `work` runs (every 20 ms). */
    const slowestDuring = async (work: () => Promise<unknown>) => {
      const times: number[] = [];
      let done = false;
      const probe = (async () => {
        while (!done) {
          const t = performance.now();
          await world.server.inject({ method: 'GET', url: '/healthz' });
          times.push(performance.now() - t);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await work();
      done = true;
      await probe;
      return { max: Math.max(...times), samples: times.length };
    };
    // the same probe over the same time with nothing else asked: what this machine's load costs alone
    const idle = await slowestDuring(() => new Promise((r) => setTimeout(r, 1000)));
    let statuses: number[] = [];
    const busy = await slowestDuring(async () => {
      const big = await Promise.all(
        [1, 2, 3, 4].map((seed) => get(`/v1/contracts/${contractId}/dummy-data?rows=10000&seed=${seed}`)),
      );
      statuses = big.map((r) => r.statusCode);
    });
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(busy.samples).toBeGreaterThan(5);
    // under 200 ms on an idle machine; on a busy one, no worse than 200 ms beyond what the load alone costs
    expect(busy.max).toBeLessThan(200 * SLOWDOWN + idle.max);
  }, 120_000);
});
