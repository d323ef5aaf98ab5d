import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PdsError } from '../errors/index.ts';
import type { Catalog, CatalogColumn } from '../policies/index.ts';
import { exec, queryRows, quoteIdent, quoteLiteral, type DuckDBConnection } from '../store/index.ts';
import { idNumberValidSql, mobileValidSql, usccValidSql } from './checksums.ts';
import { recordVersion, type DatasetVersion } from './versions.ts';

/** A data-quality finding: reported with the version, never fatal. Samples are masked. */
export interface Finding {
  check: string;
  column: string;
  count: number;
  samples: { line: number; value: string }[];
}

export interface IngestOptions {
  dataset: string;
  file: string;
  catalog: Catalog;
  onStep?: (step: string, index: number, total: number) => void;
  now?: Date;
}

export interface IngestReport {
  version: DatasetVersion;
  findings: Finding[];
  fileSha256: string;
}

const STEPS = ['read', 'columns', 'types', 'quality', 'load', 'content hash'] as const;
const STAGING = 'pds_ingest_staging';
/** The staging table's line number column: data row n is on line n + 1 (after the header). */
const LINE = 'pds_line';

/** Shows enough of an identifier to find it, not enough to use it: 520102**********3X. */
export function maskSample(value: string): string {
  if (value.length <= 4) return '*'.repeat(value.length);
  return (
    value.slice(0, Math.min(6, Math.floor(value.length / 3))) +
    '*'.repeat(value.length - Math.min(6, Math.floor(value.length / 3)) - 2) +
    value.slice(-2)
  );
}

function fileSha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function readSql(file: string): string {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') {
    // every value as text: types are checked against the catalog here, not guessed by a sniffer
    return `SELECT * FROM read_csv(${quoteLiteral(file)}, header = true, all_varchar = true, strict_mode = true)`;
  }
  if (ext === '.parquet') return `SELECT * FROM read_parquet(${quoteLiteral(file)})`;
  throw new PdsError('ERR_INGEST_FILE', `${file}: unknown format ${JSON.stringify(ext)}; use .csv or .parquet`);
}

const FORMAT_CHECKS: Record<NonNullable<CatalogColumn['format']>, { check: string; valid: (col: string) => string }> = {
  'id-number': { check: 'GB 11643 check character', valid: idNumberValidSql },
  uscc: { check: 'GB 32100 check character', valid: usccValidSql },
  mobile: { check: 'mobile number format', valid: mobileValidSql },
};

