/**
 * The sandbox runner: a separate process that runs each job in a fresh, locked-down DuckDB
 * instance, for one contract only (the parent reuses it for that contract's next job, never for
 * another's). A crash, OOM or kill here never touches the API process (docs/architecture.md §11).
 * This file is the engine layer (protocol.ts): the snapshot is attached read-only *before*
 * external access is switched off and the configuration is locked, so the query itself can open
 * nothing else and change no setting; and it runs only if DuckDB itself says it is one SELECT.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StatementType, type DuckDBConnection, type DuckDBInstance } from '@duckdb/node-api';
import { exec, openInstance, quoteLiteral, readResult } from '../duckdb/index.ts';
import { INSIDE, RESULT_FILE, type RunRequest, type RunResponse, type RunnerNotice } from './protocol.ts';
import { runtimeMessage } from './runtime-errors.ts';
import { planScans, startWarmUp, type WarmUp } from './warm-up.ts';

/**
 * Maps a DuckDB error to our codes. Binder, parser and catalog errors name only tables, columns
 * and functions, so their text is passed on; others (conversion, out of range, …) can quote cell
 * values, so only their kind is told: an error message must never carry data out.
 */
function classify(message: string, confined: boolean): RunResponse {
  const kind = /^([A-Za-z ]+ Error):/.exec(message)?.[1] ?? 'Error';
  const firstLine = message.split('\n')[0]!.slice(0, 500);
  // inside the OS layer only the snapshot and the job's directory exist and no network does: a file
  // or network error elsewhere is the sandbox refusing what the engine let through
  if (confined && (kind === 'IO Error' || kind === 'HTTP Error') && !firstLine.includes(INSIDE.workDir)) {
    return { ok: false, code: 'ERR_SANDBOX_DENIED', message: `refused by the OS sandbox: ${firstLine}`, layer: 'os' };
  }
  if (
    kind === 'Permission Error' ||
    /configuration has been locked|read-only mode|disabled by configuration/i.test(firstLine)
  ) {
    return { ok: false, code: 'ERR_SANDBOX_DENIED', message: firstLine };
  }
  if (kind === 'Out of Memory Error')
    return { ok: false, code: 'ERR_LIMIT_EXCEEDED', message: 'the job exceeded its memory or temporary storage limit' };
  if (kind === 'INTERRUPT Error' || /interrupted/i.test(firstLine))
    return { ok: false, code: 'ERR_LIMIT_EXCEEDED', message: 'the job was interrupted at its wall-clock limit' };
  if (['Binder Error', 'Parser Error', 'Catalog Error'].includes(kind))
    return { ok: false, code: 'ERR_SQL_INVALID', message: firstLine };
  if (
    [
      'Conversion Error',
      'Invalid Input Error',
      'Out of Range Error',
      'Constraint Error',
      'Invalid Error',
      'Not implemented Error',
    ].includes(kind)
  ) {
    return { ok: false, code: 'ERR_SQL_RUNTIME', message: runtimeMessage(kind, firstLine) };
  }
  return { ok: false, code: 'ERR_SANDBOX_FAILURE', message: kind };
}

const denied = (message: string): RunResponse => ({ ok: false, code: 'ERR_SANDBOX_DENIED', message });
const tooBig = (message: string): RunResponse => ({ ok: false, code: 'ERR_LIMIT_EXCEEDED', message });

/** The name the snapshot is attached under. */
const SNAPSHOT_DATABASE = 'snapshot';

async function lockDown(conn: DuckDBConnection, req: RunRequest): Promise<void> {
  await exec(conn, `ATTACH ${quoteLiteral(req.snapshotFile)} AS ${SNAPSHOT_DATABASE} (READ_ONLY)`);
  await exec(conn, `USE ${SNAPSHOT_DATABASE}`);
  await exec(conn, 'SET allow_persistent_secrets = false');
  await exec(conn, 'SET max_expression_depth = 250');
  await exec(conn, 'SET enable_external_access = false');
  await exec(conn, 'SET lock_configuration = true');
}

async function runLocked(conn: DuckDBConnection, req: RunRequest, started: number): Promise<RunResponse> {
  const engine = req.engineLayer !== false;
  const extracted = await conn.extractStatements(req.sql);
  if (engine && extracted.count !== 1) return denied(`the engine runs exactly one statement, got ${extracted.count}`);
  for (let i = 0; i < extracted.count - 1; i++) await (await extracted.prepare(i)).run();
  const prepared = await extracted.prepare(extracted.count - 1);
  if (engine && prepared.statementType !== StatementType.SELECT)
    return denied(
      `the engine runs SELECT statements only, got statement type ${StatementType[prepared.statementType]}`,
    );
  // the engine's own clock, from the job's receipt as the parent's: interrupt the query from
  // inside, before the parent's SIGKILL
  const left = Math.max(0, req.limits.timeoutMs - (performance.now() - started));
  const timer = engine ? setTimeout(() => conn.interrupt(), left) : undefined;
  try {
    const cap = engine ? req.limits.maxResultRows + 1 : Number.MAX_SAFE_INTEGER;
    const reader = await prepared.streamAndReadUntil(cap);
    if (engine && reader.currentRowCount > req.limits.maxResultRows)
      return tooBig(`the result has more than ${req.limits.maxResultRows} rows`);
    const body = JSON.stringify(readResult(reader));
    const bytes = Buffer.byteLength(body);
    if (engine && bytes > req.limits.maxResultBytes)
      return tooBig(`the result is larger than ${req.limits.maxResultBytes} bytes`);
    const resultFile = path.join(req.tempDir, RESULT_FILE);
    fs.writeFileSync(resultFile, body, { mode: 0o600 });
    return { ok: true, elapsedMs: Math.round(performance.now() - started), resultFile, bytes };
  } finally {
    clearTimeout(timer);
  }
}

