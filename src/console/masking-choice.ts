/**
 * The application form's masking choice for one column: a select of the rules the catalog allows
 * it (each family expanded to the forms its type takes) and, beside it, the parameters of the
 * parameterised ones — an age band's width and top, a range's width, a top-code, a noise fraction,
 * a rare-to-other threshold — composed into the rule text the API takes (`generalize:age-band:10:80`).
 * A bare `generalize` is a kind, not a rule: the form never sends one.
 */
import { incompatibility, parseRule, RuleSyntaxError } from '../policies/index.ts';
import { one, type Form } from './forms.ts';
import { html, type Html } from './html.ts';

/** One parameter of a rule family, as a number input. */
export interface RuleParam {
  name: string;
  label: string;
  min: number;
  max?: number;
  step: string;
  default: number;
  /** May be left empty (an age band without a top band). */
  optional?: boolean;
}

/** A choice in the select: a family with parameters, or a rule with none. */
export interface RuleChoice {
  /** The select's value: the family (`generalize:age-band`) or the whole rule (`keep`, `noise:0.15`). */
  value: string;
  label: string;
  params: RuleParam[];
}

export interface ColumnInfo {
  name: string;
  type: string;
  title?: string | null;
  masking: { default: string; allowed: string[] };
}

const FIXED_LABEL: Record<string, string> = {
  keep: '保留原值',
  drop: '删除',
  pseudonymize: '假名化（带密钥散列）',
  partial: '部分遮盖',
  'generalize:year': '泛化到年',
  'generalize:quarter': '泛化到季度',
  'generalize:month': '泛化到月',
  'generalize:district': '泛化到区县',
};

const GENERALIZE = [
  'generalize:year',
  'generalize:quarter',
  'generalize:month',
  'generalize:age-band',
  'generalize:district',
  'generalize:range',
];

/** A sensible width or cap for a measure, from its unit in the catalog title: yuan, 10 000 yuan, else. */
function scale(c: ColumnInfo): number {
  const title = c.title ?? '';
  if (title.includes('万元')) return 100;
  if (title.includes('元')) return 10_000;
  return 10;
}

/** The parameters of a family; their defaults are the column's default rule's where it is of the family. */
function familyChoice(family: string, c: ColumnInfo): RuleChoice | undefined {
  const s = scale(c);
  switch (family) {
    case 'generalize:age-band':
      return {
        value: family,
        label: '年龄段',
        params: [
          { name: 'width', label: '每段年数', min: 1, max: 50, step: '1', default: 10 },
          {
            name: 'top',
            label: '此年龄及以上合为一段（可空）',
            min: 1,
            max: 150,
            step: '1',
            default: 80,
            optional: true,
          },
        ],
      };
    case 'generalize:range':
      return {
        value: family,
        label: '数值区间',
        params: [{ name: 'width', label: '区间宽度', min: 0.000001, step: 'any', default: s }],
      };
    case 'topcode':
      return {
        value: family,
        label: '顶部编码（高于上限记为上限）',
        params: [{ name: 'value', label: '上限', min: -1e15, step: 'any', default: 50 * s }],
      };
    case 'bottomcode':
      return {
        value: family,
        label: '底部编码（低于下限记为下限）',
        params: [{ name: 'value', label: '下限', min: -1e15, step: 'any', default: 0 }],
      };
    case 'noise':
      return {
        value: family,
        label: '乘性噪声（按人固定）',
        params: [{ name: 'fraction', label: '幅度 F（0.12–0.99）', min: 0.12, max: 0.99, step: '0.01', default: 0.15 }],
      };
    case 'rare-to-other':
      return {
        value: family,
        label: '稀有类别归入“其他”',
        params: [{ name: 'k', label: '少于此人数的类别', min: 2, max: 100000, step: '1', default: 10 }],
      };
    default:
      return undefined;
  }
}

/** A sample of a family's rule, to ask the grammar whether the column's type takes it. */
const SAMPLE: Record<string, string> = {
  'generalize:age-band': 'generalize:age-band:10',
  'generalize:range': 'generalize:range:10',
  topcode: 'topcode:1',
  bottomcode: 'bottomcode:0',
  noise: 'noise:0.15',
  'rare-to-other': 'rare-to-other:10',
};

