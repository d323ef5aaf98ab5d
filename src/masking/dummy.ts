import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { en, Faker, zh_CN } from '@faker-js/faker';
import { bundleModule, moduleBeside } from '../bundle/index.ts';
import {
  DIAGNOSES,
  DISTRICTS,
  EDUCATION,
  ENTERPRISE_STATUS,
  ETHNICITIES,
  HOSPITALS,
  INDUSTRIES,
  LOG_NORMAL,
  RELIGION,
  SALARY_BASE,
  idNumberCheckChar,
  usccCheckChar,
} from '../domain/index.ts';
import type { Catalog, CatalogColumn } from '../policies/index.ts';
import {
  ensureFreeSpace,
  exec,
  isDiskFull,
  openInstance,
  quoteIdent,
  quoteLiteral,
  readResult,
  storageFull,
  withConnection,
  type JsonValue,
} from '../store/index.ts';
import type { DatasetGrant } from './rules.ts';
import { maskingKeys, paramsFor, snapshotSelect } from './snapshot.ts';

/**
 * Dummy data for a contract (as OpenSAFELY researchers work on dummy data): raw rows invented by
 * faker, column by column from the catalog, then put through the contract's own masking SQL, so
 * the result has exactly the snapshot's tables, columns, types and masked formats — and nothing of
 * the real data. Privacy units are drawn from one pool, so joins between tables find matches.
 */

export interface DummyTable {
  columns: { name: string; type: string }[];
  rows: JsonValue[][];
}

const pick = (f: Faker, list: ReadonlyArray<readonly [string, number]>): string =>
  f.helpers.weightedArrayElement(list.map(([value, weight]) => ({ value, weight })));

const VOCAB: Record<string, (f: Faker) => string> = {
  gender: (f) => f.helpers.arrayElement(['男', '女']),
  hukou_type: (f) => f.helpers.arrayElement(['城镇', '农村']),
  education: (f) => pick(f, EDUCATION),
  ethnicity: (f) => pick(f, ETHNICITIES),
  religion: (f) => pick(f, RELIGION),
  district: (f) => f.helpers.weightedArrayElement(DISTRICTS.map((d) => ({ value: d.name, weight: d.weight }))),
  industry: (f) => pick(f, INDUSTRIES),
  status: (f) => pick(f, ENTERPRISE_STATUS),
  hospital: (f) => pick(f, HOSPITALS),
  icd10: (f) => f.helpers.weightedArrayElement(DIAGNOSES.map((d) => ({ value: d.code, weight: d.weight }))),
};

function idNumber(f: Faker): string {
  const d = f.helpers.arrayElement(DISTRICTS);
  const birth = f.date.birthdate({ mode: 'age', min: 0, max: 95 }).toISOString().slice(0, 10).replaceAll('-', '');
  const body = `${d.code}${birth}${f.string.numeric(3)}`;
  return body + idNumberCheckChar(body);
}

function uscc(f: Faker): string {
  const body = `91${f.helpers.arrayElement(DISTRICTS).code}${f.string.numeric(9)}`;
  return body + usccCheckChar(body);
}

/** The log-cost of a visit, weighted over the diagnoses (each has its own in the domain). */
const COST_MU = DIAGNOSES.reduce((a, d) => a + d.cost * d.weight, 0) / DIAGNOSES.reduce((a, d) => a + d.weight, 0);

/** A standard normal draw (Box–Muller) from faker's seeded generator. */
const normal = (f: Faker): number =>
  Math.sqrt(-2 * Math.log(1 - f.number.float({ min: 0, max: 1 }))) *
  Math.cos(2 * Math.PI * f.number.float({ min: 0, max: 1 }));

