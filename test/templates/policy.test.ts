import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { isPdsError } from '../../src/errors/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { bindTemplate } from '../../src/templates/index.ts';
import { tmpDataDir } from '../helpers.ts';

const REPO_POLICIES = path.join(PACKAGE_ROOT, 'policies');

describe('templates.yaml: schema and the checks against the catalog', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });

  /** A copy of the repository's policies with templates.yaml changed (or removed). */
  function withTemplates(edit: ((text: string) => string) | null): string {
    const t = tmpDataDir('pds-tpl-');
    cleanups.push(t.cleanup);
    for (const f of fs.readdirSync(REPO_POLICIES)) fs.copyFileSync(path.join(REPO_POLICIES, f), path.join(t.dir, f));
    const file = path.join(t.dir, 'templates.yaml');
    if (edit) fs.writeFileSync(file, edit(fs.readFileSync(file, 'utf8')));
    else fs.rmSync(file);
    return t.dir;
  }

  it('loads the published templates; they are not part of the hash contracts pin', () => {
    const p = loadPolicies(REPO_POLICIES);
    expect(Object.keys(p.templates.templates)).toContain('education-in-district');
    const none = loadPolicies(withTemplates(null));
    expect(none.templates.templates).toEqual({});
    expect(none.hash).toBe(p.hash);
  });

  it.each([
    [
      'an undeclared $parameter',
      (t: string) => t.replace('WHERE district = $district', 'WHERE district = $area'),
      /\$area is not a declared parameter/,
    ],
    [
      'a declared parameter the SQL never uses',
      (t: string) => t.replace('WHERE district = $district', "WHERE district = '云岩区'"),
      /parameters\.district: declared but the SQL never uses/,
    ],
    [
      'a $ that is no placeholder',
      (t: string) =>
        t.replace(
          'count(*) AS people FROM population GROUP BY district ORDER',
          "count(*) AS people FROM population WHERE district <> '$1' GROUP BY district ORDER",
        ),
      /people-by-district\.sql: a \$ that is not/,
    ],
    [
      'a code list the catalog lacks',
      (t: string) => t.replace('codes: population.district', 'codes: population.income'),
      /population\.income has no code list/,
    ],
    [
      'a column the catalog lacks',
      (t: string) => t.replace('needs: { population: [district] }', 'needs: { population: [district, wealth] }'),
      /wealth is not a column of population/,
    ],
    [
      'a negative-list column',
      (t: string) => t.replace('needs: { population: [district] }', 'needs: { population: [district, religion] }'),
      /religion is on the negative list/,
    ],
    ['bounds out of order', (t: string) => t.replace('min: 0, max: 10000000', 'min: 10, max: 5'), /min is above max/],
    [
      'a default outside the code list',
      (t: string) => t.replace('default: 云岩区', 'default: 火星区'),
      /default: not in the code list/,
    ],
    [
      'an unknown parameter type (schema)',
      (t: string) => t.replace('type: month, label: 起始月份', 'type: date, label: 起始月份'),
      /templates\.yaml: templates\.insured-by-month\.parameters\.from_month/,
    ],
  ])('refuses %s, naming the place', (_, edit, message) => {
    expect(() => loadPolicies(withTemplates(edit))).toThrowError(message);
  });
});

describe('binding parameters', () => {
  const { templates, catalog } = loadPolicies(REPO_POLICIES);
  const t = templates.templates;
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return isPdsError(err) ? [err.code, err.errors?.[0]?.field] : ['not a PdsError'];
    }
    return ['bound'];
  };

  it('binds each type as a literal of its own', () => {
    expect(bindTemplate(t['education-in-district']!, { district: '南明区' }, catalog).sql).toContain(
      "WHERE district = '南明区' GROUP BY",
    );
    expect(bindTemplate(t['people-with-income-at-least']!, { min_income: '250000' }, catalog)).toMatchObject({
      sql: expect.stringContaining('income >= 250000 GROUP BY'),
      parameters: { min_income: 250000 },
    });
    expect(bindTemplate(t['insured-by-month']!, { from_month: '2025-10', to_month: '2025-12' }, catalog).sql).toContain(
      "BETWEEN '2025-10' AND '2025-12'",
    );
    // a default fills an empty field
    expect(bindTemplate(t['education-in-district']!, {}, catalog).parameters).toEqual({ district: '云岩区' });
  });

  it('refuses a value outside its type, naming the parameter', () => {
    const edu = t['education-in-district']!;
    const inc = t['people-with-income-at-least']!;
    const months = t['insured-by-month']!;
    const field = (n: string) => ['ERR_TEMPLATE_PARAMETER', `/body/parameters/${n}`];
    expect(code(() => bindTemplate(edu, { district: "云岩区' OR '1'='1" }, catalog))).toEqual(field('district'));
    expect(code(() => bindTemplate(edu, { district: '云岩区; DROP TABLE population' }, catalog))).toEqual(
      field('district'),
    );
    expect(code(() => bindTemplate(inc, { min_income: '1e5' }, catalog))).toEqual(field('min_income'));
    expect(code(() => bindTemplate(inc, { min_income: '0 OR 1=1' }, catalog))).toEqual(field('min_income'));
    expect(code(() => bindTemplate(inc, { min_income: -1 }, catalog))).toEqual(field('min_income'));
    expect(code(() => bindTemplate(months, { from_month: '2025-13', to_month: '2025-12' }, catalog))).toEqual(
      field('from_month'),
    );
    expect(code(() => bindTemplate(months, { from_month: '2025-10' }, catalog))).toEqual(field('to_month'));
    expect(code(() => bindTemplate(edu, { district: '云岩区', extra: 'x' }, catalog))).toEqual(field('extra'));
  });
});