async function checkTypes(
  conn: DuckDBConnection,
  dataset: string,
  columns: Record<string, CatalogColumn>,
): Promise<void> {
  const typed = Object.entries(columns).filter(([, c]) => c.type.toUpperCase() !== 'VARCHAR');
  if (typed.length === 0) return;
  const bad = (name: string, type: string) =>
    `${quoteIdent(name)} IS NOT NULL AND ${quoteIdent(name)}::VARCHAR <> '' AND TRY_CAST(${quoteIdent(name)} AS ${type}) IS NULL`;
  const select = typed
    .map(
      ([name, c], k) =>
        `count(*) FILTER (WHERE ${bad(name, c.type)}) AS n${k}, (list(${LINE} ORDER BY ${LINE}) FILTER (WHERE ${bad(name, c.type)}))[1:3] AS l${k}`,
    )
    .join(', ');
  const [row] = await queryRows<Record<string, number | number[]>>(conn, `SELECT ${select} FROM ${STAGING}`);
  const problems = typed.flatMap(([name, c], k) => {
    const n = Number(row![`n${k}`]);
    return n > 0
      ? [
          {
            field: name,
            message: `${n} value(s) are not ${c.type} (lines ${(row![`l${k}`] as number[]).join(', ')}${n > 3 ? ', …' : ''})`,
          },
        ]
      : [];
  });
  if (problems.length > 0) {
    throw new PdsError('ERR_INGEST_TYPE', `${dataset}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, {
      errors: problems,
    });
  }
}

async function qualityFindings(
  conn: DuckDBConnection,
  columns: Record<string, CatalogColumn>,
  privacyUnit: string,
  unitUnique: boolean,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [name, c] of Object.entries(columns)) {
    const col = quoteIdent(name);
    const checks: { check: string; where: string }[] = [
      { check: 'missing value', where: `${col} IS NULL OR ${col}::VARCHAR = ''` },
    ];
    if (c.format)
      checks.push({
        check: FORMAT_CHECKS[c.format].check,
        where: `${col} IS NOT NULL AND ${col}::VARCHAR <> '' AND NOT ${FORMAT_CHECKS[c.format].valid(`${col}::VARCHAR`)}`,
      });
    for (const { check, where } of checks) {
      const [r] = await queryRows<{ n: number; s: { r: number; v: string | null }[] | null }>(
        conn,
        `SELECT count(*) FILTER (WHERE ${where}) AS n, (list({'r': ${LINE}, 'v': ${col}::VARCHAR} ORDER BY ${LINE}) FILTER (WHERE ${where}))[1:3] AS s FROM ${STAGING}`,
      );
      if (Number(r!.n) > 0) {
        findings.push({
          check,
          column: name,
          count: Number(r!.n),
          samples: (r!.s ?? []).map((x) => ({ line: Number(x.r), value: maskSample(x.v ?? '') })),
        });
      }
    }
  }
  if (unitUnique) {
    const [d] = await queryRows<{ n: number }>(
      conn,
      `SELECT count(*) - count(DISTINCT ${quoteIdent(privacyUnit)}) AS n FROM ${STAGING}`,
    );
    if (Number(d!.n) > 0)
      findings.push({ check: 'duplicate privacy unit', column: privacyUnit, count: Number(d!.n), samples: [] });
  }
  return findings;
}

/**
 * Loads a CSV or Parquet file as a new version of a catalog dataset, inside the caller's
 * transaction: a failure at any step rolls back and leaves the previous version intact.
 * Checks columns and types against the catalog (fatal) and data quality (reported).
 */
/** Reads `file` into the staging table, each row with its line number; a file DuckDB cannot read is a typed error. */
async function stage(conn: DuckDBConnection, file: string): Promise<void> {
  try {
    await exec(
      conn,
      `CREATE OR REPLACE TEMP TABLE ${STAGING} AS SELECT *, row_number() OVER () + 1 AS ${LINE} FROM (${readSql(file)})`,
    );
  } catch (err) {
    if (err instanceof PdsError) throw err;
    const lines = (err as Error).message
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const encoding = lines.find((l) => /unicode|utf-?8/i.test(l));
    if (encoding) throw new PdsError('ERR_INGEST_ENCODING', `${file}: ${lines[0]}: ${encoding}`);
    throw new PdsError('ERR_INGEST_FILE', `${file}: cannot be read: ${lines.slice(0, 2).join(' ')}`);
  }
  const [count] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM ${STAGING}`);
  if (Number(count!.n) === 0) throw new PdsError('ERR_INGEST_FILE', `${file}: the file has no data rows`);
}

/** The staged file has exactly the catalog's columns (ERR_INGEST_COLUMNS names each one missing or extra). */
async function checkColumns(conn: DuckDBConnection, file: string, dataset: string, expected: string[]): Promise<void> {
  const present = (
    await queryRows<{ name: string }>(
      conn,
      `SELECT column_name AS name FROM duckdb_columns() WHERE table_name = '${STAGING}' AND column_name <> '${LINE}' ORDER BY column_index`,
    )
  ).map((r) => r.name);
  const missing = expected.filter((c) => !present.includes(c));
  const extra = present.filter((c) => !expected.includes(c));
  if (missing.length || extra.length) {
    const errors = [
      ...missing.map((c) => ({ field: c, message: 'missing from the file' })),
      ...extra.map((c) => ({ field: c, message: 'not in the catalog' })),
    ];
    throw new PdsError(
      'ERR_INGEST_COLUMNS',
      `${file}: ${[missing.length ? `missing column(s) ${missing.join(', ')}` : '', extra.length ? `column(s) not in the catalog for ${dataset}: ${extra.join(', ')}` : ''].filter(Boolean).join('; ')}`,
      { errors },
    );
  }
}

export async function ingestDataset(conn: DuckDBConnection, opts: IngestOptions): Promise<IngestReport> {
  const { dataset, file, catalog } = opts;
  const ds = catalog.datasets[dataset];
  if (!ds)
    throw new PdsError(
      'ERR_VALIDATION',
      `unknown dataset ${JSON.stringify(dataset)}; the catalog has ${Object.keys(catalog.datasets).join(', ')}`,
    );
  if (!fs.existsSync(file) || !fs.statSync(file).isFile())
    throw new PdsError('ERR_INGEST_FILE', `${file}: no such file`);
  if (fs.statSync(file).size === 0) throw new PdsError('ERR_INGEST_FILE', `${file}: the file is empty`);
  const step = (i: number) => opts.onStep?.(STEPS[i]!, i, STEPS.length);

  step(0);
  await stage(conn, file);

  step(1);
  await checkColumns(conn, file, dataset, Object.keys(ds.columns));

  step(2);
  await checkTypes(conn, dataset, ds.columns);

  step(3);
  const findings = await qualityFindings(
    conn,
    ds.columns,
    ds.privacyUnit,
    dataset === 'population' || dataset === 'enterprise',
  );

  step(4);
  const select = Object.entries(ds.columns)
    .map(([name, c]) => `CAST(NULLIF(${quoteIdent(name)}::VARCHAR, '') AS ${c.type}) AS ${quoteIdent(name)}`)
    .join(', ');
  await exec(
    conn,
    `CREATE OR REPLACE TABLE ${quoteIdent(dataset)} AS SELECT ${select} FROM ${STAGING} ORDER BY ${LINE}`,
  );
  await exec(conn, `DROP TABLE ${STAGING}`);

  step(5);
  const sha = fileSha256(file);
  const version = await recordVersion(
    conn,
    dataset,
    `ingest: ${path.basename(file)} (sha256 ${sha})`,
    findings,
    opts.now ?? new Date(),
  );
  return { version, findings, fileSha256: sha };
}
