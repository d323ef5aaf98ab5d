import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/config/index.ts';

const SRC = path.join(PACKAGE_ROOT, 'src');

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
    path.resolve(path.dirname(file), m[1]!),
  );
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

  /** Every part `entry` reaches through its imports, type imports included. */
  function reach(entry: string): Set<string> {
    const seen = new Set<string>();
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const t of imports(file)) walk(t.endsWith('.ts') ? t : `${t}.ts`);
    };
    walk(entry);
    return new Set([...seen].map(part));
  }

  it('the sandbox runner process imports no HTTP, contract or key code', () => {
    const parts = reach(path.join(SRC, 'sandbox', 'runner-process.ts'));
    for (const forbidden of ['api', 'contracts', 'keys', 'jobs', 'platform', 'audit', 'store'])
      expect(parts.has(forbidden), forbidden).toBe(false);
  });

  it('the worker part reaches no keys, contracts, disclosure, signing, store or API code', () => {
    // the agent only runs: what it can import, it cannot use to decide or to sign (docs/architecture.md)
    const parts = reach(path.join(SRC, 'worker', 'index.ts'));
    for (const forbidden of [
      'keys',
      'contracts',
      'disclosure',
      'store',
      'audit',
      'jobs',
      'api',
      'platform',
      'reports',
      'auth',
      'masking',
    ]) {
      expect(parts.has(forbidden), `worker → ${forbidden}`).toBe(false);
    }
    expect(parts.has('protocol') && parts.has('sandbox')).toBe(true);
  });

  it('parts that must not lean on each other do not import each other', () => {
    // jobs and worker both call the sandbox's executeRun; auth owns the Principal; policies own categorize
    const fences: [string, string][] = [
      ['jobs', 'worker'],
      ['auth', 'contracts'],
      ['jobs', 'reports'],
    ];
    const crossings: string[] = [];
    for (const file of files(SRC)) {
      for (const target of imports(file)) {
        for (const [from, to] of fences)
          if (part(file) === from && part(target) === to) crossings.push(`${path.relative(SRC, file)} → ${to}`);
      }
    }
    expect(crossings).toEqual([]);
    expect(reach(path.join(SRC, 'jobs', 'index.ts')).has('worker')).toBe(false);
  });

  it('evaluateQuery lives with the tests, not in src', () => {
    expect(files(SRC).filter((f) => /export async function evaluateQuery/.test(fs.readFileSync(f, 'utf8')))).toEqual(
      [],
    );
  });

  it('only the job store writes the jobs and job_runs tables', () => {
    const writers = files(SRC).filter((f) =>
      /\b(UPDATE|INSERT INTO|DELETE FROM)\s+(jobs|job_runs)\b/i.test(fs.readFileSync(f, 'utf8')),
    );
    expect(writers.map((f) => path.relative(SRC, f))).toEqual([path.join('jobs', 'job-store.ts')]);
  });

  it('only the outputs part writes the outputs and output_reviews tables, and it never imports jobs', () => {
    // the store's migrations reshape every table once, at start-up, before any part runs
    const migrations = path.join(SRC, 'store', 'migrations.ts');
    const writers = files(SRC).filter(
      (f) =>
        f !== migrations &&
        /\b(UPDATE|INSERT INTO|DELETE FROM)\s+(outputs|output_reviews)\b/i.test(fs.readFileSync(f, 'utf8')),
    );
    expect(writers.length).toBeGreaterThan(0);
    for (const f of writers) expect(path.relative(SRC, f).split(path.sep)[0], f).toBe('outputs');
    // a status change of an output is one move of its state machine (states.ts), or its recording
    const statusWriters = files(path.join(SRC, 'outputs')).filter((f) =>
      /UPDATE\s+outputs\s+SET\s+status/i.test(fs.readFileSync(f, 'utf8')),
    );
    expect(statusWriters.map((f) => path.basename(f))).toEqual(['states.ts']);
    expect(reach(path.join(SRC, 'outputs', 'index.ts')).has('jobs')).toBe(false);
  });
});
