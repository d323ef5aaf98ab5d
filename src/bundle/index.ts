/**
 * Module bundles for the code that runs outside the API's own thread: the runner process (which
 * the OS layer confines to exactly the files it needs) and the dummy-data thread. Each is one
 * plain ES module, built once per process with esbuild, whose package imports are absolute paths
 * (it runs wherever it is written, needs no loader, and names every file it will read), named by
 * its content's hash.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PdsError } from '../errors/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const built = new Map<string, string>();

/** A module beside the calling one (`import.meta.url`): its .ts source, or its .js once built. */
export function moduleBeside(importerUrl: string, name: string): string {
  return path.join(path.dirname(fileURLToPath(importerUrl)), `${name}.${importerUrl.endsWith('.ts') ? 'ts' : 'js'}`);
}

/** The bundle of `entry` (a .ts or .js module), written beside the package, else in the temp directory. */
export function bundleModule(entry: string, name: string): string {
  const known = built.get(entry);
  if (known) return known;
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const out = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  // each package import becomes the absolute path of the file it resolves to
  let code = out.outputFiles[0]!.text;
  const packages = Object.values(out.metafile.outputs).flatMap((o) =>
    o.imports.filter((i) => i.external && !i.path.startsWith('node:') && !builtinModules.includes(i.path)),
  );
  for (const { path: spec } of packages)
    code = code.replaceAll(JSON.stringify(spec), JSON.stringify(fileURLToPath(import.meta.resolve(spec))));
  const file = `${name}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`;
  for (const dir of [
    path.resolve(here, '..', '..', 'node_modules', '.cache', 'pubdata-sandbox'),
    path.join(os.tmpdir(), 'pubdata-sandbox'),
  ]) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      const target = path.join(dir, file);
      if (!fs.existsSync(target)) {
        const tmp = `${target}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, code, { mode: 0o644 });
        fs.renameSync(tmp, target);
      }
      built.set(entry, target);
      return target;
    } catch {
      /* read-only: try the next */
    }
  }
  throw new PdsError(
    'ERR_SANDBOX_FAILURE',
    `the ${name} bundle could not be written (package cache and temp directory are read-only)`,
  );
}
