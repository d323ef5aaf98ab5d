import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileSha256, recordKeySql, unitKeySql } from '../digest/index.ts';
import { PdsError } from '../errors/index.ts';
import {
  ensureFreeSpace,
  exec,
  isDiskFull,
  openInstance,
  queryRows,
  quoteIdent,
  quoteLiteral,
  withConnection,
  type DuckDBConnection,
} from '../store/index.ts';
import { parseRule, type Catalog, type CatalogColumn } from '../policies/index.ts';
import { assessRisk, type RiskReport } from './risk.ts';
import { PRIVACY_UNIT_COLUMN, type ColumnGrant, type DatasetGrant } from './rules.ts';

/** The hidden column holding each row's unit record key (the cell keys' summand). */
export const RECORD_KEY_COLUMN = '__pds_rk';

/**
 * The hidden column holding each row's unit key: a 32-bit keyed hash of the raw unit, the same in
 * every contract of the domain, so that the differencing check can compare the sets of people
 * behind cells of outputs made under different contracts (docs/architecture.md §12). Queries can
 * never name it; only power sums of it over a cell leave the engine, and never the domain.
 */
export const UNIT_KEY_COLUMN = '__pds_uk';

/** The cell-key salt of a contract from its derived key: a positive 63-bit integer. */
export function recordKeySalt(derived: Buffer): bigint {
  return derived.readBigUInt64BE() & 0x7fffffffffffffffn;
}

/** Only the named parameters a statement uses (DuckDB refuses unused ones). */
export function paramsFor(sql: string, params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => sql.includes(`$${k}`)));
}

/**
 * The pseudonym key and the measure-noise key, hex, as the masking SQL binds them (`$pkey`,
 * `$nkey`). A key is exactly 32 bytes: it fills half of SHA-256's first block, so a value of up
 * to 23 bytes (an ID number, a phone number, a unit code) costs one compression.
 */
export function maskingKeys(pseudonymKey: Buffer, noiseKey: Buffer): Record<string, string> {
  for (const k of [pseudonymKey, noiseKey])
    if (k.length !== 32) throw new TypeError(`a masking key is 32 bytes, got ${k.length}`);
  return { pkey: pseudonymKey.toString('hex'), nkey: noiseKey.toString('hex') };
}

/** Tokens are the first 128 bits of the keyed hash, hex: unlinkable across contracts, stable within one. */
export const TOKEN_HEX_LENGTH = 32;

/**
 * SQL for a value's token: SHA-256 over the 32-byte key followed by the value, truncated to 128
 * bits (docs/architecture.md §17, "Pseudonyms"). A secret-prefix hash is a PRF when its output is
 * truncated — length extension needs the whole 256-bit state, half of which is never shown — and
 * costs a quarter of HMAC's four compressions, computed in DuckDB's own threads.
 */
function tokenSql(valueSql: string, key = '$pkey'): string {
  return `left(sha256(unhex(${key}) || encode(${valueSql}::VARCHAR)), ${TOKEN_HEX_LENGTH})`;
}

/** The same token in Node, for tests and for operators' dummy data generators. */
export function pseudonym(key: Buffer, value: string): string {
  return createHash('sha256').update(key).update(value, 'utf8').digest('hex').slice(0, TOKEN_HEX_LENGTH);
}

/** What the compiler needs to know about the column and table a rule applies to. */
export interface MaskContext {
  column: CatalogColumn;
  /** True when this column is the table's privacy unit (its pseudonym is `__unit`, computed once). */
  isUnit: boolean;
  /** Reference date for ages (the snapshot's build date). */
  asOf: string;
  /** Index of the column, to name its helper CTE. */
  index: number;
  /** The raw domain table and its privacy-unit column (helper CTEs count units there, without any token). */
  domainTable: string;
  rawUnit: string;
  /** Each unit has one row in the domain table (counted before the build): units are counted as rows. */
  unitsAreRows?: boolean;
}

/** The helper column holding each row's pseudonymized privacy unit inside the build query. */
const UNIT = '__unit';

