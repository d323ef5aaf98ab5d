import { PdsError } from '../errors/index.ts';
import type { Catalog, TemplatesPolicy } from './schemas.ts';

/** `$name` placeholders of a template's SQL, in order of appearance (repeats kept). */
export const PLACEHOLDER = /\$([a-z][a-z0-9_]*)/g;

/**
 * What `templates.yaml`'s schema cannot say: every column a template needs is in the catalog and
 * grantable, every `$name` is a declared parameter and every parameter is used, no other `$` (so
 * binding can only ever replace placeholders), code lists exist, bounds and defaults are in order.
 */
export function checkTemplates(file: string, policy: TemplatesPolicy, catalog: Catalog): void {
  const fail = (where: string, message: string): never => {
    throw new PdsError('ERR_POLICY_INVALID', `${file}: templates.${where}: ${message}`);
  };
  for (const [id, t] of Object.entries(policy.templates)) {
    for (const [ds, columns] of Object.entries(t.needs)) {
      const dataset = catalog.datasets[ds] ?? fail(`${id}.needs.${ds}`, 'no such dataset in the catalog');
      for (const c of columns) {
        const column = dataset.columns[c] ?? fail(`${id}.needs.${ds}`, `${c} is not a column of ${ds}`);
        if (column.negativeList) fail(`${id}.needs.${ds}`, `${c} is on the negative list`);
      }
    }
    const used = new Set([...t.sql.matchAll(PLACEHOLDER)].map((m) => m[1]!));
    if (t.sql.replace(PLACEHOLDER, '').includes('$')) fail(`${id}.sql`, 'a $ that is not a $name placeholder');
    for (const name of used) if (!t.parameters[name]) fail(`${id}.sql`, `$${name} is not a declared parameter`);
    for (const [name, p] of Object.entries(t.parameters)) {
      const where = `${id}.parameters.${name}`;
      if (!used.has(name)) fail(where, `declared but the SQL never uses $${name}`);
      if (p.type === 'code') {
        const [ds, col] = p.codes.split('.') as [string, string];
        const codes = catalog.datasets[ds]?.columns[col]?.codes;
        if (!codes) fail(`${where}.codes`, `${p.codes} has no code list in the catalog`);
        if (p.default !== undefined && !codes!.includes(p.default)) fail(`${where}.default`, 'not in the code list');
      } else {
        const lo = p.min ?? p.default;
        const hi = p.max ?? p.default;
        if (lo !== undefined && hi !== undefined && lo > hi) fail(where, 'min is above max');
        if (
          p.default !== undefined &&
          ((p.min !== undefined && p.default < p.min) || (p.max !== undefined && p.default > p.max))
        )
          fail(`${where}.default`, 'outside min…max');
      }
    }
    if (t.dp) {
      if (!t.modes.includes('dp')) fail(`${id}.dp`, 'dp bounds on a template that does not run in dp mode');
      for (const [col, [low, high]] of Object.entries(t.dp.bounds))
        if (low! > high!) fail(`${id}.dp.bounds.${col}`, 'low is above high');
    }
  }
}
