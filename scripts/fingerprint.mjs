// What dist/ was built from: every .ts file under src/ with its size and modification time.
// Shared by scripts/build.mjs (which writes it) and bin/pds.js (which compares it).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function sourceFiles(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    )
    .sort();
}

export function sourceFingerprint(dir) {
  const hash = createHash('sha256');
  for (const file of sourceFiles(dir)) {
    const st = fs.statSync(file);
    hash.update(`${path.relative(dir, file)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return hash.digest('hex');
}