/** A raw value for one catalog column. */
function rawValue(f: Faker, name: string, column: CatalogColumn): string | number | null {
  if (column.format === 'id-number') return idNumber(f);
  if (column.format === 'uscc') return uscc(f);
  if (column.format === 'mobile')
    return `1${f.helpers.arrayElement(['38', '39', '58', '86', '88'])}${f.string.numeric(8)}`;
  const vocab = VOCAB[name];
  if (vocab) return vocab(f);
  if (name === 'name') return f.person.fullName();
  if (name === 'address') return `${VOCAB.district!(f)}${f.location.street()}${f.number.int({ min: 1, max: 300 })}号`;
  if (name === 'account') return f.string.numeric(12);
  if (name === 'month') return f.date.past({ years: 2 }).toISOString().slice(0, 7);
  const shape = LOG_NORMAL[name];
  if (shape) {
    // the domain's own shape (domain/vocab.ts): a filter that finds rows in the snapshot finds them here
    const scale = 10 ** shape.digits;
    return Math.round(Math.exp(shape.mu + shape.sigma * normal(f)) * scale) / scale;
  }
  if (name === 'base_salary') return f.number.int({ min: SALARY_BASE.min, max: SALARY_BASE.max });
  if (name === 'contribution')
    return (
      Math.round(f.number.int({ min: SALARY_BASE.min, max: SALARY_BASE.max }) * SALARY_BASE.contributionRate * 100) /
      100
    );
  if (name === 'cost') return Math.round(Math.exp(COST_MU + 0.6 * normal(f)) * 100) / 100;
  switch (column.type) {
    case 'DATE':
      return f.date
        .past({ years: name === 'birth_date' ? 90 : name === 'established_on' ? 30 : 1 })
        .toISOString()
        .slice(0, 10);
    case 'INTEGER':
    case 'BIGINT':
      return f.number.int({ min: 0, max: 1000 });
    case 'DOUBLE':
      return f.number.float({ min: 0, max: 5_000, fractionDigits: 2 });
    default:
      return f.lorem.word();
  }
}

/** Rows generated between two yields to the event loop. */
const CHUNK = 250;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

const literal = (v: string | number | null): string =>
  v === null ? 'NULL' : typeof v === 'number' ? String(v) : quoteLiteral(v);

export async function dummyData(opts: {
  grants: DatasetGrant[];
  catalog: Catalog;
  rows: number;
  seed: number;
  asOf?: string;
}): Promise<Record<string, DummyTable>> {
  const f = new Faker({ locale: [zh_CN, en] });
  f.seed(opts.seed);
  const asOf = opts.asOf ?? new Date().toISOString().slice(0, 10);
  const units = new Map<string, string[]>(); // per unit format, one shared pool
  const out: Record<string, DummyTable> = {};
  const instance = await openInstance(':memory:', { threads: '1' });
  try {
    await withConnection(instance, async (conn) => {
      await exec(conn, "ATTACH ':memory:' AS domain");
      for (const g of opts.grants) {
        const columns = opts.catalog.datasets[g.dataset]!.columns;
        const names = [...new Set([g.privacyUnit, ...g.columns.map((c) => c.column)])];
        const unitColumn = columns[g.privacyUnit]!;
        let pool = units.get(unitColumn.format ?? g.privacyUnit);
        if (!pool) {
          pool = [];
          for (let i = 0; i < opts.rows; i++) {
            pool.push(String(rawValue(f, g.privacyUnit, unitColumn)));
            if (i % CHUNK === CHUNK - 1) await yieldToEventLoop();
          }
          units.set(unitColumn.format ?? g.privacyUnit, pool);
        }
        await exec(
          conn,
          `CREATE TABLE domain.${quoteIdent(g.dataset)} (${names.map((n) => `${quoteIdent(n)} ${columns[n]!.type}`).join(', ')})`,
        );
        // in chunks, yielding between them: a large request never holds the event loop (healthz, other users)
        for (let start = 0; start < opts.rows; start += CHUNK) {
          const rows = Array.from({ length: Math.min(CHUNK, opts.rows - start) }, (_, j) =>
            names.map((n) => (n === g.privacyUnit ? pool[(start + j) % pool.length]! : rawValue(f, n, columns[n]!))),
          );
          await exec(
            conn,
            `INSERT INTO domain.${quoteIdent(g.dataset)} VALUES ${rows.map((r) => `(${r.map(literal).join(', ')})`).join(', ')}`,
          );
          await yieldToEventLoop();
        }
        // the pseudonym key comes from the seed too: the same seed gives the same rows (the values are invented anyway)
        const select = snapshotSelect(g, columns, asOf);
        const key = createHash('sha256').update(`pds-dummy:${opts.seed}`).digest();
        const reader = await conn.runAndReadAll(select, paramsFor(select, maskingKeys(key, key)));
        out[g.dataset] = readResult(reader);
      }
    });
  } finally {
    instance.closeSync();
  }
  return out;
}

/**
 * The tables, columns and types a contract's snapshot has, without reading it: the contract's own
 * masking SQL over empty tables. The API binds job SQL against it (docs/architecture.md).
 */
