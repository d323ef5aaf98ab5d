/**
 * Tables for people at a terminal: columns aligned by display width, so Chinese text (two cells a
 * character in a monospace terminal, UAX #11 East Asian Wide and Fullwidth) lines up with ASCII.
 * Machines read `--json`, never these. The words themselves (statuses, modes, roles, times) come
 * from src/terms, as the console's do, so the two cannot drift apart (docs/glossary.md).
 */
import { MODE, ROLE, STATUS } from '../terms/index.ts';

/** Code points a terminal draws two cells wide (UAX #11 W and F), in ascending ranges. */
const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f], // Hangul Jamo
  [0x2e80, 0x303e], // CJK radicals, Kangxi, CJK symbols and punctuation
  [0x3041, 0x33ff], // kana, bopomofo, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe30, 0xfe4f], // CJK compatibility forms
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x1f300, 0x1f64f], // pictographs, emoticons
  [0x1f900, 0x1f9ff], // supplemental symbols and pictographs
  [0x20000, 0x3fffd], // CJK extensions B and later
];

/** Combining marks and zero-width characters take no cell. */
const ZERO = /[\u0300-\u036f\u200b-\u200f\u2060\ufe00-\ufe0f]/u;

/** How many terminal cells `text` takes. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || ZERO.test(ch)) continue;
    width += WIDE.some(([lo, hi]) => cp >= lo && cp <= hi) ? 2 : 1;
  }
  return width;
}

/** `text` padded with spaces to `width` cells. */
export function padCells(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** A cell: text, a number, or nothing (shown as —). */
export type Cell = string | number | null | undefined;

/**
 * Lines of a table: a header, a rule and one line a row, columns two spaces apart, the last one
 * unpadded. With no rows, one line saying so (`empty`).
 */
export function table(headers: string[], rows: Cell[][], empty = '（无）'): string[] {
  if (rows.length === 0) return [empty];
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...text.map((r) => displayWidth(r[i]!))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : padCells(c, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)];
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '—';
  return String(cell).replace(/\s+/g, ' ');
}

/** Label: value lines, the labels aligned. */
export function facts(pairs: [string, Cell][]): string[] {
  const width = Math.max(...pairs.map(([k]) => displayWidth(k)));
  return pairs.map(([k, v]) => `${padCells(k, width)}  ${cellText(v)}`);
}

/** `words (code)` from a src/terms dictionary; the code alone when no word is fixed for it (a new code shows as it is). */
function withCode(dictionary: Record<string, string>, code: string): string {
  const words = dictionary[code];
  return words ? `${words} (${code})` : code;
}

/** A status in words with its code, for scripts and searches: `已发布 (released)`. */
export const statusText = (status: string): string => withCode(STATUS, status);

/** A mode in words with its code: `差分隐私 (dp)`. */
export const modeText = (mode: string): string => withCode(MODE, mode);

/** Roles in words with their codes, joined by 、: `授权运营单位 (operator)`. */
export const rolesText = (roles: readonly string[]): string => roles.map((r) => withCode(ROLE, r)).join('、');
