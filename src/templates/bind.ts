import { PdsError } from '../errors/index.ts';
import { PLACEHOLDER, type Catalog, type QueryTemplate, type TemplateParameter } from '../policies/index.ts';

/** A parameter's value as given (a form sends text, JSON may send a number). */
export type ParameterValue = string | number;

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const INTEGER = /^-?(0|[1-9][0-9]{0,15})$/;

/** The values a code parameter takes: its catalog column's public code list. */
export function codesOf(p: Extract<TemplateParameter, { type: 'code' }>, catalog: Catalog): string[] {
  const [ds, col] = p.codes.split('.') as [string, string];
  return catalog.datasets[ds]?.columns[col]?.codes ?? [];
}

function refuse(name: string, message: string): never {
  throw new PdsError('ERR_TEMPLATE_PARAMETER', `parameter ${name}: ${message}`, {
    errors: [{ field: `/body/parameters/${name}`, message }],
  });
}

/**
 * One parameter checked against its type and turned into a SQL literal. Only values the type
 * allows come through — a code of the list, digits, YYYY-MM — so the literal cannot carry SQL;
 * quotes are still doubled, so the literal is well formed whatever a code list holds.
 */
function literal(
  name: string,
  p: TemplateParameter,
  raw: ParameterValue,
  catalog: Catalog,
): { value: ParameterValue; sql: string } {
  const text = String(raw).trim();
  switch (p.type) {
    case 'code': {
      const codes = codesOf(p, catalog);
      if (!codes.includes(text)) refuse(name, `${JSON.stringify(text)} is not in the code list ${p.codes}`);
      return { value: text, sql: `'${text.replaceAll("'", "''")}'` };
    }
    case 'integer': {
      if (!INTEGER.test(text)) refuse(name, `${JSON.stringify(text)} is not a whole number`);
      const n = Number(text);
      if (n < p.min || n > p.max) refuse(name, `${n} is outside ${p.min}…${p.max}`);
      return { value: n, sql: String(n) };
    }
    case 'month': {
      if (!MONTH.test(text)) refuse(name, `${JSON.stringify(text)} is not a month (YYYY-MM)`);
      if ((p.min && text < p.min) || (p.max && text > p.max))
        refuse(name, `${text} is outside ${p.min ?? '…'}…${p.max ?? '…'}`);
      return { value: text, sql: `'${text}'` };
    }
  }
}

/**
 * Binds a template's parameters: each given one must be declared, each declared one given (or
 * defaulted), each value of its type; the SQL's `$name` placeholders — the only `$` the policy
 * check lets a template's SQL hold — are replaced by the checked literals.
 */
export function bindTemplate(
  t: QueryTemplate,
  given: Record<string, ParameterValue>,
  catalog: Catalog,
): { sql: string; parameters: Record<string, ParameterValue> } {
  for (const name of Object.keys(given))
    if (!Object.hasOwn(t.parameters, name)) refuse(name, 'the template has no such parameter');
  const parameters: Record<string, ParameterValue> = {};
  const literals: Record<string, string> = {};
  for (const [name, p] of Object.entries(t.parameters)) {
    const raw = Object.hasOwn(given, name) && String(given[name]).trim() !== '' ? given[name]! : p.default;
    if (raw === undefined) refuse(name, 'required');
    const { value, sql } = literal(name, p, raw, catalog);
    parameters[name] = value;
    literals[name] = sql;
  }
  return { sql: t.sql.replace(PLACEHOLDER, (_, name: string) => literals[name]!), parameters };
}
