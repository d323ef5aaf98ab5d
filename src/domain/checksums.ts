/**
 * Check characters of Chinese identifiers, in JS (for generation and tests) and as SQL (for the
 * data-quality findings of an ingest, computed inside DuckDB over millions of rows).
 */

/** GB 11643-1999 公民身份号码: weights 2^(17-i) mod 11 and ISO 7064 MOD 11-2 check characters. */
export const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
export const ID_CHECK_CHARS = '10X98765432';

export function idNumberCheckChar(body17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK_CHARS[sum % 11]!;
}

/** GB 32100-2015 统一社会信用代码: 31 characters (no I, O, Z, S, V), weights 3^i mod 31. */
export const USCC_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
export const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;

export function usccCheckChar(body17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARSET.indexOf(body17[i]!) * USCC_WEIGHTS[i]!;
  return USCC_CHARSET[(31 - (sum % 31)) % 31]!;
}

/** GB 11714-1997 组织机构代码 (characters 9–17 of a USCC): weights 3,7,9,10,5,8,4,2; 10 → X, 11 → 0. */
export const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2] as const;

export function orgCodeCheckChar(body8: string): string {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += USCC_CHARSET.indexOf(body8[i]!) * ORG_WEIGHTS[i]!;
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/** SQL: true when `col` is an 18-character GB 11643 number whose check character is right. */
export function idNumberValidSql(expr: string): string {
  const col = `(${expr})`;
  const sum = `list_sum(list_transform(range(17), k -> (ascii(${col}[k + 1]) - 48) * ${JSON.stringify(ID_WEIGHTS)}[k + 1]))`;
  return `(regexp_full_match(${col}, '\\d{17}[0-9X]') AND ${col}[18] = '${ID_CHECK_CHARS}'[1 + (${sum} % 11)::BIGINT])`;
}

/** SQL: true when `col` is an 18-character GB 32100 code whose check character is right. */
export function usccValidSql(expr: string): string {
  const col = `(${expr})`;
  const value = (k: string) => `(instr('${USCC_CHARSET}', ${col}[${k} + 1]) - 1)`;
  const sum = `list_sum(list_transform(range(17), k -> ${value('k')} * ${JSON.stringify(USCC_WEIGHTS)}[k + 1]))`;
  return `(regexp_full_match(${col}, '[0-9A-HJ-NPQRTUWXY]{18}') AND ${col}[18] = '${USCC_CHARSET}'[1 + ((31 - ${sum} % 31) % 31)::BIGINT])`;
}

/** SQL: true for an 11-digit mainland mobile number. */
export function mobileValidSql(expr: string): string {
  return `regexp_full_match((${expr}), '1[3-9]\\d{9}')`;
}
