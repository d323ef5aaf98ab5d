import path from 'node:path';

/**
 * Files the control store names (snapshots, outputs) are stored relative to DATA_DIR, so a copied
 * or restored DATA_DIR serves its own files and never the original location's
 * (docs/architecture.md §14). Old absolute paths are rewritten by migration 13.
 */

/** The path to store for a file inside DATA_DIR. */
export function storedPath(dataDir: string, file: string): string {
  const rel = path.relative(path.resolve(dataDir), path.resolve(file));
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new TypeError(`${file} is not inside DATA_DIR ${dataDir}`);
  return rel.split(path.sep).join('/');
}

/** The file a stored path names, inside this DATA_DIR (a stored path that would leave it is refused). */
export function resolveStored(dataDir: string, stored: string): string {
  const root = path.resolve(dataDir);
  const file = path.resolve(root, stored);
  if (path.relative(root, file).startsWith('..')) throw new TypeError(`stored path ${stored} leaves DATA_DIR`);
  return file;
}
