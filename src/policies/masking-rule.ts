/**
 * Masking rules: what a column becomes in a contract's snapshot. Written as short strings in
 * policies and applications (`generalize:age-band:10`), parsed into a typed rule here.
 *
 *   keep | drop | pseudonymize                       as they say (pseudonyms: keyed HMAC-SHA256)
 *   generalize:year | quarter | month                dates → '1987' | '1987-Q3' | '1987-06'
 *   generalize:age-band:W                            date of birth (or an age) → '30-39' for W = 10
 *   generalize:age-band:W:T                          the same, ages from T up in one band 'T+' (T a multiple of W)
 *   generalize:district                              address → its district (区/县/县级市)
 *   generalize:range:W                               number → '[20000,30000)' for W = 10000
 *   partial                                          mobile 138****5678; ID number → division code; else first 3 and last 2 kept
 *   topcode:V | bottomcode:V                         numbers capped at V from above | below
 *   noise:F                                          number × (1 ± F·(½…1)), F ≥ 0.12, fixed per unit and column
 *   rare-to-other:K                                  categories with fewer than K privacy units → 其他
 */
export type MaskingRule =
  | { kind: 'keep' }
  | { kind: 'drop' }
  | { kind: 'pseudonymize' }
  | { kind: 'generalize'; to: 'year' | 'quarter' | 'month' | 'district' }
  | { kind: 'generalize'; to: 'age-band'; width: number; top?: number }
  | { kind: 'generalize'; to: 'range'; width: number }
  | { kind: 'partial' }
  | { kind: 'topcode' | 'bottomcode'; value: number }
  | { kind: 'noise'; fraction: number }
  | { kind: 'rare-to-other'; k: number };

export type RuleKind = MaskingRule['kind'];

const NUM = '-?(?:0|[1-9][0-9]{0,14})(?:\\.[0-9]{1,6})?';
const POS = '(?:0|[1-9][0-9]{0,14})(?:\\.[0-9]{1,6})?';
const INT = '[1-9][0-9]{0,5}';

/**
 * Every rule string the grammar above accepts, as one regular expression (the API's request schema
 * publishes it; parseRule still checks the values and names what is wrong).
 */
export const RULE_PATTERN =
  `^(?:keep|drop|pseudonymize|partial|generalize:(?:year|quarter|month|district|age-band:${INT}(?::${INT})?|range:${POS})` +
  `|topcode:${NUM}|bottomcode:${NUM}|noise:0?\\.[0-9]{1,6}|rare-to-other:${INT})$`;

export class RuleSyntaxError extends Error {}

function positive(text: string | undefined, what: string, integer: boolean): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new RuleSyntaxError(
      `${what} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(text ?? '')}`,
    );
  }
  return n;
}

/**
 * An age band, optionally top-coded: the oldest ages are few in any population, so statistical
 * offices publish '90+' rather than '100-109' (a class of one in every district).
 */
function ageBand(width: string | undefined, top: string | undefined): MaskingRule {
  const w = positive(width, 'the age band width', true);
  if (top === undefined) return { kind: 'generalize', to: 'age-band', width: w };
  const t = positive(top, 'the top age', true);
  if (t % w !== 0) throw new RuleSyntaxError(`the top age ${t} must be a multiple of the band width ${w}`);
  return { kind: 'generalize', to: 'age-band', width: w, top: t };
}