function fits(rule: string, type: string): boolean {
  try {
    return incompatibility(parseRule(SAMPLE[rule] ?? rule), type) === undefined;
  } catch (err) {
    if (err instanceof RuleSyntaxError) return false;
    throw err;
  }
}

/** The choices a column offers: each allowed entry expanded (a kind to its families), in the policy's order. */
export function choicesFor(c: ColumnInfo): RuleChoice[] {
  const entries = [c.masking.default, ...c.masking.allowed].flatMap((e) => (e === 'generalize' ? GENERALIZE : [e]));
  const out = new Map<string, RuleChoice>();
  for (const entry of entries) {
    // the default rule (noise:0.15) stands for its family, with its value as the default
    const family = SAMPLE[entry] ? entry : Object.keys(SAMPLE).find((f) => entry.startsWith(`${f}:`));
    if (family && c.masking.allowed.some((a) => a === family || a === family.split(':')[0])) {
      const choice = familyChoice(family, c);
      if (choice && fits(family, c.type) && !out.has(family)) out.set(family, withDefaults(choice, entry));
      continue;
    }
    if (!out.has(entry) && fits(entry, c.type))
      out.set(entry, { value: entry, label: FIXED_LABEL[entry] ?? entry, params: [] });
  }
  return [...out.values()];
}

/** A family's defaults taken from a rule of it (`noise:0.2` → fraction 0.2). */
function withDefaults(choice: RuleChoice, rule: string): RuleChoice {
  if (rule === choice.value) return choice;
  const values = rule
    .slice(choice.value.length + 1)
    .split(':')
    .map(Number);
  return { ...choice, params: choice.params.map((p, i) => ({ ...p, default: values[i] ?? p.default })) };
}

/** Form field names: the select, and each parameter of each family. */
export const maskField = (ds: string, col: string) => `mask:${ds}:${col}`;
const paramField = (ds: string, col: string, family: string, param: string) => `maskp:${ds}:${col}:${family}:${param}`;

/**
 * The rule text for a column from the form: the selected family with its parameters, or the
 * selected rule. A value the form did not offer is sent as it is, for the API to name.
 */
export function ruleFromForm(form: Form, ds: string, c: ColumnInfo): string {
  const chosen = one(form, maskField(ds, c.name));
  if (chosen === '') return '';
  const choice = choicesFor(c).find((x) => x.value === chosen);
  if (!choice || choice.params.length === 0) return chosen;
  const values = choice.params.map((p) => {
    const v = one(form, paramField(ds, c.name, chosen, p.name));
    return v === '' && !p.optional ? String(p.default) : v;
  });
  return [chosen, ...values.filter((v) => v !== '')].join(':');
}

/** The select and its parameter inputs; the form's own values win over the defaults. */
export function maskingControl(ds: string, c: ColumnInfo, form: Form): Html {
  const choices = choicesFor(c);
  const posted = one(form, maskField(ds, c.name));
  const def = c.masking.default;
  const chosen =
    choices.find((x) => x.value === posted) ?? choices.find((x) => x.value === def || def.startsWith(`${x.value}:`));
  const fresh = posted === '';
  return html`<div class="mask-choice" data-mask-choice>
    <select name="${maskField(ds, c.name)}" aria-label="${c.name} 的脱敏规则">
      ${choices.map((x) => html`<option value="${x.value}" ${x === chosen ? html` selected` : ''}>${x.label}</option>`)}
    </select>
    ${choices
      .filter((x) => x.params.length)
      .map(
        (x) =>
          html`<span class="mask-params" data-family="${x.value}">
            ${x.params.map((p) => {
              const id = `mp-${ds}-${c.name}-${x.value.replace(':', '-')}-${p.name}`;
              const field = paramField(ds, c.name, x.value, p.name);
              const value = fresh
                ? String(p.default)
                : form[field] === undefined
                  ? String(p.default)
                  : one(form, field);
              return html`<label for="${id}">${x.label}：${p.label}</label
                ><input
                  id="${id}"
                  name="${field}"
                  type="number"
                  inputmode="decimal"
                  min="${p.min}"
                  ${p.max === undefined ? '' : html` max="${p.max}"`}
                  step="${p.step}"
                  value="${value}"
                />`;
            })}
          </span>`,
      )}
  </div>`;
}
