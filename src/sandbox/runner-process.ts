/**
 * The sandbox runner: a separate process that runs exactly one job in a fresh, locked-down DuckDB
 * and exits. A crash, OOM or kill here never touches the API process (DESIGN §4.3 d).
 * The snapshot is attached read-only *before* external access is switched off and the
 * configuration is locked, so the query itself can open nothing else and change no setting.
 */
import { exec, openInstance, quoteLiteral, readResult, withConnection } from '../store/index.ts';
import type { RunRequest, RunResponse } from './protocol.ts';

/**
 * Maps a DuckDB error to our codes. Binder, parser and catalog errors name only tables, columns
 * and functions, so their text is passed on; others (conversion, out of range, …) can quote cell
 * values, so only their kind is told: an error message must never carry data out.
 */
function classify(message: string): RunResponse {
  const kind = /^([A-Za-z ]+ Error):/.exec(message)?.[1] ?? 'Error';
  const firstLine = message.split('\n')[0]!.slice(0, 500);
  if (kind === 'Permission Error' || /configuration has been locked|attached in read-only mode/.test(firstLine)) {
    return { ok: false, code: 'ERR_SANDBOX_DENIED', message: firstLine };
  }
  if (kind === 'Out of Memory Error') return { ok: false, code: 'ERR_LIMIT_EXCEEDED', message: 'the job exceeded its memory or temporary storage limit' };
  if (['Binder Error', 'Parser Error', 'Catalog Error'].includes(kind)) return { ok: false, code: 'ERR_SQL_INVALID', message: firstLine };
  if (['Conversion Error', 'Invalid Input Error', 'Out of Range Error', 'Constraint Error', 'Invalid Error', 'Not implemented Error'].includes(kind)) {
    return { ok: false, code: 'ERR_SQL_RUNTIME', message: `${kind} while running the query (details withheld: they may quote data values)` };
  }
  return { ok: false, code: 'ERR_SANDBOX_FAILURE', message: kind };
}

async function run(req: RunRequest): Promise<RunResponse> {
  const started = performance.now();
  const instance = await openInstance(':memory:', {
    threads: String(req.limits.threads),
    memory_limit: req.limits.memoryLimit,
    max_temp_directory_size: req.limits.tempDirectorySize,
    temp_directory: req.tempDir,
    autoload_known_extensions: 'false',
    autoinstall_known_extensions: 'false',
    allow_community_extensions: 'false',
    allow_unsigned_extensions: 'false',
  });
  try {
    return await withConnection(instance, async (conn) => {
      await exec(conn, `ATTACH ${quoteLiteral(req.snapshotFile)} AS snapshot (READ_ONLY)`);
      await exec(conn, 'USE snapshot');
      await exec(conn, 'SET enable_external_access = false');
      await exec(conn, 'SET lock_configuration = true');
      const reader = await conn.runAndReadUntil(req.sql, req.limits.maxResultRows + 1);
      if (reader.currentRowCount > req.limits.maxResultRows) {
        return { ok: false, code: 'ERR_LIMIT_EXCEEDED', message: `the result has more than ${req.limits.maxResultRows} rows` } as const;
      }
      return { ok: true, elapsedMs: Math.round(performance.now() - started), ...readResult(reader) } as const;
    });
  } catch (err) {
    return classify((err as Error).message ?? String(err));
  } finally {
    instance.closeSync();
  }
}

// a spare waits for exactly one job; if its parent goes away first, it leaves too
process.once('disconnect', () => process.exit(0));
process.send?.({ ready: true });

process.once('message', (req: RunRequest) => {
  run(req).then(
    (res) => process.send!(res, () => process.exit(0)),
    (err: unknown) => process.send!({ ok: false, code: 'ERR_SANDBOX_FAILURE', message: String(err) } satisfies RunResponse, () => process.exit(0)),
  );
});
