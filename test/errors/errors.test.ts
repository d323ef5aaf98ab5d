import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { ERRORS, PdsError } from '../../src/errors/index.ts';

describe('error catalogue', () => {
  it('documents every code in the README', () => {
    const readme = fs.readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
    const missing = Object.keys(ERRORS).filter((code) => !readme.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('gives every code an HTTP error status and a title', () => {
    for (const [code, e] of Object.entries(ERRORS)) {
      expect(e.status, code).toBeGreaterThanOrEqual(400);
      expect(e.status, code).toBeLessThan(600);
      expect(e.title.length, code).toBeGreaterThan(3);
    }
  });

  it('carries code, status and detail', () => {
    const err = new PdsError('ERR_SQL_SYNTAX', 'near "selec"');
    expect(err).toMatchObject({
      code: 'ERR_SQL_SYNTAX',
      status: 400,
      detail: 'near "selec"',
      title: 'SQL does not parse',
    });
  });
});