/**
 * A keyed uniform draw in [0, 1) per privacy unit and column, under the measure-noise key
 * (`$nkey`): the domain's, so one person's factor is the same in every contract (no averaging
 * across contracts). Operators hold no key, so cannot subtract it.
 */
function keyedUniform(column: string): string {
  const token = `sha256(unhex($nkey) || encode('noise:' || ${quoteLiteral(column)} || ':' || ${UNIT}))`;
  return `(('0x' || left(${token}, 13))::BIGINT / 4503599627370496.0)`;
}

/** Ages 0 … 150 have their band's label written out; any other age is formatted row by row. */
const AGE_LABELS = 151;
/** Ranges 0 … 1023 (of the rule's width) have their label written out; any other is formatted row by row. */
const RANGE_LABELS = 1024;

/**
 * A generalized value's label looked up by its band number in a list written into the SQL, with
 * the row-by-row formatting for a band outside it (negative, past the list) and for NULL (whose
 * band is NULL, so the formatting's NULL). Formatting two numbers into a string per row cost
 * ~2.5× the lookup; the labels are the very strings the formatting makes (tested).
 */
function labelOf(band: string, count: number, label: (k: number) => string, formatted: string): string {
  const labels = Array.from({ length: count }, (_, k) => quoteLiteral(label(k)));
  // DuckDB's lists count from 1 and from the end for a negative index: 0 (no element) for those;
  // clamped before adding, so the largest BIGINT age is formatted, not an overflow
  return `coalesce([${labels.join(', ')}][greatest(least(${band}, ${count}), -1) + 1], ${formatted})`;
}

type Generalize = Extract<ReturnType<typeof parseRule>, { kind: 'generalize' }>;

/** A generalized column's expression: a date to its year, quarter or month; an address to its district; a number to its band. */
function generalizeSql(rule: Generalize, col: string, ctx: MaskContext): string {
  switch (rule.to) {
    case 'year':
      return `strftime(${col}::DATE, '%Y')`;
    case 'quarter':
      return `strftime(${col}::DATE, '%Y') || '-Q' || quarter(${col}::DATE)::VARCHAR`;
    case 'month':
      return `strftime(${col}::DATE, '%Y-%m')`;
    case 'district':
      return `NULLIF(regexp_extract(${col}, '^(?:[^省]+省)?(?:[^市]+市)?([^区县市]+?(?:区|县|市))', 1), '')`;
    case 'age-band': {
      const age = /^(DATE|TIMESTAMP)/i.test(ctx.column.type)
        ? // a birthday later in the year than asOf: one year younger (month and day as one number, no string per row)
          `(year(DATE '${ctx.asOf}') - year(${col}::DATE) - CASE WHEN month(${col}::DATE) * 100 + day(${col}::DATE) > ${Number(ctx.asOf.slice(5, 7)) * 100 + Number(ctx.asOf.slice(8, 10))} THEN 1 ELSE 0 END)`
        : `floor(${col})::BIGINT`;
      const w = rule.width;
      const top = rule.top;
      const lo = `(${age} // ${w} * ${w})`;
      const formatted = w === 1 ? `${age}::VARCHAR` : `${lo}::VARCHAR || '-' || (${lo} + ${w - 1})::VARCHAR`;
      const label = (k: number) =>
        top !== undefined && k * w >= top ? `${top}+` : w === 1 ? `${k}` : `${k * w}-${k * w + w - 1}`;
      // top-coded: every age from top up falls in the last label (only a negative age is formatted)
      if (top !== undefined) return labelOf(`(least(${age}, ${top}) // ${w})`, top / w + 1, label, formatted);
      return labelOf(`(${age} // ${w})`, Math.ceil(AGE_LABELS / w), label, formatted);
    }
    case 'range': {
      const w = rule.width;
      const lo = `(floor(${col} / ${w}) * ${w})`;
      const fmt = (x: string) => (Number.isInteger(w) ? `${x}::BIGINT::VARCHAR` : `${x}::VARCHAR`);
      const formatted = `'[' || ${fmt(lo)} || ',' || ${fmt(`(${lo} + ${w})`)} || ')'`;
      // labels only where Number prints exactly what DuckDB's BIGINT cast does
      return Number.isInteger(w) && RANGE_LABELS * w < Number.MAX_SAFE_INTEGER
        ? labelOf(`floor(${col} / ${w})::BIGINT`, RANGE_LABELS, (k) => `[${k * w},${(k + 1) * w})`, formatted)
        : formatted;
    }
  }
}

