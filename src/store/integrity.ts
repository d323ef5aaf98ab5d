import path from 'node:path';
import { isPdsError, PdsError } from '../errors/index.ts';
import { quoteIdent, type Row, type SqlParams } from '../duckdb/index.ts';

/**
 * The control store's integrity, checked at start-up (docs/architecture.md §14). Two kinds of
 * damage. A block whose bytes no longer match its checksum (a failing disk, a torn copy): every
 * table is read whole once, so start-up meets it rather than a request later; one met later is
 * ERR_STORE_DAMAGED too (`storeDamaged`). And DuckDB's ART indexes can come to disagree with their
 * table (duckdb/duckdb#23645, #19190: updates of indexed columns, a crash mid-commit): a lookup then
 * misses rows a scan finds, durably. The store keeps no secondary index on a column that is updated
 * (migration 14 dropped `jobs_status`); what remains is checked here — each table's recent keys
 * found by an index lookup as by a scan, and the audit chain's head equal to its last entry. Either
 * stops start-up with the repair command, `pds store repair` (repair.ts).
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

/** A DuckDB error that says a block of the file does not hold what was written there. */
export function isStoreDamaged(err: unknown): boolean {
  if (isPdsError(err)) return err.code === 'ERR_STORE_DAMAGED';
  return /Corrupt database file|does not match stored checksum/i.test((err as Error)?.message ?? '');
}

/** ERR_STORE_DAMAGED naming the file and the repair; DuckDB's own words stay in the cause (the log). */
export function storeDamaged(
  file: string,
  cause?: unknown,
  what = 'a block of it does not match its checksum',
): PdsError {
  return new PdsError(
    'ERR_STORE_DAMAGED',
    `the control store ${file} is damaged: ${what}. Stop the API and run \`pds store repair --data-dir ${path.dirname(file)}\` (it keeps the damaged file, copies what can be read and says what it could not), then \`pds audit verify\`.`,
    { cause },
  );
}

/** Reads every column of every table once: a block that fails its checksum is named here, not by a request. */
async function checkBlocks(db: Reader): Promise<IntegrityProblem[]> {
  const problems: IntegrityProblem[] = [];
  const tables = await db.all<{ t: string }>(
    'SELECT table_name AS t FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary ORDER BY 1',
  );
  for (const { t } of tables) {
    try {
      // an aggregate of each column's hash: no column can be left unread by the optimizer
      await db.all(`SELECT count(*) AS n, max(hash(COLUMNS(*))) FROM ${quoteIdent(t)}`);
    } catch (err) {
      if (!isStoreDamaged(err)) throw err;
      problems.push({ check: `${t} blocks`, detail: `a block of ${t} does not match its checksum` });
    }
  }
  return problems;
}

export async function checkIntegrity(db: Reader): Promise<IntegrityProblem[]> {
  const problems = await checkBlocks(db);
  for (const [table, key] of KEYED) {
    // the newest keys by a scan, then each looked up by equality (an index scan when DuckDB can)
    try {
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
    } catch (err) {
      if (!isStoreDamaged(err)) throw err;
      problems.push({
        check: `${table}.${key} index`,
        detail: `a block of ${table} or its index does not match its checksum`,
      });
    }
  }
  // the head against the log, when both can be read
  if (problems.some((p) => /^audit_(log|head)\b/.test(p.check))) return problems;
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
  throw storeDamaged(
    file,
    undefined,
    `it does not check out — ${problems.map((p) => `${p.check}: ${p.detail}`).join('; ')}`,
  );
}
