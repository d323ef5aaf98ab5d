/** Reading urlencoded form bodies: one value, several, numbers, lines, a required choice. */
import { PdsError } from '../errors/index.ts';

export type Form = Record<string, string | string[] | undefined>;

export function one(form: Form, name: string): string {
  const v = form[name];
  return (Array.isArray(v) ? v[0] : v)?.trim() ?? '';
}

export function many(form: Form, name: string): string[] {
  const v = form[name];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((s) => s.trim()).filter((s) => s !== '');
}

/** A whole number, or undefined when the field is empty; a value that is not one is sent as is, for the API to name. */
export function int(form: Form, name: string): number | undefined {
  const s = one(form, name);
  if (s === '') return undefined;
  return /^-?\d+$/.test(s) ? Number(s) : (s as unknown as number);
}

export function num(form: Form, name: string): number | undefined {
  const s = one(form, name);
  if (s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : (s as unknown as number);
}

/** A textarea's non-empty lines. */
export function lines(form: Form, name: string): string[] {
  return one(form, name)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/**
 * A choice among radios that start unchecked (issue 33: no decision, vote or rejection is
 * preselected): the value chosen, or a refusal naming the field in Chinese when none (or one not
 * offered) was sent — never a default.
 */
export function choice<T extends string>(form: Form, name: string, allowed: readonly T[], label: string): T {
  const v = one(form, name);
  if (!(allowed as readonly string[]).includes(v)) throw new PdsError('ERR_VALIDATION', `请选择“${label}”。`);
  return v as T;
}
