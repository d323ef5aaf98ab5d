import fs from 'node:fs';
import { PdsError } from '../errors/index.ts';
import path from 'node:path';
import { exec, openInstance, quoteLiteral, withConnection, type DuckDBConnection } from '../store/index.ts';
import { DOMAIN_TABLES, generateDomain, type GenerateOptions } from './synthetic.ts';
import { ingestDataset, type IngestOptions, type IngestReport } from './ingest.ts';
import {
  currentVersions,
  ensureVersionsTable,
  recordVersion,
  VERSIONS_TABLE,
  type DatasetVersion,
} from './versions.ts';

export { DOMAIN_TABLES, generateDomain, apportion, type GenerateOptions } from './synthetic.ts';
export {
  DISTRICTS,
  DIAGNOSES,
  EDUCATION,
  ENTERPRISE_STATUS,
  ETHNICITIES,
  HOSPITALS,
  INDUSTRIES,
  LOG_NORMAL,
  RELIGION,
  SALARY_BASE,
} from './vocab.ts';
export {
  ID_CHECK_CHARS,
  ID_WEIGHTS,
  USCC_CHARSET,
  USCC_WEIGHTS,
  idNumberCheckChar,
  usccCheckChar,
  orgCodeCheckChar,
  idNumberValidSql,
  usccValidSql,
  mobileValidSql,
} from './checksums.ts';
export { contentHash, VERSIONS_TABLE, type DatasetVersion } from './versions.ts';
export { ingestDataset, maskSample, type Finding, type IngestOptions, type IngestReport } from './ingest.ts';

/**
 * The domain database holds the raw public data. It never leaves the domain: jobs read only
 * per-contract masked snapshots built from it (seed 002 第三十二条: 原始数据不出域).
 */
export function domainPath(dataDir: string): string {
  return path.join(dataDir, 'domain.duckdb');
}

/** Runs `fn` in one transaction on the domain database, opened for writing. */
export async function withDomainTransaction<T>(
  dataDir: string,
  fn: (conn: DuckDBConnection) => Promise<T>,
): Promise<T> {
  fs.mkdirSync(dataDir, { recursive: true });
  const instance = await openInstance(domainPath(dataDir), { threads: '2' });
  try {
    return await withConnection(instance, async (conn) => {
      await ensureVersionsTable(conn);
      await exec(conn, 'BEGIN TRANSACTION');
      let result: T;
      try {
        result = await fn(conn);
        await exec(conn, 'COMMIT');
      } catch (err) {
        await exec(conn, 'ROLLBACK');
        throw err;
      }
      await exec(conn, 'CHECKPOINT');
      return result;
    });
  } finally {
    instance.closeSync();
  }
}

export interface SeedOptions extends Omit<GenerateOptions, 'seed' | 'onStep'> {
  seed?: number;
  onStep?: GenerateOptions['onStep'];
}

/**
 * Generates a whole synthetic domain into a new file and renames it over `domain.duckdb`: the
 * swap is atomic, so a failure (or a kill) leaves the previous domain intact, and readers that
 * have the old file open keep reading it. Version numbers continue from the previous file.
 */
export async function seedDomain(dataDir: string, opts: SeedOptions): Promise<Record<string, DatasetVersion>> {
  const seed = opts.seed ?? 42;
  fs.mkdirSync(dataDir, { recursive: true });
  const final = domainPath(dataDir);
  const building = `${final}.seeding`;
  for (const f of [building, `${building}.wal`]) fs.rmSync(f, { force: true });
  // row order is not part of a dataset's content (its hash is order-independent); letting DuckDB
  // write in parallel without preserving insertion order is markedly faster at 10 M rows
  const instance = await openInstance(building, { threads: '2', preserve_insertion_order: 'false' });
  let versions: Record<string, DatasetVersion>;
  try {
    versions = await withConnection(instance, async (conn) => {
      await ensureVersionsTable(conn);
      if (fs.existsSync(final)) await carryVersions(conn, final);
      const total = DOMAIN_TABLES.length + 1;
      await generateDomain(conn, { ...opts, seed, onStep: (name, i) => opts.onStep?.(name, i, total) });
      opts.onStep?.('content hashes', DOMAIN_TABLES.length, total);
      const source = `synthetic: pds seed --rows ${opts.rows} --seed ${seed}`;
      const now = new Date();
      const out: Record<string, DatasetVersion> = {};
      for (const t of DOMAIN_TABLES) out[t] = await recordVersion(conn, t, source, [], now);
      await exec(conn, 'CHECKPOINT');
      return out;
    });
  } catch (err) {
    instance.closeSync();
    for (const f of [building, `${building}.wal`]) fs.rmSync(f, { force: true });
    throw err;
  }
  instance.closeSync();
  fs.renameSync(building, final);
  return versions;
}

/** Copies the version history of the domain being replaced, so version numbers keep counting. */
async function carryVersions(conn: DuckDBConnection, previous: string): Promise<void> {
  await exec(conn, `ATTACH ${quoteLiteral(previous)} AS previous (READ_ONLY)`);
  try {
    const [row] = await (
      await conn.runAndReadAll(
        `SELECT count(*) FROM duckdb_tables() WHERE database_name = 'previous' AND table_name = '${VERSIONS_TABLE}'`,
      )
    ).getRows();
    if (Number(row![0]) > 0) await exec(conn, `INSERT INTO ${VERSIONS_TABLE} SELECT * FROM previous.${VERSIONS_TABLE}`);
  } finally {
    await exec(conn, 'DETACH previous');
  }
}

/** The newest version of each dataset; empty when the domain has none yet. */
export async function domainVersions(dataDir: string): Promise<Record<string, DatasetVersion>> {
  const file = domainPath(dataDir);
  if (!fs.existsSync(file)) return {};
  // the catalog asks on every request: read the file again only when it (or its WAL) changed
  const stamp = [file, `${file}.wal`]
    .map((f) => fs.statSync(f, { throwIfNoEntry: false }))
    .map((st) => (st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '-'))
    .join('|');
  const known = VERSIONS.get(file);
  if (known?.stamp === stamp) return known.versions;
  let instance;
  try {
    instance = await openInstance(file, { access_mode: 'READ_ONLY' });
  } catch (err) {
    throw new PdsError(
      'ERR_DOMAIN_DAMAGED',
      `${file} cannot be opened (${(err as Error).message.split('\n')[0]}); restore it from a backup or re-ingest the datasets`,
      { cause: err },
    );
  }
  try {
    const versions = await withConnection(instance, async (conn) => {
      const [t] = await conn
        .runAndReadAll("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pds_dataset_versions'")
        .then((r) => r.getRows());
      return Number(t![0]) > 0 ? currentVersions(conn) : {};
    });
    VERSIONS.set(file, { stamp, versions });
    return versions;
  } finally {
    instance.closeSync();
  }
}

/** The domain's dataset versions by file, with the file's stamp when they were read. */
const VERSIONS = new Map<string, { stamp: string; versions: Record<string, DatasetVersion> }>();

/** Ingests one file as a new version of a dataset, in one transaction on the domain database. */
export function ingest(dataDir: string, opts: IngestOptions): Promise<IngestReport> {
  return withDomainTransaction(dataDir, (conn) => ingestDataset(conn, opts));
}
