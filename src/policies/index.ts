import fs from 'node:fs';
import path from 'node:path';
import { canonicalSha256 } from '../digest/index.ts';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { PdsError } from '../errors/index.ts';
import { parseRule, permits, RuleSyntaxError } from './masking-rule.ts';
import { checkTemplates } from './templates.ts';
import {
  Catalog,
  DisclosurePolicy,
  MaskingPolicy,
  RegisterPolicy,
  SandboxPolicy,
  SqlAllowlist,
  TemplatesPolicy,
  WorkflowPolicy,
  RetentionPolicy,
  type Catalog as CatalogT,
  type DisclosurePolicy as DisclosureT,
  type MaskingPolicy as MaskingT,
  type RegisterPolicy as RegisterT,
  type SandboxPolicy as SandboxT,
  type SqlAllowlist as SqlAllowlistT,
  type TemplatesPolicy as TemplatesT,
  type WorkflowPolicy as WorkflowT,
  type RetentionPolicy as RetentionT,
} from './schemas.ts';

export * from './schemas.ts';
export * from './masking-rule.ts';
export { PLACEHOLDER } from './templates.ts';
export { categorize, type RefusalCategory } from './refusals.ts';

/** Every policy the domain runs under, validated, with the hash that contracts pin (docs/architecture.md §7). */
export interface Policies {
  catalog: CatalogT;
  masking: MaskingT;
  disclosure: DisclosureT;
  sandbox: SandboxT;
  sqlAllowlist: SqlAllowlistT;
  workflow: WorkflowT;
  /** What the public register publishes, and when (`register.yaml`, seed 003 第三十五条). */
  register: RegisterT;
  /** How long snapshots and outputs are kept once unused (`retention.yaml`). */
  retention: RetentionT;
  /**
   * The bureau's published query templates (`templates.yaml`; none when the file is absent). Not
   * contract terms: a template's run is an ordinary job under the contract's own terms, so
   * publishing one changes no contract and is left out of the hash.
   */
  templates: TemplatesT;
  /** SHA-256 of the canonical JSON of the policies contracts are bound by (all but the templates). */
  hash: string;
}

const UNITS: Record<string, number> = { KB: 1e3, MB: 1e6, GB: 1e9, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };

/** Bytes in a size written as DuckDB does (KB = 1000, KiB = 1024). */
export function sizeBytes(size: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB|KiB|MiB|GiB)$/.exec(size);
  if (!m) throw new PdsError('ERR_POLICY_INVALID', `${size} is not a size such as 512MB or 1GiB`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

function loadFile<T>(dir: string, name: string, schema: TSchema): T {
  const file = path.join(dir, name);
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PdsError('ERR_POLICY_INVALID', `${file}: ${(err as Error).message}`, { cause: err });
  }
  const errors = [...Value.Errors(schema, doc)];
  const first = errors[0];
  if (first) {
    // name the file and the exact place: dataset, column and field follow from the instance path
    const where = first.instancePath.split('/').filter(Boolean).join('.') || '(root)';
    const choices = errors
      .filter((e) => e.keyword === 'const' && e.instancePath === first.instancePath)
      .map((e) => JSON.stringify((e.params as { allowedValue?: unknown }).allowedValue));
    const message = choices.length > 1 ? `must be one of ${choices.join(', ')}` : first.message;
    throw new PdsError('ERR_POLICY_INVALID', `${file}: ${where}: ${message}`, { extra: { file, path: where } });
  }
  return doc as T;
}

/** Cross-file rules a schema cannot say. */
/** The catalog's own rules: each dataset's privacy unit and uniquePerUnit sets name its columns. */
function checkCatalog(dir: string, catalog: Policies['catalog']): void {
  for (const [name, ds] of Object.entries(catalog.datasets)) {
    if (!ds.columns[ds.privacyUnit]) {
      throw new PdsError(
        'ERR_POLICY_INVALID',
        `${path.join(dir, 'catalog.yaml')}: datasets.${name}.privacyUnit: column ${ds.privacyUnit} does not exist`,
      );
    }
    (ds.uniquePerUnit ?? []).forEach((set, i) => {
      const missing = set.find((c) => !ds.columns[c] || c === ds.privacyUnit);
      if (missing !== undefined)
        throw new PdsError(
          'ERR_POLICY_INVALID',
          `${path.join(dir, 'catalog.yaml')}: datasets.${name}.uniquePerUnit.${i}: ${missing} is not a column of ${name} other than its privacy unit`,
        );
    });
  }
}

