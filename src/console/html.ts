/**
 * HTML built by tagged templates that escape every interpolated value unless it is already
 * {@link Html}: a page cannot carry markup from data (an operator's scenario name, a reviewer's
 * reason) by mistake. There is no other way to make Html than `html` and `raw`, and `raw` takes
 * only constants of this module's callers.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Markup written in code, never from data. */
export function raw(markup: string): Html {
  return new Html(markup);
}

/** A value as a table cell's text: numbers grouped, null shown as an em dash. */
export function cell(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('zh-CN') : String(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
