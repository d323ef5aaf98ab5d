import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { PdsError } from '../errors/index.ts';

/** Refuse key files that others can read, as ssh does: a leaked key forges every contract. */
export function checkMode(file: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new PdsError('ERR_KEY_PERMISSIONS', `${file} has mode ${mode.toString(8)}; it must be 0600`);
  }
}

function tmpName(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * Writes `content` to `file` only if the file does not exist yet, with mode 0600, atomically:
 * two processes starting at once end with the same key, never a torn one.
 */
export function createExclusive(file: string, content: string | Buffer): boolean {
  const tmp = tmpName(file);
  fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.unlinkSync(tmp);
  }
}

/** Replaces `file` atomically (write, fsync, rename), mode 0600. */
export function replaceAtomically(file: string, content: string): void {
  const tmp = tmpName(file);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Runs `fn` holding an exclusive lock file, so two rotations cannot interleave. */
export function withLockFile<T>(lock: string, fn: () => T): T {
  let fd: number;
  try {
    fd = fs.openSync(lock, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PdsError(
        'ERR_CONFLICT',
        `${lock} exists: another key rotation is running (remove the file if it is stale)`,
      );
    }
    throw err;
  }
  try {
    return fn();
  } finally {
    fs.closeSync(fd);
    fs.unlinkSync(lock);
  }
}