type Checked = Omit<Policies, 'hash' | 'templates'>;

function checkConsistency(dir: string, p: Checked): void {
  checkCatalog(dir, p.catalog);
  checkMasking(dir, p);
  checkLimits(dir, p);
  checkAllowlist(dir, p);
  const disclosure = path.join(dir, 'disclosure.yaml');
  if (p.disclosure.dp.epsilonPerQuery.default > p.disclosure.dp.epsilonPerTerm.default) {
    throw new PdsError(
      'ERR_POLICY_INVALID',
      `${disclosure}: dp.epsilonPerQuery.default is above dp.epsilonPerTerm.default`,
    );
  }
}

/** masking.yaml: every rule parses, every default is allowed, nothing raw at the top levels or for direct identifiers. */
function checkMasking(dir: string, p: Checked): void {
  const masking = path.join(dir, 'masking.yaml');
  const parse = (where: string, text: string) => {
    try {
      return parseRule(text);
    } catch (err) {
      if (err instanceof RuleSyntaxError)
        throw new PdsError('ERR_POLICY_INVALID', `${masking}: ${where}: ${err.message}`);
      throw err;
    }
  };
  for (const [level, entries] of Object.entries(p.masking.byLevel)) {
    entries.forEach((e, i) => {
      if (!/^[a-z-]+(:[a-z-]+)?(:[0-9.]+)?$/.test(e))
        throw new PdsError(
          'ERR_POLICY_INVALID',
          `${masking}: byLevel.${level}.${i}: ${JSON.stringify(e)} is not a rule, rule family or kind`,
        );
    });
    // a raw value of the top levels never leaves: seed 000 第十九条, seed 003 第十八条
    if ((level === 'core' || level === 'important' || level === 'general-L4') && entries.includes('keep')) {
      throw new PdsError('ERR_POLICY_INVALID', `${masking}: byLevel.${level}: ${level} data may never be kept raw`);
    }
  }
  const sets = {
    ...Object.fromEntries(Object.entries(p.masking.byRole).map(([k, v]) => [`byRole.${k}`, v])),
    ...Object.fromEntries(Object.entries(p.masking.columns ?? {}).map(([k, v]) => [`columns.${k}`, v])),
  };
  for (const [key, rules] of Object.entries(sets)) {
    const def = parse(`${key}.default`, rules.default);
    rules.allowed.forEach((a, i) => {
      if (a.split(':').length > 1 && !/:[a-z-]+$/.test(a)) parse(`${key}.allowed.${i}`, a);
    });
    if (!rules.allowed.some((a) => permits(a, def))) {
      throw new PdsError(
        'ERR_POLICY_INVALID',
        `${masking}: ${key}.default: ${rules.default} is not among its allowed rules`,
      );
    }
    if (key.startsWith('columns.')) {
      const [ds, col] = key.slice('columns.'.length).split('.') as [string, string];
      const column = p.catalog.datasets[ds]?.columns[col];
      if (!column) throw new PdsError('ERR_POLICY_INVALID', `${masking}: ${key}: no such column in the catalog`);
      if (!p.masking.byLevel[column.classification].some((a) => permits(a, def))) {
        throw new PdsError(
          'ERR_POLICY_INVALID',
          `${masking}: ${key}.default: ${rules.default} is not permitted for level ${column.classification}`,
        );
      }
    }
  }
  if (p.masking.byRole.direct.allowed.includes('keep')) {
    throw new PdsError(
      'ERR_POLICY_INVALID',
      `${masking}: byRole.direct.allowed: a direct identifier may never be kept raw`,
    );
  }
}

