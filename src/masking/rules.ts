import { PdsError, type FieldIssue } from '../errors/index.ts';
import {
  incompatibility,
  parseRule,
  permits,
  ruleText,
  RuleSyntaxError,
  type Catalog,
  type MaskingPolicy,
  type MaskingRule,
} from '../policies/index.ts';

/** One granted column and the rule (canonical text) that masks it in the snapshot. */
export interface ColumnGrant {
  column: string;
  rule: string;
}

/** One granted dataset, as the contract states it and the snapshot builder applies it. */
export interface DatasetGrant {
  dataset: string;
  provider: string;
  providerName: string;
  /** Raw column whose pseudonym becomes the snapshot's `pds_unit`. */
  privacyUnit: string;
  columns: ColumnGrant[];
}

/** What an application asks for one dataset. */
export interface DatasetRequest {
  dataset: string;
  columns: string[];
  masking?: Record<string, string>;
}

/** The snapshot column holding the pseudonymized privacy unit, for disclosure control. */
export const PRIVACY_UNIT_COLUMN = 'pds_unit';

/** What the policy lets one column become: its default rule and the rules an application may choose. */
export interface EffectiveRules {
  default: string;
  /** Role (or column override) entries that the column's level also permits. */
  allowed: string[];
}

/**
 * A rule must be permitted by the column's classification level and by its role (or its column
 * override). The default falls back to `drop` when the level does not permit the role's default.
 */
export function effectiveRules(
  policy: MaskingPolicy,
  catalog: Catalog,
  dataset: string,
  column: string,
): EffectiveRules {
  const col = catalog.datasets[dataset]!.columns[column]!;
  const set = policy.columns?.[`${dataset}.${column}`] ?? policy.byRole[col.role];
  const level = policy.byLevel[col.classification];
  const levelPermits = (rule: MaskingRule) => level.some((e) => permits(e, rule));
  // an entry stays when some rule is permitted by both it and the level (kind ⊇ family ⊇ exact rule)
  const entryPermitted = (entry: string) =>
    level.some((l) => entry === l || entry.startsWith(`${l}:`) || l.startsWith(`${entry}:`));
  const def = parseRule(set.default);
  return {
    default: levelPermits(def) ? ruleText(def) : 'drop',
    allowed: set.allowed.filter(entryPermitted),
  };
}

/** Checks one asked rule for one column; returns why not, or the parsed rule. */
function checkRule(
  policy: MaskingPolicy,
  catalog: Catalog,
  dataset: string,
  column: string,
  asked: string,
): MaskingRule | string {
  const col = catalog.datasets[dataset]!.columns[column]!;
  let rule: MaskingRule;
  try {
    rule = parseRule(asked);
  } catch (err) {
    if (err instanceof RuleSyntaxError) return err.message;
    throw err;
  }
  const set = policy.columns?.[`${dataset}.${column}`] ?? policy.byRole[col.role];
  if (!set.allowed.some((e) => permits(e, rule))) {
    return `rule ${asked} is not allowed for ${dataset}.${column} (${col.role} identifier); allowed: ${effectiveRules(policy, catalog, dataset, column).allowed.join(', ')}`;
  }
  if (!policy.byLevel[col.classification].some((e) => permits(e, rule))) {
    return `rule ${asked} is not permitted for ${dataset}.${column} at level ${col.classification}; allowed: ${effectiveRules(policy, catalog, dataset, column).allowed.join(', ')}`;
  }
  return incompatibility(rule, col.type) ?? rule;
}

