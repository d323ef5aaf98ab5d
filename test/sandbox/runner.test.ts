import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runnerModule } from '../../src/sandbox/runner.ts';

describe('the runner process module', () => {
  it('is one bundled plain ES module named by its hash, its packages imported by absolute path', () => {
    const file = runnerModule();
    expect(path.basename(file)).toMatch(/^runner-process-[0-9a-f]{16}\.mjs$/);
    const code = fs.readFileSync(file, 'utf8');
    // its own code is inside; DuckDB's package stays outside, named by the file the OS layer binds
    expect(code).toMatch(/from ["']\/[^"']*\/@duckdb\/node-api\/[^"']+["']/);
    expect(code).not.toMatch(/from ["']\.\.?\//);
    expect(code).not.toMatch(/from ["']@duckdb/);
    expect(runnerModule()).toBe(file);
  });
});
