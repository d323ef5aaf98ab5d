#!/usr/bin/env node
// Adds lock entries for the other-platform builds of native packages (@duckdb/node-bindings, and
// msgpackr-extract under bullmq).
// Why: the package registry this project's machines reach serves only the Linux builds, so npm
// cannot lock the darwin/win32/arm optional dependencies and `npm ci` refuses the lock as out of
// sync. The entries it adds carry version, os, cpu and libc (so npm skips them on other platforms)
// but no integrity hash, which only a machine with the full registry can add.
// Run after adding or upgrading such a dependency: node scripts/lock-other-platforms.mjs
import fs from 'node:fs';

/** Parent package → the name prefix of its per-platform optional dependencies. */
const NATIVE = {
  '@duckdb/node-bindings': '@duckdb/node-bindings-',
  'msgpackr-extract': '@msgpackr-extract/msgpackr-extract-',
};

const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const report = [];
for (const [parent, prefix] of Object.entries(NATIVE)) {
  const pkg = lock.packages[`node_modules/${parent}`];
  if (!pkg) continue;
  let added = 0;
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    if (!dep.startsWith(prefix)) continue;
    const key = `node_modules/${dep}`;
    if (lock.packages[key]?.version === version) continue;
    const [os, cpu, libc] = dep.slice(prefix.length).split('-');
    lock.packages[key] = {
      version,
      cpu: [cpu],
      ...(os === 'linux' ? { libc: [libc === 'musl' ? 'musl' : 'glibc'] } : {}),
      license: 'MIT',
      optional: true,
      os: [os],
    };
    added++;
  }
  report.push(`${added} for ${parent} ${pkg.version}`);
}
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
fs.writeFileSync('package-lock.json', `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`lock-other-platforms: entries added: ${report.join('; ')}`);
