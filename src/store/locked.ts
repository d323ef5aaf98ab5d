import { isPdsError, PdsError } from '../errors/index.ts';

/**
 * DuckDB lets one process open a database file for writing: a second one is refused with "IO Error:
 * Could not set lock on file "…": Conflicting lock is held in <program> (PID <n>)". That is not a
 * damaged or missing store but a busy one — most often a running `pds serve` — so it gets its own
 * code (ERR_STORE_LOCKED) and says who holds it; the CLI adds what the command can do instead.
 */
export function isStoreLocked(err: unknown): boolean {
  if (isPdsError(err)) return err.code === 'ERR_STORE_LOCKED';
  return /Could not set lock on file/i.test((err as Error)?.message ?? '');
}

/** The PID DuckDB names as holding the lock, if its message gives one. */
export function lockHolderPid(err: unknown): number | undefined {
  const m = /Conflicting lock is held in .*?\(PID (\d+)\)/.exec((err as Error)?.message ?? '');
  return m ? Number(m[1]) : undefined;
}

/** ERR_STORE_LOCKED naming the file and the process that holds it; DuckDB's words stay in the cause. */
export function storeLocked(file: string, cause: unknown): PdsError {
  const pid = lockHolderPid(cause);
  return new PdsError(
    'ERR_STORE_LOCKED',
    `控制库 ${file} 正被另一个进程占用${pid === undefined ? '' : `（PID ${pid}）`}，通常是正在运行的 pds serve；DuckDB 同一时间只允许一个进程打开它`,
    { cause, extra: { file, ...(pid === undefined ? {} : { pid }) } },
  );
}
