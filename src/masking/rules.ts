import { PdsError, type FieldIssue } from '../errors/index.ts';
import type { Catalog, MaskingPolicy, MaskingRuleName, RuleSet } from '../policies/index.ts';

/** One granted column and the rule that masks it in the snapshot. */
export interface ColumnGrant {
  column: string;
  rule: MaskingRuleName;
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

export function ruleSetFor(policy: MaskingPolicy, catalog: Catalog, dataset: string, column: string): RuleSet {
  const override = policy.columns?.[`${dataset}.${column}`];
  if (override) return override;
  const role = catalog.datasets[dataset]!.columns[column]!.role;
  return policy.byRole[role];
}

/**
 * Resolves an application's requests into grants, refusing what the policy forbids. Every problem
 * is collected so that one answer names every offending field.
 */
export function resolveGrants(catalog: Catalog, policy: MaskingPolicy, requests: DatasetRequest[]): DatasetGrant[] {
  const issues: FieldIssue[] = [];
  const grants: DatasetGrant[] = [];
  const seen = new Set<string>();
  requests.forEach((req, i) => {
    const field = `/datasets/${i}`;
    const ds = catalog.datasets[req.dataset];
    if (!ds) { issues.push({ field: `${field}/dataset`, message: `unknown dataset ${JSON.stringify(req.dataset)}` }); return; }
    if (seen.has(req.dataset)) { issues.push({ field: `${field}/dataset`, message: `dataset ${req.dataset} is requested twice` }); return; }
    seen.add(req.dataset);
    if (ds.attributes.operation === 'none') {
      issues.push({ field: `${field}/dataset`, message: `dataset ${req.dataset} is not open to authorized operation (operation attribute: none)` });
      return;
    }
    const columns: ColumnGrant[] = [];
    for (const [j, column] of req.columns.entries()) {
      const where = `${field}/columns/${j}`;
      const col = ds.columns[column];
      if (!col) { issues.push({ field: where, message: `unknown column ${req.dataset}.${column}` }); continue; }
      // seed 002 第十二条: the negative list is never granted, whatever an application asks
      if (col.negativeList) { issues.push({ field: where, message: `${req.dataset}.${column} is on the negative list and is never granted` }); continue; }
      const rules = ruleSetFor(policy, catalog, req.dataset, column);
      const asked = req.masking?.[column];
      if (asked !== undefined && !rules.allowed.includes(asked as MaskingRuleName)) {
        issues.push({ field: `${field}/masking/${column}`, message: `rule ${JSON.stringify(asked)} is not allowed for ${req.dataset}.${column} (${col.role}, ${col.classification}); allowed: ${rules.allowed.join(', ')}` });
        continue;
      }
      const rule = (asked ?? rules.default) as MaskingRuleName;
      if (rule === 'drop') {
        const usable = rules.allowed.filter((r) => r !== 'drop');
        issues.push({ field: where, message: `${req.dataset}.${column} is a ${col.role} identifier and may only be granted masked` + (usable.length ? `; ask for one of: ${usable.join(', ')}` : '; no masked form is allowed') });
        continue;
      }
      if (columns.some((c) => c.column === column)) { issues.push({ field: where, message: `column ${column} is requested twice` }); continue; }
      columns.push({ column, rule });
    }
    for (const column of Object.keys(req.masking ?? {})) {
      if (!req.columns.includes(column)) issues.push({ field: `${field}/masking/${column}`, message: `masking names ${column}, which is not among the requested columns` });
    }
    grants.push({ dataset: req.dataset, provider: ds.provider, providerName: ds.providerName, privacyUnit: ds.privacyUnit, columns });
  });
  if (issues.length > 0) {
    throw new PdsError('ERR_COLUMN_NOT_GRANTABLE', issues.map((x) => `${x.field}: ${x.message}`).join('; '), { errors: issues });
  }
  return grants;
}
