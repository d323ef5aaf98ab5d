import fs from 'node:fs';
import { PdsError } from '../errors/index.ts';

/**
 * Free space is checked before every write that could fill a disk — the control store's
 * transactions, snapshots, outputs, reports — so a full disk is a refusal (ERR_STORAGE_FULL, 507,
 * naming the directory) and never DuckDB failing half-way through a commit, which can abort the
 * process (docs/architecture.md §14).
 */

/** Bytes available to this process in the file system holding `dir` (its nearest existing ancestor). */
export function freeBytes(dir: string): number {
  let at = dir;
  while (!fs.existsSync(at)) {
    const up = at.replace(/\/[^/]*\/?$/, '') || '/';
    if (up === at) break;
    at = up;
  }
  const s = fs.statfsSync(at);
  return s.bavail * s.bsize;
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

/** Refuses with ERR_STORAGE_FULL when `dir` has less than `need` bytes free. */
export function ensureFreeSpace(dir: string, need: number, what: string): void {
  const free = freeBytes(dir);
  if (free < need) {
    throw new PdsError(
      'ERR_STORAGE_FULL',
      `not enough free space in ${dir} to ${what}: ${mb(free)} free, at least ${mb(need)} needed; free some space (old outputs, reports, revoked snapshots) and retry`,
      { extra: { directory: dir, freeBytes: free, neededBytes: need } },
    );
  }
}

/** An error from the file system or DuckDB that means the disk is full. */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === 'ENOSPC' || /No space left on device|ENOSPC|disk is full|Disk full/i.test(e?.message ?? '');
}

/** The refusal for a write that met a full disk in `dir` (nothing of it is kept: the caller removes it). */
export function storageFull(dir: string, what: string, cause: unknown): PdsError {
  return new PdsError('ERR_STORAGE_FULL', `the disk holding ${dir} is full; ${what} — free some space and retry`, {
    cause,
    extra: { directory: dir },
  });
}
