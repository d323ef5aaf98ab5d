import type { ErrorCode } from '../errors/index.ts';
import type { ReadResult } from '../store/index.ts';

/** Limits of one sandbox run (policies/sandbox.yaml). */
export interface SandboxLimits {
  threads: number;
  memoryLimit: string;
  tempDirectorySize: string;
  timeoutMs: number;
  maxResultRows: number;
}

/** What the parent sends to a runner process: one job, then the process exits. */
export interface RunRequest {
  snapshotFile: string;
  /** Job-private spill directory, removed after the run. */
  tempDir: string;
  sql: string;
  limits: SandboxLimits;
}

export type RunResponse =
  | ({ ok: true; elapsedMs: number } & ReadResult)
  | { ok: false; code: ErrorCode; message: string };
