import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { AUDIT_BREAKS } from '../../src/audit/index.ts';
import { ERRORS } from '../../src/errors/index.ts';
import * as T from '../../src/terms/index.ts';

const GLOSSARY = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs', 'glossary.md'), 'utf8');
const HAN = /\p{Script=Han}/u;

describe('the terms (docs/glossary.md, issue 33)', () => {
  const dictionaries = Object.entries(T).filter(
    ([name, v]) => typeof v === 'object' && name !== 'ERROR_ZH' && name !== 'RATING_RULE',
  ) as [string, Record<string, string>][];

  it('every machine value the code maps is in the glossary with the same term', () => {
    const missing: string[] = [];
    for (const [name, map] of dictionaries)
      for (const [value, word] of Object.entries(map))
        if (!GLOSSARY.includes(`| \`${value}\` | ${word} |`)) missing.push(`${name}.${value} → ${word}`);
    for (const [rule, { name, when }] of Object.entries(T.RATING_RULE))
      if (!GLOSSARY.includes(`| \`${rule}\` | ${name} | ${when} |`)) missing.push(`RATING_RULE.${rule}`);
    expect(missing).toEqual([]);
  });

  it('every error code has a Chinese sentence; a Chinese detail is shown as it is', () => {
    for (const code of Object.keys(ERRORS)) expect((T.ERROR_ZH as Record<string, string>)[code], code).toMatch(HAN);
    expect(T.problemText('ERR_REVIEW_REASON_REQUIRED', 'a rejection needs a reason')).toEqual({
      primary: '拒绝时必须填写理由。',
      secondary: 'a rejection needs a reason',
    });
    expect(T.problemText('ERR_VALIDATION', '请选择“决定”。')).toEqual({ primary: '请选择“决定”。' });
  });

  it('every way the audit trail can break reads in Chinese, by its entry (issue 33)', () => {
    for (const code of AUDIT_BREAKS) {
      const text = T.auditBreakText({ seq: 7, code, expectedSeq: 6 });
      expect(text, code).toMatch(HAN);
      expect(text, code).toContain('第 7 条');
      expect(text, code).not.toMatch(/[a-z]{3,} [a-z]{3,}/i);
    }
    expect(T.auditBreakText({ seq: 7, code: 'seq-gap', expectedSeq: 6 })).toContain('应为第 6 条');
    // a break recorded before breaks had codes is still named by its entry, in Chinese
    expect(T.auditBreakText({ seq: 3 })).toBe('第 3 条记录校验不通过（原因见英文说明）');
  });

  it('policy warnings signed in English into older contracts read in the Chinese new ones are written in', () => {
    const signed = [
      "population: k = 3 is below the policy's k = 5; 12.5 % of 400 records are in classes smaller than 5",
      "population: prosecutor risk 0.333 is above the policy's 0.2 (the smallest class has 3 record(s))",
      "health (门诊记录) holds sensitive facts about people: it is granted to dp contracts only, and every analysis of it is charged to the contract's ε budget",
    ];
    expect(signed.map(T.policyWarningText)).toEqual([
      T.kBelowPolicyText({ dataset: 'population', k: 3, policyK: 5, records: 400, percent: '12.5' }),
      T.prosecutorRiskText({ dataset: 'population', risk: '0.333', ceiling: '0.2', k: 3 }),
      T.sensitiveFactsText({ dataset: 'health', title: '门诊记录' }),
    ]);
    expect(T.policyWarningText(signed[0]!)).toBe(
      'population：k = 3，低于政策要求的 k = 5；400 条记录中有 12.5% 所在的等价类小于 5',
    );
    const zh = T.kBelowPolicyText({ dataset: 'a', k: 1, policyK: 2, records: 3, percent: '4.0' });
    expect(T.policyWarningText(zh)).toBe(zh);
    expect(T.policyWarningText('something new')).toBe('政策提示（签署时的原文）：something new');
    expect(T.overrideText({ reason: '仅区县级汇总', by: 'bureau-1', warnings: [signed[1]!] })).toBe(
      '仅区县级汇总（bureau-1）；政策提示：population：检察官风险 0.333，高于政策上限 0.2（最小等价类只有 3 条记录）',
    );
  });

  it('times are Asia/Shanghai, with the offset where asked', () => {
    expect(T.shanghaiTime('2026-12-07T15:16:56.529Z')).toBe('2026-12-07 23:16');
    expect(T.shanghaiTime('2026-12-07T15:16:56.529Z', { offset: true })).toBe('2026-12-07 23:16:56 +08:00');
    expect(T.shanghaiDate('2026-12-07T17:00:00Z')).toBe('2026-12-08');
    expect(T.shanghaiTime(null)).toBe('—');
    expect(T.shanghaiTime('not a time')).toBe('—');
  });

  it('a masking rule reads with its parameter', () => {
    expect(T.maskingRule('generalize:age-band:5')).toBe('泛化：5 岁年龄段');
    expect(T.maskingRule('generalize:range:10000')).toBe('泛化：宽 10000 的区间');
    expect(T.maskingRule('rare-to-other:10')).toBe('少于 10 个主体的类别归为其他');
    expect(T.maskingRule('noise:0.15')).toBe('乘性噪声（±15% 以内）');
    expect(T.term(T.MODE, 'aggregate')).toBe('聚合统计');
    expect(T.term(T.MODE, 'something-new')).toBe('something-new');
  });

  it('src/terms is neutral: it imports nothing but the error codes', () => {
    const dir = path.join(PACKAGE_ROOT, 'src', 'terms');
    const targets = fs
      .readdirSync(dir)
      .flatMap((f) => [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]!));
    expect([...new Set(targets.filter((t) => t.startsWith('..')))]).toEqual(['../errors/index.ts']);
  });
});
