import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PdsError } from '../errors/index.ts';
import { exec, openInstance, queryRows, quoteIdent, quoteLiteral, withConnection } from '../store/index.ts';
import { PRIVACY_UNIT_COLUMN, type ColumnGrant, type DatasetGrant } from './rules.ts';

/** HMAC-SHA256 pads of a key, so the HMAC can be computed inside DuckDB without a UDF. */
function hmacPads(key: Buffer): { ipad: string; opad: string } {
  if (key.length > 64) throw new TypeError('HMAC key longer than the SHA-256 block');
  const block = Buffer.alloc(64);
  key.copy(block);
  return {
    ipad: Buffer.from(block.map((b) => b ^ 0x36)).toString('hex'),
    opad: Buffer.from(block.map((b) => b ^ 0x5c)).toString('hex'),
  };
}

/** Tokens are the first 128 bits of the HMAC, hex: unlinkable across contracts, stable within one. */
export const TOKEN_HEX_LENGTH = 32;

/** SQL for HMAC-SHA256(key, value) as hex, with the pads bound as `$ipad` / `$opad`. */
function hmacSql(valueSql: string): string {
  return `left(sha256(unhex($opad) || unhex(sha256(unhex($ipad) || encode(${valueSql}::VARCHAR)))), ${TOKEN_HEX_LENGTH})`;
}

/** The same token in Node, for tests and for operators' dummy data generators. */
export function pseudonym(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, TOKEN_HEX_LENGTH);
}

/** Compiles one column grant to a SELECT expression that keeps the column's name. */
export function maskingSql(grant: ColumnGrant): string {
  const col = quoteIdent(grant.column);
  const expr = (() => {
    switch (grant.rule) {
      case 'keep': return col;
      case 'pseudonymize': return `CASE WHEN ${col} IS NULL THEN NULL ELSE ${hmacSql(col)} END`;
      case 'generalize:year': return `strftime(${col}::DATE, '%Y')`;
      case 'generalize:month': return `strftime(${col}::DATE, '%Y-%m')`;
      case 'drop': throw new TypeError(`a dropped column (${grant.column}) has no expression`);
    }
  })();
  return `${expr} AS ${col}`;
}

export interface SnapshotInfo {
  file: string;
  /** SHA-256 of the snapshot file, pinned in the contract and checked before every job. */
  hash: string;
  /** Per table: rows, columns, and the domain dataset version it was built from. */
  tables: Record<string, { rows: number; columns: string[]; datasetVersion: number | null }>;
}

export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Materializes `DATA_DIR/snapshots/<contractId>.duckdb` holding only the granted columns, masked,
 * plus each table's pseudonymized privacy unit. Built under a temporary name and renamed, so a
 * failure never leaves a half-written snapshot behind.
 */
export async function buildSnapshot(opts: {
  dataDir: string;
  domainFile: string;
  contractId: string;
  grants: DatasetGrant[];
  pseudonymKey: Buffer;
}): Promise<SnapshotInfo> {
  const dir = path.join(opts.dataDir, 'snapshots');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${opts.contractId}.duckdb`);
  const tmp = `${file}.building`;
  fs.rmSync(tmp, { force: true });
  fs.rmSync(`${tmp}.wal`, { force: true });
  const pads = hmacPads(opts.pseudonymKey);
  const tables: SnapshotInfo['tables'] = {};
  const instance = await openInstance(tmp, { threads: '2' });
  try {
    await withConnection(instance, async (conn) => {
      await exec(conn, `ATTACH ${quoteLiteral(opts.domainFile)} AS domain (READ_ONLY)`);
      const hasVersions = (await queryRows(conn, "SELECT 1 FROM duckdb_tables() WHERE database_name = 'domain' AND table_name = 'pds_dataset_versions'")).length > 0;
      for (const g of opts.grants) {
        const exists = await queryRows(conn, "SELECT 1 FROM duckdb_tables() WHERE database_name = 'domain' AND schema_name = 'main' AND table_name = $1", [g.dataset]);
        if (exists.length === 0) throw new PdsError('ERR_CONFLICT', `the domain has no data for dataset ${g.dataset} yet; load it with pds ingest (or pds seed)`);
        const [v] = hasVersions
          ? await queryRows<{ v: number | null }>(conn, 'SELECT max(version) AS v FROM domain.pds_dataset_versions WHERE dataset = $1', [g.dataset])
          : [{ v: null }];
        const select = [
          ...g.columns.map(maskingSql),
          `${hmacSql(quoteIdent(g.privacyUnit))} AS ${quoteIdent(PRIVACY_UNIT_COLUMN)}`,
        ].join(',\n  ');
        await exec(conn, `CREATE TABLE ${quoteIdent(g.dataset)} AS SELECT\n  ${select}\nFROM domain.${quoteIdent(g.dataset)}`, pads);
        const [row] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM ${quoteIdent(g.dataset)}`);
        tables[g.dataset] = { rows: row!.n, columns: [...g.columns.map((c) => c.column), PRIVACY_UNIT_COLUMN], datasetVersion: v?.v ?? null };
      }
      await exec(conn, 'DETACH domain');
      await exec(conn, 'CHECKPOINT');
    });
  } catch (err) {
    instance.closeSync();
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  instance.closeSync();
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o400);
  return { file, hash: await fileSha256(file), tables };
}
