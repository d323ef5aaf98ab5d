import path from 'node:path';
import { isPdsError, type ErrorCode } from '../errors/index.ts';
import type { SqlAllowlist } from '../policies/index.ts';
import { functionAllowlist, sqlPolicy, type QueryMode, type SandboxLimits, type SqlParser } from '../sandbox/index.ts';
import type { ReadResult } from '../store/index.ts';
import { runQuery, type QueryRun } from './pipeline.ts';

/**
 * One run of a job, as the API hands it to whatever executes it (this process, or a `pds worker`
 * on another machine): plain JSON, everything the sandbox needs and nothing it does not — no keys,
 * no store. The contract was checked when the spec was made, right before the run.
 */
export interface RunSpec {
  jobId: string;
  attempt: number;
  sql: string;
  mode: QueryMode;
  policy: {
    tables: Record<string, string[]>;
    identifierColumns: string[];
    privacyUnitColumn: string;
    uniqueUnitTables: string[];
    functions: Omit<SqlAllowlist, 'version'>;
  };
  snapshot: { contractId: string; path: string; sha256: string };
  limits: SandboxLimits;
  maxSqlBytes: number;
  /** n of the (n, k) dominance rule. */
  dominanceN: number;
  /** dp mode: contribution bounds and the most groups a unit counts in. */
  dp?: { bounds: Record<string, [number, number]>; maxGroupsPerUnit: number };
}

export interface RunError {
  code: ErrorCode;
  message: string;
  layer?: string;
  rule?: string;
}

/** What the executor hands back: the raw result (disclosure control is the API's), or why not. */
export type RunOutcome =
  | { ok: true; analysis: QueryRun['analysis']; result: ReadResult }
  | { ok: false; error: RunError };

export function runError(err: unknown): RunError {
  if (!isPdsError(err)) return { code: 'ERR_INTERNAL', message: 'internal error while running the job' };
  const e: RunError = { code: err.code, message: err.detail };
  if (typeof err.extra?.layer === 'string') e.layer = err.extra.layer;
  if (typeof err.extra?.rule === 'string') e.rule = err.extra.rule;
  return e;
}

/** Runs a spec where the data is; never throws for the query's own failures. */
export async function executeRun(parser: SqlParser, spec: RunSpec, tmpDir: string, signal: AbortSignal): Promise<RunOutcome> {
  const { policy } = spec;
  try {
    const run = await runQuery(parser, {
      sql: spec.sql, mode: spec.mode, snapshotFile: spec.snapshot.path, limits: spec.limits, maxSqlBytes: spec.maxSqlBytes, dominanceN: spec.dominanceN, dp: spec.dp, signal,
      tempDir: path.join(tmpDir, `${spec.jobId}-${spec.attempt}`),
      policy: sqlPolicy(policy.tables, policy.identifierColumns, policy.privacyUnitColumn, functionAllowlist({ version: 1, ...policy.functions }), policy.uniqueUnitTables),
    });
    return { ok: true, ...run };
  } catch (err) {
    if (signal.aborted) throw err;
    return { ok: false, error: runError(err) };
  }
}
