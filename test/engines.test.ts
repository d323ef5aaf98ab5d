import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/config/index.ts';

/**
 * `npm ci` warns EBADENGINE when a locked package does not accept the running Node (issue 33:
 * cookie@2 and content-disposition@3 want Node ≥ 22). Checked on the lock rather than on
 * `npm ci`'s output in `.ci/run`: the lock is the same on every machine, so this fails on a
 * developer's Node 22 as on CI's Node 20, before an install — and it checks the lowest Node the
 * project declares, which no machine's warning would.
 */

interface LockEntry {
  version?: string;
  engines?: { node?: string } | string[];
}

const read = (file: string) => JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, file), 'utf8'));

describe('dependencies run on the Node the project declares', () => {
  const declared: string = read('package.json').engines.node;
  const lock = read('package-lock.json') as { packages: Record<string, LockEntry> };

  it('declares a range of Node 20 (the project has not moved to 22)', () => {
    expect(semver.minVersion(declared)?.major).toBe(20);
  });

  it("every locked package accepts the declared lowest Node and this machine's", () => {
    const lowest = semver.minVersion(declared)!.version;
    const refused: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      const wants = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
      if (!where || !wants) continue;
      for (const node of [lowest, process.version])
        if (!semver.satisfies(node, wants)) refused.push(`${where}@${entry.version} wants node ${wants}, not ${node}`);
    }
    expect(refused).toEqual([]);
  });
});