interface Opened {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
}

/** A fresh instance, the snapshot attached and (with the engine layer) everything locked down. */
async function openLocked(req: RunRequest): Promise<Opened> {
  const engine = req.engineLayer !== false;
  const instance = await openInstance(
    ':memory:',
    engine
      ? {
          threads: String(req.limits.threads),
          memory_limit: req.limits.memoryLimit,
          max_temp_directory_size: req.limits.tempDirectorySize,
          temp_directory: req.tempDir,
          autoload_known_extensions: 'false',
          autoinstall_known_extensions: 'false',
          allow_community_extensions: 'false',
          allow_unsigned_extensions: 'false',
        }
      : { temp_directory: req.tempDir },
  );
  try {
    const conn = await instance.connect();
    if (engine) await lockDown(conn, req);
    else
      await exec(
        conn,
        `ATTACH ${quoteLiteral(req.snapshotFile)} AS ${SNAPSHOT_DATABASE} (READ_ONLY); USE ${SNAPSHOT_DATABASE}`,
      );
    return { instance, conn };
  } catch (err) {
    instance.closeSync();
    throw err;
  }
}

/** Everything of a request that the instance is opened with: the same for a contract's every job. */
const openedFor = (req: RunRequest): string => JSON.stringify({ ...req, sql: undefined });

/**
 * The next job's instance, opened while the runner waits: a runner serves one contract's jobs
 * only, so the next is almost always opened the same way, and opening (~20 ms of CPU) leaves the
 * job's path. It is still one fresh instance per job — never one a query has run in; the columns
 * the last job scanned are read into it meanwhile (warm-up.ts), and a job that comes stops that.
 */
interface Ready {
  key: string;
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  warmUp?: WarmUp;
}
let next: Promise<Ready | undefined> = Promise.resolve(undefined);

/** After an answer: the scans of the job that ran, its instance closed, the next one opened and warmed. */
async function prepareNext(req: RunRequest, res: RunResponse, used: Opened | undefined): Promise<Ready | undefined> {
  const reusable = req.engineLayer !== false;
  // planned on the job's own instance while the next one opens (both off this thread)
  const [scans, opened] = await Promise.all([
    used && res.ok && reusable ? planScans(used.conn, req.sql).catch(() => []) : [],
    reusable ? openLocked(req).catch(() => undefined) : undefined, // else opened with the job, where its error is answered
  ]);
  used?.conn.closeSync();
  used?.instance.closeSync();
  if (!opened) return undefined;
  const warmUp =
    scans.length > 0
      ? startWarmUp(opened.instance, SNAPSHOT_DATABASE, scans, (warmed) => process.send?.({ warmed }))
      : undefined;
  return { key: openedFor(req), ...opened, ...(warmUp ? { warmUp } : {}) };
}

/** Runs one job; its instance and connection are closed by the caller after the answer is sent. */
async function run(req: RunRequest): Promise<{ res: RunResponse; used?: Opened }> {
  const started = performance.now();
  const ready = await next;
  next = Promise.resolve(undefined);
  await ready?.warmUp?.stop();
  let opened: Opened | undefined = ready?.key === openedFor(req) ? ready : undefined;
  if (ready && !opened) {
    ready.conn.closeSync();
    ready.instance.closeSync();
  }
  const warm = opened && ready?.warmUp ? [...ready.warmUp.warmed] : [];
  try {
    opened ??= await openLocked(req);
    const res = await runLocked(opened.conn, req, started);
    return { res: res.ok ? { ...res, warm } : res, used: opened };
  } catch (err) {
    return { res: classify((err as Error).message ?? String(err), req.confined === true), used: opened };
  }
}

// a runner waits for its jobs one at a time (the parent sends the next only after this one's
// answer, and only for the same contract's snapshot); if its parent goes away, it leaves too
process.once('disconnect', () => process.exit(0));
process.send?.({ ready: true });

process.on('message', (req: RunRequest) => {
  process.send!({ started: true } satisfies RunnerNotice);
  run(req).then(
    // the answer first: closing an instance that spilled gigabytes (an interrupted query) can take
    // long on a busy machine, and the parent's wall clock is running; the next job is read after.
    // Only a runner with every layer on is kept for the contract's next job.
    ({ res, used }) =>
      process.send!(res, () => {
        next = prepareNext(req, res, used);
      }),
    (err: unknown) =>
      process.send!({ ok: false, code: 'ERR_SANDBOX_FAILURE', message: String(err) } satisfies RunResponse),
  );
});