/**
 * Compiles one column grant to a SELECT expression that keeps the column's name, plus any
 * helper CTE it needs (rare-to-other counts privacy units per category over the whole table).
 */
export function maskingSql(grant: ColumnGrant, ctx: MaskContext): { select: string; ctes: string[] } {
  const col = quoteIdent(grant.column);
  const rule = parseRule(grant.rule);
  const ctes: string[] = [];
  const expr = ((): string => {
    switch (rule.kind) {
      case 'keep':
        return col;
      case 'drop':
        throw new TypeError(`a dropped column (${grant.column}) has no expression`);
      // NULL stays NULL without a CASE: every function in the token's chain propagates it (and a CASE here cost ~3×)
      case 'pseudonymize':
        return ctx.isUnit ? UNIT : tokenSql(col);
      case 'generalize':
        return generalizeSql(rule, col, ctx);
      case 'partial':
        switch (ctx.column.format) {
          case 'mobile':
            return `left(${col}, 3) || '****' || right(${col}, 4)`;
          case 'id-number':
            return `left(${col}, 6)`;
          case 'uscc':
            return `left(${col}, 8)`;
          default:
            return `left(${col}, greatest(1, length(${col}) // 3)) || repeat('*', length(${col}) - greatest(1, length(${col}) // 3))`;
        }
      // least/greatest skip NULLs: without the guard a missing value would become the cap
      case 'topcode':
        return `CASE WHEN ${col} IS NULL THEN NULL ELSE least(${col}, ${rule.value}) END`;
      case 'bottomcode':
        return `CASE WHEN ${col} IS NULL THEN NULL ELSE greatest(${col}, ${rule.value}) END`;
      case 'noise': {
        // a factor 1 ± F·(½ … 1): never closer to 1 than F/2, so no one's value passes through
        // nearly exact however many queries are averaged (the US Census QWI's noise infusion)
        const u = keyedUniform(grant.column);
        const factor = `(1 + CASE WHEN ${u} < 0.5 THEN -1 ELSE 1 END * ${rule.fraction} * (0.5 + 0.5 * (2 * ${u} - floor(2 * ${u}))))`;
        return `round(${col} * ${factor}, 2)`;
      }
      case 'rare-to-other': {
        const cte = `rare_${ctx.index}`;
        // counted on raw units: the same count as on their pseudonyms, without computing every token twice
        const units = ctx.unitsAreRows ? 'count(*)' : `count(DISTINCT hash(${quoteIdent(ctx.rawUnit)}))`;
        ctes.push(
          `${cte} AS (SELECT ${col} AS v FROM ${ctx.domainTable} WHERE ${col} IS NOT NULL GROUP BY ${col} HAVING ${units} < ${rule.k})`,
        );
        return `CASE WHEN ${col} IN (SELECT v FROM ${cte}) THEN '其他' ELSE ${col} END`;
      }
    }
    throw new TypeError(`unhandled rule ${grant.rule}`);
  })();
  return { select: `${expr} AS ${col}`, ctes };
}

