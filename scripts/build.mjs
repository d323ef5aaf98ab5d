#!/usr/bin/env node
// Compiles src/ to plain JavaScript in dist/ (esbuild, one file per module, no bundling), so the
// installed `pds` starts without compiling TypeScript: `npm ci` runs this (the `prepare` script).
// dist/.fingerprint names the sources it was built from; bin/pds.js runs dist/ only while the
// sources still match it, and otherwise runs src/ through tsx (docs/architecture.md §15).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceFingerprint, sourceFiles } from './fingerprint.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
// --out DIR: elsewhere (the test that every module compiles and starts builds into a scratch directory)
const at = process.argv.indexOf('--out');
const out = at > 0 ? path.resolve(process.argv[at + 1]) : path.join(root, 'dist');
const tmp = `${out}.${process.pid}.tmp`;
const started = performance.now();

const files = sourceFiles(src);
const result = await build({
  entryPoints: files,
  outdir: tmp,
  outbase: src,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  bundle: false,
  write: false,
  logLevel: 'error',
});
fs.rmSync(tmp, { recursive: true, force: true });
for (const file of result.outputFiles) {
  // relative imports name .ts files (allowImportingTsExtensions): the compiled ones are .js
  const text = file.text.replace(
    /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\.ts\2/g,
    (_m, lead, q, spec) => `${lead}${q}${spec}.js${q}`,
  );
  fs.mkdirSync(path.dirname(file.path), { recursive: true });
  fs.writeFileSync(file.path, text);
}
fs.writeFileSync(path.join(tmp, '.fingerprint'), sourceFingerprint(src));
// replaced whole: a reader never sees half a build
fs.rmSync(out, { recursive: true, force: true });
fs.renameSync(tmp, out);
console.log(
  `pds: compiled ${files.length} modules to ${path.relative(root, out) || out} in ${Math.round(performance.now() - started)} ms`,
);
