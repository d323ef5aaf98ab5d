import { idNumberCheckChar, usccCheckChar } from '../domain/index.ts';
import type { JsonValue } from '../store/index.ts';
import type { CheckReport } from './report.ts';

/**
 * The identifier scan (docs/architecture.md §12): every cell of an output is searched for direct identifiers —
 * resident ID numbers (GB 11643, check character), unified social credit codes (GB 32100, check
 * character), mainland mobile numbers, bank card numbers (Luhn) and e-mail addresses. A hit refuses
 * the output: an identifier never leaves, whatever query produced it. Check characters keep
 * ordinary numbers (sums, codes) from being taken for IDs; the finding names the kind, the row and
 * the column, never the value.
 */

export type IdentifierKind = 'id-number' | 'uscc' | 'mobile' | 'bank-card' | 'email';

export interface IdentifierFinding {
  kind: IdentifierKind;
  row: number;
  column: string;
  /** Found in a number the query computed, not in text. */
  numeric: boolean;
}

const ID_NUMBER = /(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])/g;
const USCC = /(?<![0-9A-Z])([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Z])/g;
const MOBILE = /(?<!\d)(1[3-9]\d{9})(?!\d)/g;
// digits after a decimal point are a fraction, not a card: `0.1234567890123456` is a mean
const CARD = /(?<![\d.])(\d{16,19})(?!\d|\.\d)/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function validIdNumber(s: string): boolean {
  const birth = s.slice(6, 14);
  const month = Number(birth.slice(4, 6));
  const day = Number(birth.slice(6, 8));
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= 31 &&
    /^(19|20)/.test(birth) &&
    idNumberCheckChar(s.slice(0, 17)) === s[17]!.toUpperCase()
  );
}

/**
 * The kinds of identifier in one text. `numeric` cells skip mobile numbers and e-mail: a sum or
 * count of the right size would otherwise pass for a mobile number, and an ID or card number
 * cannot survive as a double anyway (past 2^53); a number with a fraction is skipped whole. Card
 * numbers need their Luhn check digit and 16–19 digits that are not part of a decimal fraction.
 */
export function identifiersIn(text: string, numeric = false): IdentifierKind[] {
  const kinds = new Set<IdentifierKind>();
  // a number with a fractional part is a statistic: no identifier survives as one
  if (numeric && !/^-?\d+$/.test(text)) return [];
  for (const m of text.matchAll(ID_NUMBER)) if (validIdNumber(m[1]!)) kinds.add('id-number');
  for (const m of text.matchAll(USCC)) if (usccCheckChar(m[1]!.slice(0, 17)) === m[1]![17]) kinds.add('uscc');
  if (!numeric) for (const _m of text.matchAll(MOBILE)) kinds.add('mobile');
  for (const m of text.matchAll(CARD))
    if (luhn(m[1]!) && !(m[1]!.length === 18 && kinds.has('id-number'))) kinds.add('bank-card');
  if (!numeric && EMAIL.test(text)) kinds.add('email');
  return [...kinds];
}

/** Scans every cell (numbers too: an ID number cast to a number is still one). */
export function scanIdentifiers(
  columns: { name: string }[],
  rows: JsonValue[][],
  maxFindings = 20,
): { findings: IdentifierFinding[]; report: CheckReport } {
  const findings: IdentifierFinding[] = [];
  for (let r = 0; r < rows.length && findings.length < maxFindings; r++) {
    const row = rows[r]!;
    for (let c = 0; c < row.length; c++) {
      const v = row[c];
      if (v === null || v === undefined || typeof v === 'boolean') continue;
      const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
      if (text.length < 6) continue;
      for (const kind of identifiersIn(text, typeof v === 'number'))
        findings.push({
          kind,
          row: r,
          column: columns[c]!.name,
          numeric: typeof v === 'number' || typeof v === 'bigint',
        });
    }
  }
  const kinds = [...new Set(findings.map((f) => f.kind))];
  return {
    findings,
    report: {
      check: 'identifier-scan',
      // a statistic that happens to look like an identifier is refused, but is no attempt to single
      // anyone out: the reports count only `identifier-scan` (policies/workflow.yaml singlingOut)
      ...(findings.length > 0 && findings.every((f) => f.numeric) ? { rule: 'identifier-scan-number' } : {}),
      params: { kinds: 'id-number,uscc,mobile,bank-card,email' },
      passed: findings.length === 0,
      onFail: 'refuse',
      effect:
        findings.length === 0
          ? `no identifier in any of ${rows.length} row(s)`
          : `${kinds.join(', ')} found (first in row ${findings[0]!.row + 1}, column ${findings[0]!.column}); the output is refused`,
    },
  };
}
