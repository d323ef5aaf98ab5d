import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/config/index.ts';

const SRC = path.join(PACKAGE_ROOT, 'src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => path.resolve(path.dirname(file), m[1]!));
}

const part = (file: string) => path.relative(SRC, file).split(path.sep)[0]!;

describe('architecture', () => {
  it('each part is entered only through its index.ts', () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      for (const target of imports(file)) {
        if (part(target) !== part(file) && path.basename(target) !== 'index.ts') {
          violations.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('the sandbox runner process imports no HTTP, contract or key code', () => {
    const seen = new Set<string>();
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const t of imports(file)) walk(t.endsWith('.ts') ? t : `${t}.ts`);
    };
    walk(path.join(SRC, 'sandbox', 'runner-process.ts'));
    const parts = new Set([...seen].map(part));
    for (const forbidden of ['api', 'contracts', 'keys', 'jobs', 'platform', 'audit']) expect(parts.has(forbidden), forbidden).toBe(false);
  });
});
