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
 *   process    a process of its own per contract (a runner serves only that contract's jobs, one
 *              at a time, each in a fresh DuckDB instance), an empty environment, OS limits
 *              (prlimit), a SIGKILL on the wall clock, and a size check on the result file before
 *              it is read
 *   os         bubblewrap around the runner (confine.ts): no network, no other process, a root of
 *              only node, DuckDB and the runner, the snapshot read-only, one private work directory,
 *              a seccomp filter
 *   disclosure the output checks: no output leaves without proof of its privacy units
 */
export type SandboxLayer = 'analysis' | 'engine' | 'process' | 'os' | 'disclosure';
export const SANDBOX_LAYERS: readonly SandboxLayer[] = ['analysis', 'engine', 'process', 'os', 'disclosure'];

/** Where a job's files are inside the OS layer: the same for every job, telling nothing of the host. */
export const INSIDE = { inDir: '/job/in', snapshot: '/job/in/snapshot.duckdb', workDir: '/job/work' } as const;

/** The result's name in the job's directory: the parent reads it there, never at a path the runner names. */
export const RESULT_FILE = 'result.json';

/** What the parent sends to a runner process: one job at a time, always on the same snapshot. */
export interface RunRequest {
  snapshotFile: string;
  /** Job-private directory for spills and the result file, removed after the run. */
  tempDir: string;
  sql: string;
  limits: SandboxLimits;
  /** Only the red-team suite switches the engine layer off, to show the other layers hold. */
  engineLayer?: boolean;
  /** Inside the OS layer: a file or network error there is the sandbox refusing, and says so. */
  confined?: boolean;
}

/**
 * What a runner says besides its answer: `ready` once started, `started` on receiving a job — the
 * moment both the runner's own interrupt and the parent's kill count the job's wall clock from, so
 * a slow start on a busy machine is never mistaken for a slow query; `warmed` once it has read the
 * last job's tables into the next instance (warm-up.ts).
 */
export type RunnerNotice = { ready: true } | { started: true } | { warmed: string[] };

export type RunResponse =
  /** `warm`: the tables read into the instance before the job came (warm-up.ts). */
  | { ok: true; elapsedMs: number; resultFile: string; bytes: number; warm?: string[] }
  | { ok: false; code: ErrorCode; message: string; layer?: 'engine' | 'os' };
