#!/usr/bin/env node
// Adds lock entries for @duckdb/node-bindings' other-platform packages.
// Why: the package registry this project's machines reach serves only the Linux builds, so npm
// cannot lock the darwin/win32/arm64 optional dependencies and `npm ci` refuses the lock as out of
// sync. The entries it adds carry version, os, cpu and libc (so npm skips them on other platforms)
// but no integrity hash, which only a machine with the full registry can add.
// Run after upgrading @duckdb/node-api: node scripts/lock-other-platforms.mjs
import fs from 'node:fs';

const PLATFORMS = {
  'darwin-arm64': ['darwin', 'arm64'], 'darwin-x64': ['darwin', 'x64'],
  'linux-arm64': ['linux', 'arm64', 'glibc'], 'linux-arm64-musl': ['linux', 'arm64', 'musl'],
  'linux-x64': ['linux', 'x64', 'glibc'], 'linux-x64-musl': ['linux', 'x64', 'musl'],
  'win32-arm64': ['win32', 'arm64'], 'win32-x64': ['win32', 'x64'],
};
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const bindings = lock.packages['node_modules/@duckdb/node-bindings'];
if (!bindings) throw new Error('package-lock.json has no @duckdb/node-bindings');
let added = 0;
for (const [name, [os, cpu, libc]] of Object.entries(PLATFORMS)) {
  const key = `node_modules/@duckdb/node-bindings-${name}`;
  if (!(`@duckdb/node-bindings-${name}` in (bindings.optionalDependencies ?? {}))) continue;
  const existing = lock.packages[key];
  if (existing?.version === bindings.version) continue;
  lock.packages[key] = { version: bindings.version, cpu: [cpu], ...(libc ? { libc: [libc] } : {}), license: 'MIT', optional: true, os: [os] };
  added++;
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
fs.writeFileSync('package-lock.json', `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`lock-other-platforms: ${added} entr${added === 1 ? 'y' : 'ies'} added for @duckdb/node-bindings ${bindings.version}`);
