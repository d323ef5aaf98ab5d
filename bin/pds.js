#!/usr/bin/env node
// The `pds` command. It runs the compiled JavaScript in dist/ (built by `npm ci`, scripts/build.mjs)
// while dist/ matches the sources; after an edit to src/ it runs the TypeScript sources through tsx
// instead, so the command always runs the code in the tree, fast when it can.
import fs from 'node:fs';
import { sourceFingerprint } from '../scripts/fingerprint.mjs';

const root = new URL('../', import.meta.url);
const stamp = new URL('dist/.fingerprint', root);
let compiled = false;
try {
  compiled = fs.readFileSync(stamp, 'utf8') === sourceFingerprint(new URL('src', root).pathname);
} catch {
  compiled = false;
}
if (compiled) {
  await import(new URL('dist/cli/main.js', root).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('src/cli/main.ts', root).href);
}
