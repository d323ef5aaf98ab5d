import fs from 'node:fs';
import path from 'node:path';
import { PdsError } from '../errors/index.ts';
import {
  exec,
  openInstance,
  queryRows,
  quoteLiteral,
  withConnection,
  type Row,
  type SqlParams,
} from '../duckdb/index.ts';

/**
 * The control store's integrity, checked at start-up (docs/architecture.md §14). DuckDB's ART
 * indexes can come to disagree with their table (duckdb/duckdb#23645, #19190: updates of indexed
 * columns, a crash mid-commit): a lookup then misses rows a scan finds, durably. The store keeps
 * no secondary index on a column that is updated (migration 14 dropped `jobs_status`); what
 * remains is checked here — each table's recent keys found by an index lookup as by a scan, and
 * the audit chain's head equal to its last entry. A mismatch stops start-up with the repair
 * command, `pds store repair`, which rebuilds the database from an export (every index anew).
 */

export interface IntegrityProblem {
  check: string;
  detail: string;
}

interface Reader {
  all<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]>;
}

/** Tables whose key lookups are checked, with their key column. */
const KEYED = [
  ['jobs', 'id'],
  ['outputs', 'id'],
  ['contracts', 'id'],
  ['applications', 'id'],
  ['audit_log', 'seq'],
] as const;

const SAMPLE = 100;

export async function checkIntegrity(db: Reader): Promise<IntegrityProblem[]> {
  const problems: IntegrityProblem[] = [];
  for (const [table, key] of KEYED) {
    // the newest keys by a scan, then each looked up by equality (an index scan when DuckDB can)
    const keys = await db.all<{ k: string }>(`SELECT ${key} AS k FROM ${table} ORDER BY rowid DESC LIMIT ${SAMPLE}`);
    for (const { k } of keys) {
      const [row] = await db.all<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${table} WHERE ${key} = $1`, [k]);
      if (row?.n !== 1) {
        problems.push({
          check: `${table}.${key} index`,
          detail: `${table} row ${String(k)} is in the table but its key lookup finds ${row?.n ?? 0}`,
        });
        break;
      }
    }
  }
  const [head] = await db.all<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head');
  const [last] = await db.all<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
  );
  if (head && last && (Number(head.seq) !== Number(last.seq) || head.hash !== last.hash)) {
    problems.push({
      check: 'audit head',
      detail: `the audit head says entry ${head.seq}, the log ends at entry ${last.seq}`,
    });
  }
  return problems;
}

/** Refuses to go on when the store does not check out, naming each problem and the repair command. */
export function assertIntact(file: string, problems: IntegrityProblem[]): void {
  if (problems.length === 0) return;
  throw new PdsError(
    'ERR_STORE_DAMAGED',
    `${file} does not check out: ${problems.map((p) => `${p.check}: ${p.detail}`).join('; ')}. ` +
      `Stop the API and run \`pds store repair --data-dir ${path.dirname(file)}\` (it keeps the damaged file beside the new one), then \`pds audit verify\`.`,
  );
}

/**
 * Rebuilds the control store from an export: EXPORT DATABASE writes every table and the schema,
 * IMPORT DATABASE into a fresh file builds every index and constraint anew. The damaged file is
 * kept as `control.duckdb.damaged-<time>`. A stale audit head is set to the last entry only when
 * it is the one problem and the chain itself is then verified by `pds audit verify`.
 */
export async function repairStore(dataDir: string): Promise<{ kept: string; tables: number }> {
  const file = path.join(dataDir, 'control.duckdb');
  if (!fs.existsSync(file)) throw new PdsError('ERR_NOT_FOUND', `${file} does not exist`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const exportDir = path.join(dataDir, `control-export-${stamp}`);
  const fresh = path.join(dataDir, `control.duckdb.repairing`);
  fs.rmSync(fresh, { force: true });
  const old = await openInstance(file, { access_mode: 'READ_ONLY' });
  try {
    await withConnection(old, (c) => exec(c, `EXPORT DATABASE ${quoteLiteral(exportDir)}`));
  } finally {
    old.closeSync();
  }
  const next = await openInstance(fresh);
  let tables = 0;
  try {
    await withConnection(next, async (c) => {
      await exec(c, `IMPORT DATABASE ${quoteLiteral(exportDir)}`);
      // a head left behind by a crash: the log is the record, the head its cache
      await exec(
        c,
        'UPDATE audit_head SET seq = l.seq, hash = l.hash FROM (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) l',
      );
      tables = (await queryRows<{ n: number }>(c, 'SELECT count(*)::INTEGER AS n FROM duckdb_tables()'))[0]!.n;
      await exec(c, 'CHECKPOINT');
    });
  } finally {
    next.closeSync();
  }
  const kept = `${file}.damaged-${stamp}`;
  fs.renameSync(file, kept);
  if (fs.existsSync(`${file}.wal`)) fs.renameSync(`${file}.wal`, `${kept}.wal`);
  fs.renameSync(fresh, file);
  fs.rmSync(exportDir, { recursive: true, force: true });
  return { kept, tables };
}
