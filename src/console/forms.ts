/** Reading urlencoded form bodies: one value, several, numbers, lines. */
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
