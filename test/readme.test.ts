import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../src/config/index.ts';

/**
 * The README names datasets, columns and providers as the catalog has them (issue 33: it once
 * said 市公用事业, `enterprises` and `medical_visits`). What a reader copies from its code — a
 * `dataset:` in a body, a table in FROM or JOIN, `dataset.column`, a /v1/datasets/{id} path — must
 * exist in policies/catalog.yaml; a name a letter or two from a dataset's is a misspelling; a
 * provider's Chinese name, and each "`org-…` (name: dataset)" pairing, must be the catalog's.
 * `readmeProblems` is exported for the regression test below, which feeds it the old text.
 */

interface Catalog {
  datasets: Record<string, { provider: string; providerName: string; columns: Record<string, unknown> }>;
}

const catalog = YAML.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'policies', 'catalog.yaml'), 'utf8')) as Catalog;
/** Organisations that are not providers: the bureau, and the demo's operator. */
const NOT_PROVIDERS = new Set(['org-bureau', 'org-shuzhi']);
/** Columns every snapshot table has besides the catalog's (the pseudonymous privacy unit). */
const SNAPSHOT_COLUMNS = ['pds_unit'];

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** What in `text` (a README) names a dataset, column or provider the catalog does not have. */
export function readmeProblems(text: string, cat: Catalog = catalog): string[] {
  const datasets = new Set(Object.keys(cat.datasets));
  const columns = new Set(Object.values(cat.datasets).flatMap((d) => Object.keys(d.columns)));
  const names = new Set(Object.values(cat.datasets).map((d) => d.providerName));
  const problems: string[] = [];
  const blocks = [...text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const prose = text.replace(/```[^\n]*\n[\s\S]*?```/g, '');
  const spans = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  for (const code of [...blocks, ...spans]) {
    // tables a query defines for itself (WITH x AS, , y AS) are not the catalog's
    const own = new Set([...code.matchAll(/\b([a-z_][a-z0-9_]*)\s+AS\s*\(/gi)].map((m) => m[1]!.toLowerCase()));
    const refs = [
      ...[...code.matchAll(/["']?\bdataset["']?\s*[:=]\s*["']?([a-z_][a-z0-9_]*)/g)].map((m) => m[1]!),
      ...[...code.matchAll(/\/v1\/datasets\/([a-z_][a-z0-9_]*)\//g)].map((m) => m[1]!),
      ...[...code.matchAll(/\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)\b(?!\s*\()/g)].map((m) => m[1]!),
    ];
    for (const ref of refs)
      if (!datasets.has(ref) && !own.has(ref)) problems.push(`dataset ${ref} (in \`${code.slice(0, 60)}\`)`);
    for (const [, ds, col] of code.matchAll(/\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b/g))
      if (datasets.has(ds!) && !(col! in cat.datasets[ds!]!.columns) && !SNAPSHOT_COLUMNS.includes(col!))
        problems.push(`column ${ds}.${col}`);
  }
  // a name in backticks a letter or two from a dataset's, and not a name of its own: a misspelling
  for (const span of spans)
    for (const word of span.match(/\b[a-z][a-z0-9_]{4,}\b/g) ?? [])
      if (!datasets.has(word) && !columns.has(word))
        for (const ds of datasets) if (distance(word, ds) <= 2) problems.push(`dataset ${word} (did you mean ${ds}?)`);
  for (const [name] of text.matchAll(/市[\p{Script=Han}]{1,20}?(?:局|委员会|公司|中心)(?:（[^）]*）)?/gu))
    if (!names.has(name) && !/数据局$/.test(name)) problems.push(`provider ${name}`);
  for (const m of text.matchAll(/市公用事业[\p{Script=Han}]*/gu)) problems.push(`provider ${m[0]}`);
  // "`org-x` (市…: dataset)": the id, its name and its datasets as the catalog pairs them
  for (const [, org, name, list] of text.matchAll(/`(org-[a-z]+)`\s*\(([^:）)]+(?:（[^）]*）)?):\s*([a-z_, ]+)\)/g)) {
    const its = Object.entries(cat.datasets).filter(([, d]) => d.provider === org);
    if (!its.length) problems.push(`provider ${org}`);
    else if (its[0]![1].providerName !== name!.trim()) problems.push(`provider ${org} is ${its[0]![1].providerName}`);
    for (const ds of list!.split(/[ ,]+/).filter(Boolean))
      if (!its.some(([k]) => k === ds)) problems.push(`dataset ${ds} is not ${org}'s`);
  }
  for (const [org] of text.matchAll(/\borg-[a-z]+\b/g))
    if (!NOT_PROVIDERS.has(org) && !Object.values(cat.datasets).some((d) => d.provider === org))
      problems.push(`provider ${org}`);
  return [...new Set(problems)];
}

describe('the README names what the catalog has', () => {
  const readme = fs.readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');

  it('every dataset, column and provider it names is in policies/catalog.yaml', () => {
    expect(readmeProblems(readme)).toEqual([]);
  });

  it('finds the names the README had wrong (issue 33)', () => {
    const old = [
      'The providers are `org-utilities` (市公用事业: utility_usage) and `org-amr` (市市场监督管理局: enterprises).',
      '```sql\nSELECT hospital, count(*) FROM medical_visits GROUP BY hospital\n```',
      'A table of facts such as `medical_visits`, or `population.incomes`.',
    ].join('\n');
    expect(readmeProblems(old)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('provider org-utilities is 市城市管理局（水电气）'),
        expect.stringContaining('provider 市公用事业'),
        "dataset enterprises is not org-amr's",
        expect.stringContaining('dataset medical_visits'),
        'column population.incomes',
      ]),
    );
  });
});
