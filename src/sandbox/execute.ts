import path from 'node:path';
import { isPdsError } from '../errors/index.ts';
import { RUN_ERROR_CODES, type RunOutcome, type RunSpec } from '../protocol/index.ts';
import { runInSandbox } from './runner.ts';
import type { SandboxLayer } from './protocol.ts';

export interface ExecuteOptions {
  /** The worker's DATA_DIR: the snapshot is `snapshots/<spec.snapshot.file>` under it … */
  dataDir: string;
  /** … unless it was put elsewhere (a worker's cache of fetched snapshots). */
  snapshotFile?: string;
  /** Where job-private temporary directories are made (removed after each run). */
  tmpDir: string;
  signal: AbortSignal;
  /** Only the red-team suite switches the engine, process or OS layer off, to show the other layers hold. */
  layersOff?: ReadonlySet<SandboxLayer>;
}

/**
 * Executes one run as it was handed: the final SQL over the snapshot, in a fresh runner process.
 * Answers the engine's raw columns and rows, or why there are none; never throws for the query's
 * own failures (only when `signal` aborts). It decides nothing about release.
 */
export async function executeRun(spec: RunSpec, opts: ExecuteOptions): Promise<RunOutcome> {
  const off = opts.layersOff ?? new Set<SandboxLayer>();
  try {
    const result = await runInSandbox(
      {
        snapshotFile: opts.snapshotFile ?? path.join(opts.dataDir, 'snapshots', path.basename(spec.snapshot.file)),
        tempDir: path.join(opts.tmpDir, `${spec.jobId}-${spec.attempt}`),
        sql: spec.sql,
        limits: spec.limits,
        engineLayer: !off.has('engine'),
      },
      { signal: opts.signal, processLayer: !off.has('process'), osLayer: !off.has('os') },
    );
    return { ok: true, columns: result.columns, rows: result.rows, elapsedMs: result.elapsedMs };
  } catch (err) {
    if (opts.signal.aborted) throw err;
    if (!isPdsError(err) || !(RUN_ERROR_CODES as readonly string[]).includes(err.code)) {
      return { ok: false, error: { code: 'ERR_SANDBOX_FAILURE', message: 'the runner failed' } };
    }
    const layer = ['engine', 'process', 'os'].includes(String(err.extra?.layer))
      ? (err.extra!.layer as 'engine' | 'process' | 'os')
      : undefined;
    const facts = runFacts(err.detail);
    return {
      ok: false,
      error: {
        code: err.code,
        message: err.detail,
        ...(layer ? { layer } : {}),
        ...(Object.keys(facts).length ? { facts } : {}),
      },
    };
  }
}

/** The facts of a run's failure the API may show (it writes the words itself): which limit, column, type. */
export function runFacts(detail: string): {
  limit?: 'memory' | 'time' | 'bytes' | 'rows';
  column?: string;
  type?: string;
} {
  const limit = /memory|temporary storage/.test(detail)
    ? 'memory'
    : /wall-clock/.test(detail)
      ? 'time'
      : /larger than \d+ bytes/.test(detail)
        ? 'bytes'
        : /\brows\b/.test(detail) && /limit|cap|more than/.test(detail)
          ? 'rows'
          : undefined;
  const type = /converted to ([A-Z][A-Z0-9_]{0,31})\b/.exec(detail)?.[1];
  const column =
    /casting column ([A-Za-z_][A-Za-z0-9_]{0,63})\)/.exec(detail)?.[1] ??
    /a value of column ([A-Za-z_][A-Za-z0-9_]{0,63}) could not/.exec(detail)?.[1];
  return { ...(limit ? { limit } : {}), ...(type ? { type } : {}), ...(column ? { column } : {}) };
}
