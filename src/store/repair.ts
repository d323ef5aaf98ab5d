import fs from 'node:fs';
import path from 'node:path';
import { PdsError } from '../errors/index.ts';
import { exec, openInstance, queryRows, quoteIdent, quoteLiteral, type DuckDBConnection } from '../duckdb/index.ts';
import { isStoreDamaged, storeDamaged } from './integrity.ts';
import { isStoreLocked, storeLocked } from './locked.ts';

/**
 * `pds store repair` (docs/architecture.md §14): a new control store made of what the damaged one
 * still reads. The damaged file is attached read-only; each table is made anew from its own
 * definition and filled with its rows; indexes are built after (every index anew: one that
 * disagreed with its table is rebuilt from the table); the audit head is set to the log's last
 * entry (the log is the record, the head its cache).
 *
 * What it cannot recover: rows held in a block whose checksum fails. A table that cannot be read
 * whole is copied in ranges of its first key column, halved around each failure (DuckDB skips the
 * blocks a range's zone maps exclude), so only the rows in damaged blocks are lost — counted
 * against the table's row count, which DuckDB keeps apart from the blocks. If the key column itself
 * cannot be read, the whole table is lost. A file whose catalog cannot be read gives nothing: it
 * is restored from a backup. Lost audit entries break the chain, which `pds audit verify` names.
 * When anything is lost, the new file is left beside the damaged one unless `acceptLoss` says to
 * put it in place; the damaged file is always kept (`control.duckdb.damaged-<time>`).
 */

export interface RepairReport {
  /** The new store: in place (`installed`) or beside the damaged one. */
  repaired: string;
  installed: boolean;
  /** The damaged file once the new one is in place; the store's own name while it is not. */
  kept: string;
  tables: { table: string; rows: number; lost: number }[];
}

/** Rows of a table the repair copies at once; halved around a failure. */
const RANGE_ROWS = 2048;

export async function repairStore(dataDir: string, opts: { acceptLoss?: boolean } = {}): Promise<RepairReport> {
  const file = path.join(dataDir, 'control.duckdb');
  if (!fs.existsSync(file)) throw new PdsError('ERR_NOT_FOUND', `${file} does not exist`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const repaired = `${file}.repaired-${stamp}`;
  const next = await openInstance(repaired, { threads: '1' });
  const conn = await next.connect();
  let tables: RepairReport['tables'] = [];
  try {
    try {
      await exec(conn, `ATTACH ${quoteLiteral(file)} AS damaged (READ_ONLY)`);
    } catch (err) {
      if (isStoreLocked(err)) throw storeLocked(file, err);
      if (!isStoreDamaged(err)) throw err;
      throw storeDamaged(
        file,
        err,
        'its catalog cannot be read, so nothing can be copied: restore DATA_DIR from a backup',
      );
    }
    tables = await copyTables(conn);
    await exec(conn, 'DETACH damaged');
    await exec(conn, 'CHECKPOINT');
  } catch (err) {
    conn.closeSync();
    next.closeSync();
    fs.rmSync(repaired, { force: true });
    fs.rmSync(`${repaired}.wal`, { force: true });
    throw err;
  }
  conn.closeSync();
  next.closeSync();
  if (tables.some((t) => t.lost > 0) && !opts.acceptLoss) return { repaired, installed: false, kept: file, tables };
  const kept = `${file}.damaged-${stamp}`;
  fs.renameSync(file, kept);
  if (fs.existsSync(`${file}.wal`)) fs.renameSync(`${file}.wal`, `${kept}.wal`);
  fs.renameSync(repaired, file);
  return { repaired: file, installed: true, kept, tables };
}

/** Every table of `damaged` made anew in the main database with what can be read; then its indexes. */
async function copyTables(conn: DuckDBConnection): Promise<RepairReport['tables']> {
  const defs = await queryRows<{ name: string; sql: string }>(
    conn,
    "SELECT table_name AS name, sql FROM duckdb_tables() WHERE database_name = 'damaged' ORDER BY table_name",
  );
  const keys = new Map(
    (
      await queryRows<{ name: string; key: string }>(
        conn,
        `SELECT table_name AS name, constraint_column_names[1] AS key FROM duckdb_constraints()
         WHERE database_name = 'damaged' AND constraint_type = 'PRIMARY KEY'`,
      )
    ).map((r) => [r.name, r.key]),
  );
  const report: RepairReport['tables'] = [];
  for (const { name, sql } of defs) {
    await exec(conn, sql);
    const [{ n }] = (await queryRows<{ n: number }>(
      conn,
      `SELECT count(*)::BIGINT AS n FROM damaged.${quoteIdent(name)}`,
    )) as [{ n: number }];
    const copied = await copyRows(conn, name, keys.get(name));
    report.push({ table: name, rows: copied, lost: Math.max(0, Number(n) - copied) });
  }
  const indexes = await queryRows<{ sql: string }>(
    conn,
    "SELECT sql FROM duckdb_indexes() WHERE database_name = 'damaged' AND sql IS NOT NULL",
  );
  for (const { sql } of indexes) await exec(conn, sql);
  if (defs.some((d) => d.name === 'audit_head') && defs.some((d) => d.name === 'audit_log')) {
    await exec(conn, 'DELETE FROM audit_head');
    await exec(conn, 'INSERT INTO audit_head SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
  }
  return report;
}

/** Copies what can be read of one table: whole, else in ranges of its key; answers the rows copied. */
async function copyRows(conn: DuckDBConnection, table: string, key: string | undefined): Promise<number> {
  const t = quoteIdent(table);
  const count = async () =>
    Number((await queryRows<{ n: number }>(conn, `SELECT count(*)::BIGINT AS n FROM ${t}`))[0]!.n);
  try {
    await exec(conn, `INSERT INTO ${t} SELECT * FROM damaged.${t}`);
    return count();
  } catch (err) {
    if (!isStoreDamaged(err) || !key) {
      if (isStoreDamaged(err)) return 0;
      throw err;
    }
  }
  const k = quoteIdent(key);
  let values: (string | number)[];
  try {
    values = (
      await queryRows<{ k: string | number }>(conn, `SELECT DISTINCT ${k} AS k FROM damaged.${t} ORDER BY 1`)
    ).map((r) => r.k);
  } catch (err) {
    if (isStoreDamaged(err)) return 0;
    throw err;
  }
  // literals of the key's own type: a bound JS number is a DOUBLE, and a cast column skips no block
  const literal = (v: string | number) => (typeof v === 'number' ? String(v) : quoteLiteral(v));
  // [lo, hi] are indexes into the key's values: a range that fails is halved, down to one value
  const copy = async (lo: number, hi: number): Promise<void> => {
    try {
      await exec(
        conn,
        `INSERT INTO ${t} SELECT * FROM damaged.${t} WHERE ${k} >= ${literal(values[lo]!)} AND ${k} <= ${literal(values[hi]!)}`,
      );
    } catch (err) {
      if (!isStoreDamaged(err)) throw err;
      if (lo === hi) return;
      const mid = Math.floor((lo + hi) / 2);
      await copy(lo, mid);
      await copy(mid + 1, hi);
    }
  };
  for (let lo = 0; lo < values.length; lo += RANGE_ROWS) await copy(lo, Math.min(lo + RANGE_ROWS, values.length) - 1);
  return count();
}
