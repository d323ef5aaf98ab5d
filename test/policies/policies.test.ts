import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { openInstance, queryRows, withConnection } from '../../src/store/index.ts';
import { tmpDataDir } from '../helpers.ts';

const REPO_POLICIES = path.join(PACKAGE_ROOT, 'policies');

describe('loadPolicies', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });

  /** A copy of the repository's policies with one file's text changed. */
  function withEdit(file: string, edit: (text: string) => string): string {
    const t = tmpDataDir('pds-pol-');
    cleanups.push(t.cleanup);
    for (const f of fs.readdirSync(REPO_POLICIES)) fs.copyFileSync(path.join(REPO_POLICIES, f), path.join(t.dir, f));
    fs.writeFileSync(path.join(t.dir, file), edit(fs.readFileSync(path.join(t.dir, file), 'utf8')));
    return t.dir;
  }

  it("loads the repository's policies and hashes them", () => {
    const p = loadPolicies(REPO_POLICIES);
    expect(p.catalog.datasets.population?.privacyUnit).toBe('id_number');
    expect(p.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(loadPolicies(REPO_POLICIES).hash).toBe(p.hash);
  });

  it('names the file, dataset, column and field of a schema error', () => {
    const dir = withEdit('catalog.yaml', (t) =>
      t.replace(
        'gender:      { type: VARCHAR, title: 性别, classification: general-L2',
        'gender:      { type: VARCHAR, title: 性别, classification: secret',
      ),
    );
    expect(() => loadPolicies(dir)).toThrowError(
      /catalog\.yaml: datasets\.population\.columns\.gender\.classification: must be one of/,
    );
  });

  it('refuses a privacy unit that is not a column', () => {
    const dir = withEdit('catalog.yaml', (t) => t.replace('privacyUnit: id_number', 'privacyUnit: nobody'));
    expect(() => loadPolicies(dir)).toThrowError(/datasets\.population\.privacyUnit/);
  });

  it('refuses a masking policy that would keep a direct identifier raw', () => {
    const dir = withEdit('masking.yaml', (t) =>
      t.replace(
        'direct:    { default: drop, allowed: [drop, pseudonymize,',
        'direct:    { default: drop, allowed: [drop, keep, pseudonymize,',
      ),
    );
    expect(() => loadPolicies(dir)).toThrowError(/byRole\.direct\.allowed/);
    const l4 = withEdit('masking.yaml', (t) => t.replace('general-L4:   [drop,', 'general-L4:   [keep, drop,'));
    expect(() => loadPolicies(l4)).toThrowError(/byLevel\.general-L4: general-L4 data may never be kept raw/);
  });

  it('names a malformed rule with its place', () => {
    const dir = withEdit('masking.yaml', (t) =>
      t.replace(
        'medical_visit.icd10:      { default: "rare-to-other:10"',
        'medical_visit.icd10:      { default: "rare-to-other:ten"',
      ),
    );
    expect(() => loadPolicies(dir)).toThrowError(
      /masking\.yaml: columns\.medical_visit\.icd10\.default: k must be a positive integer/,
    );
  });

  it('a policy change changes the hash that contracts pin', () => {
    const dir = withEdit('disclosure.yaml', (t) =>
      t.replace('minUnits: { default: 10, floor: 5 }', 'minUnits: { default: 11, floor: 5 }'),
    );
    expect(loadPolicies(dir).hash).not.toBe(loadPolicies(REPO_POLICIES).hash);
  });

  it("refuses a function listed twice in the SQL allowlist, and a process memory below DuckDB's", () => {
    const twice = withEdit('sql-allowlist.yaml', (t) =>
      t.replace('individualValue:\n  [list,', 'individualValue:\n  [sum, list,'),
    );
    expect(() => loadPolicies(twice)).toThrowError(/sql-allowlist\.yaml: individualValue: sum is also in aggregates/);
    const small = withEdit('sandbox.yaml', (t) => t.replace('memory: 3GB', 'memory: 512MB'));
    expect(() => loadPolicies(small)).toThrowError(/sandbox\.yaml: process\.memory must be above limits\.memoryLimit/);
  });

  it('allowlists only functions that exist in the pinned DuckDB, each of the kind it is listed as', async () => {
    const { sqlAllowlist: a } = loadPolicies(REPO_POLICIES);
    const instance = await openInstance(':memory:');
    const rows = await withConnection(instance, (c) =>
      queryRows<{ name: string; kind: string }>(
        c,
        'SELECT DISTINCT function_name AS name, function_type AS kind FROM duckdb_functions()',
      ),
    );
    instance.closeSync();
    const kinds = new Map<string, Set<string>>();
    for (const r of rows) kinds.set(r.name, (kinds.get(r.name) ?? new Set()).add(r.kind));
    const missing = (names: string[], ...kind: string[]) =>
      names.filter((n) => !kind.some((k) => kinds.get(n)?.has(k)));
    expect(missing([...a.aggregates, ...a.individualValue], 'aggregate')).toEqual([]);
    // if, extract, try_cast and coalesce are special forms of the parser, not catalog functions
    expect(
      missing(
        a.scalars.filter((n) => !['if', 'extract', 'try_cast', 'coalesce'].includes(n)),
        'scalar',
        'macro',
      ),
    ).toEqual([]);
    // DuckDB catalogues window functions as aggregates
    expect(missing(a.windows, 'aggregate')).toEqual([]);
  });
});
