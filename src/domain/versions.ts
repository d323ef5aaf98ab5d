import { createHash } from 'node:crypto';
import { queryRows, quoteIdent, type DuckDBConnection } from '../store/index.ts';

/**
 * Dataset versions, recorded in the domain database next to the data they describe (the control
 * store is owned by the API process; ingest and seed run as their own processes). A load writes
 * its table and its version row in one transaction.
 */
export const VERSIONS_TABLE = 'pds_dataset_versions';

export interface DatasetVersion {
  dataset: string;
  version: number;
  rows: number;
  contentHash: string;
  source: string;
  loadedAt: string;
  findings: unknown[];
}

export async function ensureVersionsTable(conn: DuckDBConnection): Promise<void> {
  await conn.run(`CREATE TABLE IF NOT EXISTS ${VERSIONS_TABLE} (
    dataset VARCHAR NOT NULL, version INTEGER NOT NULL, rows BIGINT NOT NULL, content_hash VARCHAR NOT NULL,
    source VARCHAR NOT NULL, loaded_at VARCHAR NOT NULL, findings VARCHAR NOT NULL, PRIMARY KEY (dataset, version))`);
}

/**
 * An order-independent fingerprint of a table's content, computed in one scan inside DuckDB:
 * the row count and the sum and the xor of the rows' 64-bit hashes, hashed with SHA-256. Same rows,
 * same hash, whatever their order. It identifies versions; it is not a defence against a forger
 * with write access to the domain database.
 */
export async function contentHash(conn: DuckDBConnection, table: string): Promise<{ rows: number; hash: string }> {
  const t = quoteIdent(table);
  const [r] = await queryRows<{ n: number; s: string | number; x: string | number }>(
    conn,
    `SELECT count(*) AS n, sum(h::HUGEINT)::VARCHAR AS s, bit_xor(h)::VARCHAR AS x FROM (SELECT hash(t) AS h FROM ${t} t)`,
  );
  return {
    rows: Number(r!.n),
    hash: createHash('sha256')
      .update(`${table}|${r!.n}|${r!.s ?? 0}|${r!.x ?? 0}`)
      .digest('hex'),
  };
}

/** Records a new version of `dataset` (inside the caller's transaction). */
export async function recordVersion(
  conn: DuckDBConnection,
  dataset: string,
  source: string,
  findings: unknown[],
  now: Date,
): Promise<DatasetVersion> {
  const { rows, hash } = await contentHash(conn, dataset);
  const [prev] = await queryRows<{ v: number | null }>(
    conn,
    `SELECT max(version) AS v FROM ${VERSIONS_TABLE} WHERE dataset = $1`,
    [dataset],
  );
  const version = (prev?.v ?? 0) + 1;
  const loadedAt = now.toISOString();
  await conn.run(`INSERT INTO ${VERSIONS_TABLE} VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
    dataset,
    version,
    rows,
    hash,
    source,
    loadedAt,
    JSON.stringify(findings),
  ]);
  return { dataset, version, rows, contentHash: hash, source, loadedAt, findings };
}

/** The newest version of every dataset. */
export async function currentVersions(conn: DuckDBConnection): Promise<Record<string, DatasetVersion>> {
  const rows = await queryRows<Record<string, string | number>>(
    conn,
    `SELECT * FROM ${VERSIONS_TABLE} v
    WHERE version = (SELECT max(version) FROM ${VERSIONS_TABLE} w WHERE w.dataset = v.dataset) ORDER BY dataset`,
  );
  return Object.fromEntries(
    rows.map((r) => [
      String(r.dataset),
      {
        dataset: String(r.dataset),
        version: Number(r.version),
        rows: Number(r.rows),
        contentHash: String(r.content_hash),
        source: String(r.source),
        loadedAt: String(r.loaded_at),
        findings: JSON.parse(String(r.findings)) as unknown[],
      },
    ]),
  );
}