/** The whole SELECT that builds one snapshot table from the attached domain database. */
export function snapshotSelect(
  grant: DatasetGrant,
  columns: Record<string, CatalogColumn>,
  asOf: string,
  opts: {
    rawUnit?: boolean;
    unitKeySalt?: bigint;
    unitsAreRows?: boolean;
    /** Granted columns the SELECT leaves out (the build stores a pseudonymized unit once). */
    omit?: string[];
  } = {},
): string {
  const domainTable = `domain.${quoteIdent(grant.dataset)}`;
  const parts = grant.columns.flatMap((c, index) =>
    opts.omit?.includes(c.column)
      ? []
      : [
          maskingSql(c, {
            column: columns[c.column]!,
            isUnit: c.column === grant.privacyUnit,
            asOf,
            index,
            domainTable,
            rawUnit: grant.privacyUnit,
            unitsAreRows: opts.unitsAreRows === true,
          }),
        ],
  );
  // a risk preview needs only distinct units, so it may skip the token; it never leaves the domain process
  const unit = opts.rawUnit ? `${quoteIdent(grant.privacyUnit)}::VARCHAR` : tokenSql(quoteIdent(grant.privacyUnit));
  const ctes = [`src AS (SELECT *, ${unit} AS ${UNIT} FROM ${domainTable})`, ...parts.flatMap((p) => p.ctes)];
  const unitKey =
    opts.unitKeySalt === undefined
      ? []
      : [
          `${unitKeySql(`${quoteIdent(grant.privacyUnit)}::VARCHAR`, opts.unitKeySalt)} AS ${quoteIdent(UNIT_KEY_COLUMN)}`,
        ];
  return `WITH ${ctes.join(',\n  ')}\nSELECT\n  ${[...parts.map((p) => p.select), `${UNIT} AS ${quoteIdent(PRIVACY_UNIT_COLUMN)}`, ...unitKey].join(',\n  ')}\nFROM src`;
}

/** How far a snapshot build is: the step, the table, and the share of the whole build done. */
export interface BuildProgress {
  phase: 'counting' | 'writing' | 'assessing' | 'sealing';
  table: string | null;
  /** 0 … 1 over the whole build. */
  done: number;
}

/**
 * Rows and distinct units of a domain dataset, counted once per dataset version: every contract
 * built on the same version reuses the count (a full pass over the domain, ~15 % of a build).
 * A version is named by its number and content hash, and checked against the table's row count.
 */
const unitCounts = new Map<string, { n: number; u: number }>();

