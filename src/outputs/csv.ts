import type { JsonValue } from '../store/index.ts';

/** One RFC 4180 field: quoted when it holds a comma, quote or line break; null is empty. */
function field(v: JsonValue): string {
  if (v === null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The canonical CSV form of an output: its bytes are what the manifest's sha256 covers. */
export function toCsv(columns: string[], rows: JsonValue[][]): string {
  return [columns, ...rows].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}