export async function snapshotSchema(
  grants: DatasetGrant[],
  catalog: Catalog,
): Promise<Record<string, DummyTable['columns']>> {
  const tables = await dummyData({ grants, catalog, rows: 0, seed: 1 });
  return Object.fromEntries(Object.entries(tables).map(([t, v]) => [t, v.columns]));
}

/**
 * Dummy tables as a file to develop against locally: one DuckDB database holding every table, or
 * one table as Parquet. Written by DuckDB in a scratch directory under `tmpDir`, with the
 * snapshot's column types; the scratch directory is removed whatever happens. Like every write,
 * it is refused below `minFreeBytes` (plus `expectBytes`, what the files will take) and a disk
 * that fills meanwhile is ERR_STORAGE_FULL (507), not a fault (docs/architecture.md §14).
 */
export async function dummyFile(
  tables: Record<string, DummyTable>,
  format: 'duckdb' | 'parquet',
  tmpDir: string,
  table?: string,
  space: { minFreeBytes?: number; expectBytes?: number } = {},
): Promise<Buffer> {
  ensureFreeSpace(tmpDir, (space.minFreeBytes ?? 0) + (space.expectBytes ?? 0), 'write a dummy-data file');
  let dir: string | undefined;
  try {
    fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
    dir = fs.mkdtempSync(path.join(tmpDir, 'dummy-'));
    return await writeDummyFile(tables, format, dir, table);
  } catch (err) {
    throw isDiskFull(err) ? storageFull(tmpDir, 'the dummy-data file was not written', err) : err;
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function writeDummyFile(
  tables: Record<string, DummyTable>,
  format: 'duckdb' | 'parquet',
  dir: string,
  table?: string,
): Promise<Buffer> {
  const names = format === 'parquet' ? [table!] : Object.keys(tables);
  const db = path.join(dir, 'dummy.duckdb');
  const instance = await openInstance(format === 'duckdb' ? db : ':memory:', { threads: '1' });
  try {
    await withConnection(instance, async (conn) => {
      for (const name of names) {
        const t = tables[name]!;
        const lines = path.join(dir, `${name}.jsonl`);
        fs.writeFileSync(
          lines,
          t.rows.map((r) => JSON.stringify(Object.fromEntries(t.columns.map((c, i) => [c.name, r[i]!])))).join('\n'),
        );
        const types = `{${t.columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(c.type)}`).join(', ')}}`;
        const select = `SELECT ${t.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM read_json(${quoteLiteral(lines)}, format = 'newline_delimited', columns = ${types})`;
        await exec(
          conn,
          t.rows.length
            ? `CREATE TABLE ${quoteIdent(name)} AS ${select}`
            : `CREATE TABLE ${quoteIdent(name)} (${t.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`,
        );
        if (format === 'parquet')
          await exec(
            conn,
            `COPY ${quoteIdent(name)} TO ${quoteLiteral(path.join(dir, 'dummy.parquet'))} (FORMAT parquet)`,
          );
      }
    });
  } finally {
    instance.closeSync();
  }
  return fs.readFileSync(path.join(dir, format === 'duckdb' ? 'dummy.duckdb' : 'dummy.parquet'));
}

const THREAD = moduleBeside(import.meta.url, 'dummy-thread');

/** The thread's bundle, built before the first request needs it (esbuild runs synchronously). */
export function prepareDummyThread(): void {
  bundleModule(THREAD, 'dummy-thread');
}

/**
 * dummyData in a worker thread of its own (bundled like the runner, src/bundle), answered as JSON
 * text: however large the request, the API's event loop only passes the finished text on.
 */
export async function dummyDataOffThread(opts: Parameters<typeof dummyData>[0]): Promise<string> {
  // at most one thread per core but one: the API's own thread keeps a core (health, other users)
  while (threadsRunning >= MAX_THREADS) await new Promise<void>((r) => waiting.push(r));
  threadsRunning++;
  try {
    const worker = new Worker(bundleModule(THREAD, 'dummy-thread'), {
      workerData: opts,
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    return await new Promise<string>((resolve, reject) => {
      worker.once('message', (json: string) => resolve(json));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the dummy-data thread ended (exit ${code}) without rows`)));
    });
  } finally {
    threadsRunning--;
    waiting.shift()?.();
  }
}

const MAX_THREADS = Math.max(1, os.availableParallelism() - 1);
let threadsRunning = 0;
const waiting: (() => void)[] = [];
