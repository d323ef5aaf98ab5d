import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { runnerModule } from '../../src/sandbox/runner.ts';

describe('the runner process module', () => {
  it('from TypeScript sources, is one bundled plain ES module named by its hash (no loader in every job)', () => {
    const m = runnerModule();
    expect(m.loader).toBe(false);
    expect(m.file.startsWith(path.join(PACKAGE_ROOT, 'node_modules', '.cache', 'pubdata-sandbox'))).toBe(true);
    expect(path.basename(m.file)).toMatch(/^runner-process-[0-9a-f]{16}\.mjs$/);
    const code = fs.readFileSync(m.file, 'utf8');
    // its own code is inside; packages stay external, resolved from node_modules
    expect(code).toContain('@duckdb/node-api');
    expect(code).not.toMatch(/from ["']\.\.?\//);
    expect(runnerModule()).toEqual(m);
  });
});
