import fs from 'node:fs';
import path from 'node:path';
import { exec, openInstance, queryRows, quoteIdent, withConnection } from '../store/index.ts';
import { generatePopulation } from './synthetic.ts';

export { generatePopulation, DISTRICTS, ID_WEIGHTS, ID_CHECK_CHARS } from './synthetic.ts';

/**
 * The domain database holds the raw public data. It never leaves the domain: jobs read only
 * per-contract masked snapshots built from it (seed 002 第三十二条: 原始数据不出域).
 */
export function domainPath(dataDir: string): string {
  return path.join(dataDir, 'domain.duckdb');
}

export interface SeedOptions {
  rows: number;
  seed?: number;
}

/** Generates the synthetic domain in one transaction: a failure leaves the previous tables intact. */
export async function seedDomain(dataDir: string, { rows, seed = 42 }: SeedOptions): Promise<Record<string, number>> {
  fs.mkdirSync(dataDir, { recursive: true });
  const instance = await openInstance(domainPath(dataDir), { threads: '2' });
  try {
    return await withConnection(instance, async (conn) => {
      await exec(conn, 'BEGIN TRANSACTION');
      try {
        await generatePopulation(conn, { rows, seed });
        await exec(conn, 'COMMIT');
      } catch (err) {
        await exec(conn, 'ROLLBACK');
        throw err;
      }
      await exec(conn, 'CHECKPOINT');
      return tableCounts(conn);
    });
  } finally {
    instance.closeSync();
  }
}

async function tableCounts(conn: Parameters<typeof queryRows>[0]): Promise<Record<string, number>> {
  const tables = await queryRows<{ name: string }>(conn, "SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1");
  const out: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM ${quoteIdent(name)}`);
    out[name] = row!.n;
  }
  return out;
}

/** Row counts per table of the domain database; empty when it does not exist yet. */
export async function domainTableCounts(dataDir: string): Promise<Record<string, number>> {
  if (!fs.existsSync(domainPath(dataDir))) return {};
  const instance = await openInstance(domainPath(dataDir), { access_mode: 'READ_ONLY' });
  try {
    return await withConnection(instance, tableCounts);
  } finally {
    instance.closeSync();
  }
}