/** Parses a rule string; throws `RuleSyntaxError` naming what is wrong. */
export function parseRule(text: string): MaskingRule {
  const [kind, a, b, ...rest] = text.split(':');
  const extra = () => {
    if (rest.length) throw new RuleSyntaxError(`${text}: too many parts`);
  };
  switch (kind) {
    case 'keep':
    case 'drop':
    case 'pseudonymize':
    case 'partial':
      if (a !== undefined) throw new RuleSyntaxError(`${kind} takes no parameter`);
      return { kind };
    case 'generalize':
      if (a === 'age-band' && rest.length === 1) return ageBand(b, rest[0]!);
      extra();
      if (a === 'year' || a === 'quarter' || a === 'month' || a === 'district') {
        if (b !== undefined) throw new RuleSyntaxError(`generalize:${a} takes no width`);
        return { kind, to: a };
      }
      if (a === 'age-band') return ageBand(b, undefined);
      if (a === 'range') return { kind, to: a, width: positive(b, 'the range width', false) };
      throw new RuleSyntaxError(
        `generalize:${a ?? ''}: expected year, quarter, month, age-band:W, age-band:W:T, district or range:W`,
      );
    case 'topcode':
    case 'bottomcode': {
      if (b !== undefined) throw new RuleSyntaxError(`${kind} takes one value`);
      const value = Number(a);
      if (a === undefined || a === '' || !Number.isFinite(value))
        throw new RuleSyntaxError(`${kind} needs a numeric value, e.g. ${kind}:500000`);
      return { kind, value };
    }
    case 'noise': {
      if (b !== undefined) throw new RuleSyntaxError('noise takes one fraction');
      const fraction = positive(a, 'the noise fraction', false);
      if (fraction >= 1) throw new RuleSyntaxError('the noise fraction must be below 1');
      // the factor is never closer to 1 than F/2: below 0.12 a value could come out within 6 %
      if (fraction < 0.12)
        throw new RuleSyntaxError('the noise fraction must be at least 0.12 (every value moves by 6 % or more)');
      return { kind, fraction };
    }
    case 'rare-to-other':
      if (b !== undefined) throw new RuleSyntaxError('rare-to-other takes one k');
      return { kind, k: positive(a, 'k', true) };
    default:
      throw new RuleSyntaxError(
        `unknown rule ${JSON.stringify(kind)}; rules: keep, drop, pseudonymize, generalize:…, partial, topcode:V, bottomcode:V, noise:F, rare-to-other:K`,
      );
  }
}

/** The canonical text of a rule (what contracts record). */
export function ruleText(r: MaskingRule): string {
  switch (r.kind) {
    case 'generalize':
      if (r.to === 'age-band' && r.top !== undefined) return `generalize:age-band:${r.width}:${r.top}`;
      return 'width' in r ? `generalize:${r.to}:${r.width}` : `generalize:${r.to}`;
    case 'topcode':
    case 'bottomcode':
      return `${r.kind}:${r.value}`;
    case 'noise':
      return `noise:${r.fraction}`;
    case 'rare-to-other':
      return `rare-to-other:${r.k}`;
    default:
      return r.kind;
  }
}

/**
 * Whether a policy entry permits a rule: an entry names a kind (`generalize`), a family
 * (`generalize:age-band`, any width) or one exact rule (`generalize:age-band:10`).
 */
export function permits(entry: string, rule: MaskingRule): boolean {
  const text = ruleText(rule);
  return entry === rule.kind || entry === text || text.startsWith(`${entry}:`);
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|REAL|DOUBLE|DECIMAL.*)$/i;
const TEMPORAL = /^(DATE|TIMESTAMP.*)$/i;
const TEXT = /^(VARCHAR|TEXT|STRING)$/i;

/** Why a rule cannot apply to a column of this DuckDB type, or undefined when it can. */
export function incompatibility(rule: MaskingRule, type: string): string | undefined {
  const needs = (ok: boolean, what: string) =>
    ok ? undefined : `${ruleText(rule)} applies to ${what} columns, not ${type}`;
  switch (rule.kind) {
    case 'generalize':
      if (rule.to === 'district') return needs(TEXT.test(type), 'text (address)');
      if (rule.to === 'range') return needs(NUMERIC.test(type), 'numeric');
      if (rule.to === 'age-band')
        return needs(TEMPORAL.test(type) || NUMERIC.test(type), 'date-of-birth or numeric age');
      return needs(TEMPORAL.test(type), 'date');
    case 'partial':
    case 'rare-to-other':
      return needs(TEXT.test(type), 'text');
    case 'topcode':
    case 'bottomcode':
    case 'noise':
      return needs(NUMERIC.test(type), 'numeric');
    default:
      return undefined;
  }
}
