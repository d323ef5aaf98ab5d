import { describe, expect, it } from 'vitest';
import { assertPublishable } from '../../src/register/index.ts';

describe('a public statement never names a person or holds a query (seed 003 第三十五条)', () => {
  it.each([
    ['an ID number', '当事人 11010119900307123X 已约谈', /身份证号码/],
    ['a mobile number', '联系 +86 138-1234-5678', /手机号码/],
    ['an e-mail address', '请联系 zhang.wei@example.com', /电子邮箱/],
    ['a query', '执行了 select name from population', /查询语句/],
  ])('refuses %s', (_what, statement, words) => {
    let caught: unknown;
    try {
      assertPublishable(statement);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ERR_REGISTER_STATEMENT_PERSONAL', status: 400 });
    expect((caught as Error).message).toMatch(words);
  });

  it('lets a statement about a company and a measure through', () => {
    for (const ok of [
      '该运营单位超出授权范围使用数据，已暂停授权。',
      '合约编号 ctr_mxdv9gnn43b1af771d5c8aca，自 2026 年 12 月 8 日起撤销。',
      '统一社会信用代码 91520100MA6DXXXX 的企业已整改',
    ])
      expect(() => assertPublishable(ok)).not.toThrow();
  });
});
