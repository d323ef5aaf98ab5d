import type { ErrorCode } from '../errors/index.ts';

/** Limits of one sandbox run (policies/sandbox.yaml). */
export interface SandboxLimits {
  threads: number;
  memoryLimit: string;
  tempDirectorySize: string;
  timeoutMs: number;
  maxResultRows: number;
  maxResultBytes: number;
}

/**
 * The independent layers between a query and the data (docs/architecture.md §11).
 * Each is meant to hold on its own; the red-team suite switches one off at a time to show it.
 *   analysis   static analysis of DuckDB's AST and the mode's rewrite
 *   engine     the runner's DuckDB: one SELECT by statement type, read-only attach, external access
 *              off, configuration locked, memory/threads/temp limits, its own interrupt timer, row
 *              and byte caps on the result
 *   process    a fresh process per job with an empty environment, OS limits (prlimit), a SIGKILL
 *              on the wall clock, and a size check on the result file before it is read
 *   disclosure the output checks: no output leaves without proof of its privacy units
 */
export type SandboxLayer = 'analysis' | 'engine' | 'process' | 'disclosure';
export const SANDBOX_LAYERS: readonly SandboxLayer[] = ['analysis', 'engine', 'process', 'disclosure'];

/** What the parent sends to a runner process: one job, then the process exits. */
export interface RunRequest {
  snapshotFile: string;
  /** Job-private directory for spills and the result file, removed after the run. */
  tempDir: string;
  sql: string;
  limits: SandboxLimits;
  /** Only the red-team suite switches the engine layer off, to show the other layers hold. */
  engineLayer?: boolean;
}

export type RunResponse =
  { ok: true; elapsedMs: number; resultFile: string; bytes: number } | { ok: false; code: ErrorCode; message: string };