/** One requested column's grant under its rule, or why it cannot be granted. */
function grantColumn(
  catalog: Catalog,
  policy: MaskingPolicy,
  at: { req: DatasetRequest; field: string; mode: 'aggregate' | 'dp' | 'custom' | undefined },
  column: string,
  j: number,
  granted: readonly ColumnGrant[],
): ColumnGrant | FieldIssue {
  const { req, field, mode } = at;
  const ds = catalog.datasets[req.dataset]!;
  const where = `${field}/columns/${j}`;
  const col = ds.columns[column];
  if (!col) {
    return { field: where, message: `unknown column ${req.dataset}.${column}` };
  }
  // seed 002 第十二条: the negative list is never granted, whatever an application asks
  if (col.negativeList) {
    return { field: where, message: `${req.dataset}.${column} is on the negative list and is never granted` };
  }
  // a dp-only measure is never in a snapshot another mode could query (docs/architecture.md §12)
  if (col.dpOnly && mode !== undefined && mode !== 'dp') {
    return {
      field: where,
      message: `${req.dataset}.${column} may be analysed only in dp mode, under an ε budget; apply in dp mode`,
    };
  }
  if (granted.some((c) => c.column === column)) {
    return { field: where, message: `column ${column} is requested twice` };
  }
  const asked = req.masking?.[column];
  const rules = effectiveRules(policy, catalog, req.dataset, column);
  const checked = checkRule(policy, catalog, req.dataset, column, asked ?? rules.default);
  if (typeof checked === 'string') {
    return { field: asked !== undefined ? `${field}/masking/${column}` : where, message: checked };
  }
  if (checked.kind === 'drop') {
    const usable = rules.allowed.filter((r) => r !== 'drop');
    return {
      field: where,
      message:
        `${req.dataset}.${column} (${col.role}, ${col.classification}) may only be granted masked` +
        (usable.length ? `; ask for one of: ${usable.join(', ')}` : '; no masked form is allowed'),
    };
  }
  return { column, rule: ruleText(checked) };
}

/**
 * Resolves an application's requests into grants, refusing what the policy forbids. Every problem
 * is collected so that one answer names every offending field.
 */
export function resolveGrants(
  catalog: Catalog,
  policy: MaskingPolicy,
  requests: DatasetRequest[],
  mode?: 'aggregate' | 'dp' | 'custom',
): DatasetGrant[] {
  const issues: FieldIssue[] = [];
  const grants: DatasetGrant[] = [];
  const seen = new Set<string>();
  requests.forEach((req, i) => {
    const field = `/body/datasets/${i}`;
    const ds = catalog.datasets[req.dataset];
    if (!ds) {
      issues.push({ field: `${field}/dataset`, message: `unknown dataset ${JSON.stringify(req.dataset)}` });
      return;
    }
    if (seen.has(req.dataset)) {
      issues.push({ field: `${field}/dataset`, message: `dataset ${req.dataset} is requested twice` });
      return;
    }
    seen.add(req.dataset);
    // seed 000 第七条: the catalog's operation attribute says whether a dataset may be operated at all
    if (ds.attributes.operation === 'none') {
      issues.push({
        field: `${field}/dataset`,
        message: `dataset ${req.dataset} is not open to authorized operation (operation attribute: none)`,
      });
      return;
    }
    // sensitive facts about people (a health event per row) are answered only under ε: a count of
    // such rows among people an operator chooses is a membership test (docs/architecture.md §13)
    if (ds.sensitiveFacts && mode !== undefined && mode !== 'dp') {
      issues.push({
        field: `${field}/dataset`,
        message: `dataset ${req.dataset} (${ds.title}) holds sensitive facts about people and is granted only to dp contracts, analysed under an ε budget; apply in dp mode ("mode": "dp") for it, or leave it out of this ${mode} application`,
      });
      return;
    }
    const columns: ColumnGrant[] = [];
    for (const [j, column] of req.columns.entries()) {
      const granted = grantColumn(catalog, policy, { req, field, mode }, column, j, columns);
      if ('rule' in granted) columns.push(granted);
      else issues.push(granted);
    }
    for (const column of Object.keys(req.masking ?? {})) {
      if (!req.columns.includes(column))
        issues.push({
          field: `${field}/masking/${column}`,
          message: `masking names ${column}, which is not among the requested columns`,
        });
    }
    grants.push({
      dataset: req.dataset,
      provider: ds.provider,
      providerName: ds.providerName,
      privacyUnit: ds.privacyUnit,
      columns,
    });
  });
  if (issues.length > 0) {
    throw new PdsError('ERR_COLUMN_NOT_GRANTABLE', issues.map((x) => `${x.field}: ${x.message}`).join('; '), {
      errors: issues,
    });
  }
  return grants;
}
