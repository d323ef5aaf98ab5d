import { describe, expect, it } from 'vitest';
import { parseRule, permits, RULE_PATTERN, RuleSyntaxError, ruleText } from '../../src/policies/index.ts';

describe('the masking rule grammar: top-coded age bands', () => {
  it('reads generalize:age-band:W:T, writes it back, and the API pattern takes it', () => {
    const rule = parseRule('generalize:age-band:10:80');
    expect(rule).toEqual({ kind: 'generalize', to: 'age-band', width: 10, top: 80 });
    expect(ruleText(rule)).toBe('generalize:age-band:10:80');
    expect(new RegExp(RULE_PATTERN).test('generalize:age-band:10:80')).toBe(true);
    // the family entry of the policy permits it, as it permits any width
    expect(permits('generalize:age-band', rule)).toBe(true);
    expect(permits('generalize', rule)).toBe(true);
  });

  it('refuses a top that is not a multiple of the width, and a fourth part on other rules', () => {
    expect(() => parseRule('generalize:age-band:10:85')).toThrow(RuleSyntaxError);
    expect(() => parseRule('generalize:age-band:10:0')).toThrow(/top age/);
    expect(() => parseRule('generalize:range:10:80')).toThrow(/too many parts/);
    expect(new RegExp(RULE_PATTERN).test('generalize:range:10:80')).toBe(false);
  });
});