/** disclosure.yaml's defaults within their floors and ceilings; sandbox.yaml's OS limits above DuckDB's. */
function checkLimits(dir: string, p: Checked): void {
  const disclosure = path.join(dir, 'disclosure.yaml');
  if (p.disclosure.minUnits.default < p.disclosure.minUnits.floor) {
    throw new PdsError('ERR_POLICY_INVALID', `${disclosure}: minUnits.default is below its floor`);
  }
  for (const key of ['maxRows'] as const) {
    if (p.disclosure[key].default > p.disclosure[key].ceiling)
      throw new PdsError('ERR_POLICY_INVALID', `${disclosure}: ${key}.default is above its ceiling`);
  }
  for (const key of ['epsilonPerTerm', 'epsilonPerQuery'] as const) {
    if (p.disclosure.dp[key].default > p.disclosure.dp[key].ceiling)
      throw new PdsError('ERR_POLICY_INVALID', `${disclosure}: dp.${key}.default is above its ceiling`);
  }
  const sandbox = path.join(dir, 'sandbox.yaml');
  const { limits, process: proc } = p.sandbox;
  if (sizeBytes(proc.memory) <= sizeBytes(limits.memoryLimit)) {
    throw new PdsError(
      'ERR_POLICY_INVALID',
      `${sandbox}: process.memory must be above limits.memoryLimit (the OS limit backs DuckDB's own)`,
    );
  }
  if (sizeBytes(proc.fileSize) < limits.maxResultBytes) {
    throw new PdsError('ERR_POLICY_INVALID', `${sandbox}: process.fileSize must be at least limits.maxResultBytes`);
  }
}

/** sql-allowlist.yaml: a function in one list only; an identifier aggregate is an aggregate. */
function checkAllowlist(dir: string, p: Checked): void {
  const allow = p.sqlAllowlist;
  const lists = {
    aggregates: allow.aggregates,
    individualValue: allow.individualValue,
    windows: allow.windows,
    scalars: allow.scalars,
  };
  const seen = new Map<string, string>();
  for (const [list, names] of Object.entries(lists)) {
    for (const n of names) {
      const other = seen.get(n);
      if (other)
        throw new PdsError(
          'ERR_POLICY_INVALID',
          `${path.join(dir, 'sql-allowlist.yaml')}: ${list}: ${n} is also in ${other}`,
        );
      seen.set(n, list);
    }
  }
  for (const n of allow.identifierAggregates) {
    if (!allow.aggregates.includes(n))
      throw new PdsError(
        'ERR_POLICY_INVALID',
        `${path.join(dir, 'sql-allowlist.yaml')}: identifierAggregates: ${n} is not in aggregates`,
      );
  }
}

/** Loads and validates `catalog.yaml`, `masking.yaml`, `disclosure.yaml`, `sandbox.yaml`, `sql-allowlist.yaml`, `workflow.yaml`, `register.yaml`, `retention.yaml` and `templates.yaml`. */
export function loadPolicies(dir: string): Policies {
  const p = {
    catalog: loadFile<CatalogT>(dir, 'catalog.yaml', Catalog),
    masking: loadFile<MaskingT>(dir, 'masking.yaml', MaskingPolicy),
    disclosure: loadFile<DisclosureT>(dir, 'disclosure.yaml', DisclosurePolicy),
    sandbox: loadFile<SandboxT>(dir, 'sandbox.yaml', SandboxPolicy),
    sqlAllowlist: loadFile<SqlAllowlistT>(dir, 'sql-allowlist.yaml', SqlAllowlist),
    workflow: loadFile<WorkflowT>(dir, 'workflow.yaml', WorkflowPolicy),
    register: loadFile<RegisterT>(dir, 'register.yaml', RegisterPolicy),
    retention: loadFile<RetentionT>(dir, 'retention.yaml', RetentionPolicy),
  };
  checkConsistency(dir, p);
  const hash = canonicalSha256(p);
  const file = path.join(dir, 'templates.yaml');
  const templates = fs.existsSync(file)
    ? loadFile<TemplatesT>(dir, 'templates.yaml', TemplatesPolicy)
    : { version: 1, templates: {} };
  checkTemplates(file, templates, p.catalog);
  return { ...p, templates, hash };
}