async function countUnits(
  conn: DuckDBConnection,
  g: DatasetGrant,
  domainFile: string,
  version: { v: number; h: string } | undefined,
): Promise<{ n: number; u: number }> {
  const table = `domain.${quoteIdent(g.dataset)}`;
  const key = version && JSON.stringify([path.resolve(domainFile), g.dataset, version.v, version.h, g.privacyUnit]);
  const known = key ? unitCounts.get(key) : undefined;
  if (known) {
    // the row count is the table's own statistic: no scan
    const [rows] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM ${table}`);
    if (Number(rows!.n) === known.n) return known;
  }
  const [r] = await queryRows<{ n: number; u: number }>(
    conn,
    `SELECT count(*) AS n, count(DISTINCT hash(${quoteIdent(g.privacyUnit)})) AS u FROM ${table}`,
  );
  const counted = { n: Number(r!.n), u: Number(r!.u) };
  if (key) {
    if (unitCounts.size >= 256) unitCounts.clear();
    unitCounts.set(key, counted);
  }
  return counted;
}

/** Whether rows were found unique per unit and a set of columns, by dataset version (see uniqueSets). */
const uniqueChecks = new Map<string, boolean>();

/**
 * The catalog's `uniquePerUnit` sets that hold on the data and survive the grant: each column kept
 * as it is or pseudonymized (both keep distinct values distinct). Checked on the raw table with one
 * 64-bit hash of the unit and the set per row — a collision undercounts, which only says "not
 * unique" — and kept by dataset version like the unit count.
 */
async function uniqueSets(
  conn: DuckDBConnection,
  g: DatasetGrant,
  sets: string[][],
  rows: number,
  domainFile: string,
  version: { v: number; h: string } | undefined,
): Promise<string[][]> {
  const kept = (c: string) =>
    g.columns.some((x) => x.column === c && ['keep', 'pseudonymize'].includes(parseRule(x.rule).kind));
  const out: string[][] = [];
  for (const set of sets.filter((s) => s.every(kept))) {
    const key =
      version && JSON.stringify([path.resolve(domainFile), g.dataset, version.v, version.h, rows, g.privacyUnit, set]);
    let unique = key ? uniqueChecks.get(key) : undefined;
    if (unique === undefined) {
      const cols = [g.privacyUnit, ...set].map(quoteIdent).join(', ');
      const [r] = await queryRows<{ d: number }>(
        conn,
        `SELECT count(DISTINCT hash(${cols})) AS d FROM domain.${quoteIdent(g.dataset)}`,
      );
      unique = Number(r!.d) === rows;
      if (key) {
        if (uniqueChecks.size >= 256) uniqueChecks.clear();
        uniqueChecks.set(key, unique);
      }
    }
    if (unique) out.push(set);
  }
  return out;
}

/**
 * A written table's rows, its columns with a value on every row (from the column statistics: only
 * rows are counted) and its re-identification risk.
 */
async function describeTable(
  conn: DuckDBConnection,
  g: DatasetGrant,
  named: string[],
  opts: { policyK: number; unitsAreRows: boolean; recordKeys: boolean; columns: Record<string, CatalogColumn> },
): Promise<Pick<SnapshotTable, 'rows' | 'columns' | 'nonNull' | 'risk'>> {
  const [row] = await queryRows<Record<string, number>>(
    conn,
    `SELECT count(*) AS n, ${named.map((c, i) => `count(${quoteIdent(c)}) AS c${i}`).join(', ')} FROM ${quoteIdent(g.dataset)}`,
  );
  const risk = await assessRisk(conn, {
    source: quoteIdent(g.dataset),
    unit: PRIVACY_UNIT_COLUMN,
    ...riskColumns(g, opts.columns),
    policyK: opts.policyK,
    unitsAreRows: opts.unitsAreRows,
    ...(opts.recordKeys ? { unitKey: RECORD_KEY_COLUMN } : {}),
  });
  return {
    rows: Number(row!.n),
    columns: named,
    // columns with a value on every row: the rewrite need not test them for NULL (signed with the contract)
    nonNull: named.filter((_, i) => Number(row![`c${i}`]) === Number(row!.n)),
    risk,
  };
}

/** The share of a build spent writing tables (the rest: counting, risk, the file's hash). */
const WRITING_SHARE = 0.9;

export interface SnapshotInfo {
  file: string;
  /** SHA-256 of the snapshot file, pinned in the contract and checked before every job. */
  hash: string;
  /** Per table: rows, distinct units, columns, the domain dataset version it was built from, and its re-identification risk. */
  tables: Record<string, SnapshotTable>;
  /** Every table carries its units' record keys (RECORD_KEY_COLUMN). */
  recordKeys: boolean;
  /** Every table carries its units' domain-wide keys (UNIT_KEY_COLUMN). */
  unitKeys: boolean;
}

export interface SnapshotTable {
  rows: number;
  /** Distinct privacy units; equal to `rows` when each unit has one row (the sandbox counts those cheaper). */
  units?: number;
  columns: string[];
  /** Columns with a value on every row. */
  nonNull?: string[];
  /** Sets of columns that, with the unit, tell the table's rows apart (catalog uniquePerUnit, checked on the data). */
  uniqueWith?: string[][];
  datasetVersion: number | null;
  risk: RiskReport;
}

/** Quasi-identifier and sensitive columns of a grant, by the catalog's identifier roles. */
function riskColumns(
  g: DatasetGrant,
  columns: Record<string, CatalogColumn>,
): { quasiIdentifiers: string[]; sensitive: string[] } {
  const granted = g.columns.map((c) => c.column);
  return {
    quasiIdentifiers: granted.filter((c) => columns[c]!.role === 'quasi'),
    sensitive: granted.filter((c) => columns[c]!.role === 'sensitive'),
  };
}

/**
 * The risk a contract's snapshot would have, computed before it exists: the same masking SQL run
 * over the domain inside an in-memory DuckDB, aggregated, never materialized. Datasets with no
 * data yet answer null.
 */
export async function previewRisk(opts: {
  domainFile: string;
  grants: DatasetGrant[];
  catalog: Catalog;
  policyK: number;
  asOf?: string;
}): Promise<Record<string, RiskReport | null>> {
  const asOf = opts.asOf ?? new Date().toISOString().slice(0, 10);
  const out: Record<string, RiskReport | null> = {};
  if (!fs.existsSync(opts.domainFile)) return Object.fromEntries(opts.grants.map((g) => [g.dataset, null]));
  const instance = await openInstance(':memory:', { threads: '2' });
  try {
    await withConnection(instance, async (conn) => {
      await exec(conn, `ATTACH ${quoteLiteral(opts.domainFile)} AS domain (READ_ONLY)`);
      const keys = maskingKeys(randomBytes(32), randomBytes(32));
      for (const g of opts.grants) {
        const exists = await queryRows(
          conn,
          "SELECT 1 FROM duckdb_tables() WHERE database_name = 'domain' AND schema_name = 'main' AND table_name = $1",
          [g.dataset],
        );
        if (exists.length === 0) {
          out[g.dataset] = null;
          continue;
        }
        const columns = opts.catalog.datasets[g.dataset]!.columns;
        const { quasiIdentifiers, sensitive } = riskColumns(g, columns);
        const needed = {
          ...g,
          columns: g.columns.filter((c) => quasiIdentifiers.includes(c.column) || sensitive.includes(c.column)),
        };
        out[g.dataset] = await assessRisk(conn, {
          source: `(${snapshotSelect(needed, columns, asOf, { rawUnit: true })})`,
          unit: PRIVACY_UNIT_COLUMN,
          quasiIdentifiers,
          sensitive,
          policyK: opts.policyK,
          params: paramsFor(snapshotSelect(needed, columns, asOf, { rawUnit: true }), keys),
        });
      }
    });
  } finally {
    instance.closeSync();
  }
  return out;
}

/** Runs a statement that writes a table, telling `onShare` the share of it done every 250 ms. */
async function writing(
  conn: DuckDBConnection,
  sql: string,
  params: Record<string, string>,
  onShare: (share: number) => void,
): Promise<void> {
  const timer = setInterval(() => {
    const { percentage } = conn.progress;
    if (percentage >= 0) onShare(Math.min(1, percentage / 100));
  }, 250);
  try {
    await exec(conn, sql, params);
  } finally {
    clearInterval(timer);
  }
}

/**
 * Writes a table whose pseudonymized unit column `alias` is a virtual column of the unit's own
 * tokens: created with the SELECT's types, then filled by name.
 */
async function writeAliased(
  conn: DuckDBConnection,
  t: { table: string; keyed: string; params: Record<string, string>; named: string[]; alias: string },
  onShare: (share: number) => void,
): Promise<void> {
  const shape = await conn.prepare(t.keyed);
  const typed = new Map(
    Array.from({ length: shape.columnCount }, (_, i) => [shape.columnName(i), shape.columnType(i).toString()]),
  );
  shape.destroySync();
  const order = [...t.named, ...[...typed.keys()].filter((c) => !t.named.includes(c))];
  const ddl = order.map((c) =>
    c === t.alias
      ? `${quoteIdent(c)} VARCHAR AS (${quoteIdent(PRIVACY_UNIT_COLUMN)})`
      : `${quoteIdent(c)} ${typed.get(c)!}`,
  );
  await exec(conn, `CREATE TABLE ${t.table} (${ddl.join(', ')})`);
  await writing(conn, `INSERT INTO ${t.table} BY NAME ${t.keyed}`, t.params, onShare);
}

/** What each table of one build shares. */
interface TableBuild {
  opts: BuildSnapshotOptions;
  asOf: string;
  keys: Record<string, string>;
  /** The domain records its datasets' versions. */
  hasVersions: boolean;
  report: (p: BuildProgress) => void;
  /** How far the build is when the share `f` (0 … 1) of this table is written. */
  at: (f: number) => number;
}

/** Writes one dataset's masked table into the snapshot being built, and describes it. */
async function snapshotTable(conn: DuckDBConnection, g: DatasetGrant, b: TableBuild): Promise<SnapshotTable> {
  const { opts, asOf, keys, hasVersions, report, at } = b;
  report({ phase: 'counting', table: g.dataset, done: at(0) });
  const exists = await queryRows(
    conn,
    "SELECT 1 FROM duckdb_tables() WHERE database_name = 'domain' AND schema_name = 'main' AND table_name = $1",
    [g.dataset],
  );
  if (exists.length === 0)
    throw new PdsError(
      'ERR_CONFLICT',
      `the domain has no data for dataset ${g.dataset} yet; load it with pds ingest (or pds seed)`,
    );
  const [v] = hasVersions
    ? await queryRows<{ v: number; h: string }>(
        conn,
        'SELECT version AS v, content_hash AS h FROM domain.pds_dataset_versions WHERE dataset = $1 ORDER BY version DESC LIMIT 1',
        [g.dataset],
      )
    : [];
  const columns = opts.catalog.datasets[g.dataset]!.columns;
  const table = quoteIdent(g.dataset);
  // counted on the raw units first: when each has one row, classes and rare categories are
  // counted as rows, ~5× cheaper than distinct units (a hash collision undercounts units,
  // which keeps the exact path)
  const units = await countUnits(conn, g, opts.domainFile, v);
  const unitsAreRows = units.u === units.n;
  const uniqueWith = unitsAreRows
    ? []
    : await uniqueSets(conn, g, opts.catalog.datasets[g.dataset]!.uniquePerUnit ?? [], units.n, opts.domainFile, v);
  // a pseudonymized unit column holds the very tokens of pds_unit: stored once, it is a
  // virtual column of pds_unit (half the build's hashing-and-writing of random strings)
  const alias = g.columns.some((c) => c.column === g.privacyUnit && parseRule(c.rule).kind === 'pseudonymize')
    ? g.privacyUnit
    : undefined;
  const select = snapshotSelect(g, columns, asOf, {
    unitsAreRows,
    ...(alias ? { omit: [alias] } : {}),
    ...(opts.unitKeySalt === undefined ? {} : { unitKeySalt: opts.unitKeySalt }),
  });
  // the record key of each row's unit, as the engine's cell keys hash it (sandbox/perturb.ts):
  // read here once instead of hashed at every query; never a column a query may name
  const keyed =
    opts.recordKeySalt === undefined
      ? select
      : `SELECT *, ${recordKeySql(quoteIdent(PRIVACY_UNIT_COLUMN), opts.recordKeySalt)} AS ${quoteIdent(RECORD_KEY_COLUMN)} FROM (${select})`;
  const params = paramsFor(select, keys);
  const named = [...g.columns.map((c) => c.column), PRIVACY_UNIT_COLUMN];
  const onShare = (f: number) => report({ phase: 'writing', table: g.dataset, done: at(f) });
  if (alias) await writeAliased(conn, { table, keyed, params, named, alias }, onShare);
  else await writing(conn, `CREATE TABLE ${table} AS ${keyed}`, params, onShare);
  report({ phase: 'assessing', table: g.dataset, done: at(1) });
  return {
    ...(await describeTable(conn, g, named, {
      policyK: opts.policyK,
      unitsAreRows,
      recordKeys: opts.recordKeySalt !== undefined,
      columns,
    })),
    units: units.u,
    ...(uniqueWith.length > 0 ? { uniqueWith } : {}),
    datasetVersion: v?.v ?? null,
  };
}

/** What buildSnapshot builds from, and what it tells while it does. */
export interface BuildSnapshotOptions {
  dataDir: string;
  domainFile: string;
  contractId: string;
  grants: DatasetGrant[];
  catalog: Catalog;
  pseudonymKey: Buffer;
  /**
   * The domain's measure-noise key (the noise rule's factor per person and column): the same in
   * every contract, so a person's factor cannot be averaged away across contracts. Default: the
   * pseudonym key (per contract).
   */
  noiseKey?: Buffer;
  /** The contract's cell-key salt (recordKeySalt): each table gets its units' record keys. */
  recordKeySalt?: bigint;
  /** The domain's unit-key salt (recordKeySalt of the 'unit-key' key): each table gets its units' domain-wide keys. */
  unitKeySalt?: bigint;
  /** Free space the snapshots' disk must keep (config MIN_FREE_MB); less refuses with ERR_STORAGE_FULL. */
  minFreeBytes?: number;
  /** Reference date for age bands; default today (UTC). */
  asOf?: string;
  /** The k risk shares are measured against (the contract's minimum units). */
  policyK: number;
  /** Told how far the build is, a few times a second while a table is written. */
  onProgress?: (progress: BuildProgress) => void;
  /** Interrupts the build (a server shutting down); nothing is kept. */
  signal?: AbortSignal;
}

/**
 * Materializes `DATA_DIR/snapshots/<contractId>.duckdb` holding only the granted columns, masked,
 * plus each table's pseudonymized privacy unit. Built under a temporary name and renamed, so a
 * failure never leaves a half-written snapshot behind.
 */
export async function buildSnapshot(opts: BuildSnapshotOptions): Promise<SnapshotInfo> {
  const asOf = opts.asOf ?? new Date().toISOString().slice(0, 10);
  const dir = path.join(opts.dataDir, 'snapshots');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${opts.contractId}.duckdb`);
  const tmp = `${file}.building`;
  fs.rmSync(tmp, { force: true });
  fs.rmSync(`${tmp}.wal`, { force: true });
  ensureFreeSpace(dir, opts.minFreeBytes ?? 0, `build the snapshot of contract ${opts.contractId}`);
  const keys = maskingKeys(opts.pseudonymKey, opts.noiseKey ?? opts.pseudonymKey);
  const tables: SnapshotInfo['tables'] = {};
  const instance = await openInstance(tmp, { threads: '2' });
  // DuckDB's progress restarts with each pipeline of a statement: what is reported never goes back
  let reached = 0;
  const report = (p: BuildProgress) => {
    reached = Math.max(reached, p.done);
    opts.onProgress?.({ ...p, done: reached });
  };
  try {
    opts.signal?.throwIfAborted();
    await withConnection(instance, async (conn) => {
      const onAbort = () => conn.interrupt();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        // DuckDB tracks a query's progress only with its progress bar on (never printed here)
        await exec(conn, 'SET enable_progress_bar = true; SET enable_progress_bar_print = false');
        await exec(conn, `ATTACH ${quoteLiteral(opts.domainFile)} AS domain (READ_ONLY)`);
        const hasVersions =
          (
            await queryRows(
              conn,
              "SELECT 1 FROM duckdb_tables() WHERE database_name = 'domain' AND table_name = 'pds_dataset_versions'",
            )
          ).length > 0;
        for (const [i, g] of opts.grants.entries()) {
          const share = WRITING_SHARE / opts.grants.length;
          const at = (f: number) => (i + f) * share;
          tables[g.dataset] = await snapshotTable(conn, g, { opts, asOf, keys, hasVersions, report, at });
        }
        await exec(conn, 'DETACH domain');
        await exec(conn, 'CHECKPOINT');
      } finally {
        // a failed build too: the builds' signal lives as long as the process
        opts.signal?.removeEventListener('abort', onAbort);
      }
    });
  } catch (err) {
    instance.closeSync();
    fs.rmSync(tmp, { force: true });
    fs.rmSync(`${tmp}.wal`, { force: true });
    if (isDiskFull(err))
      throw new PdsError(
        'ERR_STORAGE_FULL',
        `the disk holding ${dir} filled while the snapshot was built; nothing was kept — free some space and decide again`,
        {
          cause: err,
          extra: { directory: dir },
        },
      );
    throw err;
  }
  instance.closeSync();
  report({ phase: 'sealing', table: null, done: WRITING_SHARE });
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o400);
  return {
    file,
    hash: await fileSha256(file),
    tables,
    recordKeys: opts.recordKeySalt !== undefined,
    unitKeys: opts.unitKeySalt !== undefined,
  };
}
