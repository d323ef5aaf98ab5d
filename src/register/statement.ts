import { PdsError } from '../errors/index.ts';

/**
 * What a public statement must never carry: the register names companies and measures, never a
 * person (seed 003 第三十五条 publishes violations; the personal-information rules of the seeds
 * still hold for what is published) and never a query.
 */
const PERSONAL: [RegExp, string][] = [
  // a resident ID number: 17 digits and a check digit (0–9 or X), not inside a longer number
  [/(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])/, '身份证号码'],
  // a mainland mobile number, with or without +86
  [/(?<![0-9])(?:\+?86[-\s]?)?1[3-9][0-9](?:[-\s]?[0-9]{4}){2}(?![0-9])/, '手机号码'],
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/, '电子邮箱'],
  [/\bselect\b[\s\S]*\bfrom\b/i, '查询语句'],
];

/** Refuses (ERR_REGISTER_STATEMENT_PERSONAL, in Chinese) a statement that looks like it carries a person's identifier or a query. */
export function assertPublishable(statement: string): void {
  for (const [pattern, what] of PERSONAL)
    if (pattern.test(statement))
      throw new PdsError(
        'ERR_REGISTER_STATEMENT_PERSONAL',
        `公示说明疑似包含${what}：公示内容不得指向个人或泄露查询，请改写后再提交`,
        { errors: [{ field: '/body/statement', message: `疑似包含${what}` }] },
      );
}
