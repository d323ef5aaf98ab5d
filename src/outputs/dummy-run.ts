/**
 * A held output's query run again on the contract's dummy data, for its reviewers: what the same
 * SQL gives on invented rows beside what it gave on the snapshot, so a reviewer sees the shape of
 * the query's answer without reading more real data. Run in the sandbox like any job (the SQL
 * has passed the analysis already: only a job with a run is replayed), and never released.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ContractService } from '../contracts/index.ts';
import type { Principal } from '../auth/index.ts';
import { isPdsError } from '../errors/index.ts';
import { runInSandbox, type SandboxLimits } from '../sandbox/index.ts';
import { ensureFreeSpace, isDiskFull, storageFull, type JsonValue } from '../store/index.ts';

export type DummyRun =
  | { ok: true; columns: { name: string; type: string }[]; rows: JsonValue[][]; dummyRows: number }
  | { ok: false; code: string; message: string };

/** Dummy rows per table the replay runs over. */
const DUMMY_ROWS = 500;

/**
 * The run's outcome on the dummy rows (the SQL's own refusal is `ok: false`). A disk too full for
 * its scratch files is no outcome of the SQL: ERR_STORAGE_FULL is thrown, like every write's
 * (docs/architecture.md §14), and its scratch directory removed.
 */
export async function runOnDummyData(
  deps: { contracts: ContractService; dataDir: string; limits: SandboxLimits; minFreeBytes?: number },
  p: Principal,
  contractId: string,
  sql: string,
  maxRows: number,
): Promise<DummyRun> {
  const tmp = path.join(deps.dataDir, 'tmp');
  ensureFreeSpace(tmp, deps.minFreeBytes ?? 0, 'run SQL on dummy data');
  let dir: string | undefined;
  try {
    fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
    dir = fs.mkdtempSync(path.join(tmp, 'review-dummy-'));
    const db = path.join(dir, 'dummy.duckdb');
    fs.writeFileSync(
      db,
      await deps.contracts.dummyDataFile(p, contractId, { rows: DUMMY_ROWS, seed: 1, format: 'duckdb' }),
    );
    const result = await runInSandbox({
      snapshotFile: db,
      tempDir: path.join(dir, 'run'),
      sql,
      limits: deps.limits,
    });
    return { ok: true, columns: result.columns, rows: result.rows.slice(0, maxRows), dummyRows: DUMMY_ROWS };
  } catch (err) {
    if (isDiskFull(err)) throw storageFull(tmp, 'the dummy run was not made', err);
    if (!isPdsError(err) || err.code === 'ERR_STORAGE_FULL') throw err;
    return { ok: false, code: err.code, message: err.detail };
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
