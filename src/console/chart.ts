/**
 * A small inline SVG chart beside a released output's table, drawn on the server (no script, no
 * chart library, nothing fetched): bars for a count or measure by one group key, a line when every
 * key is a month (YYYY-MM). Only where a chart reads better than the table alone: one key column,
 * one numeric column, 2 to 40 rows; otherwise nothing.
 */
import { html, raw, type Html } from './html.ts';

export const CHART_MAX_ROWS = 40;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|REAL|DOUBLE|DECIMAL.*)$/i;
const INK = '#1b1f24';
const BRAND = '#0b4f8a';
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

type Column = { name: string; type: string };
type Point = { key: string; value: number | null };

// every value drawn from data goes through esc: the SVG is markup made here, its text escaped
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (n: number) =>
  Number.isInteger(n) ? n.toLocaleString('zh-CN') : n.toLocaleString('zh-CN', { maximumFractionDigits: 2 });

/** The chart for an output of these columns and rows, or undefined when a chart would not read better. */
export function outputChart(columns: Column[], rows: unknown[][]): Html | undefined {
  if (columns.length !== 2 || rows.length < 2 || rows.length > CHART_MAX_ROWS) return undefined;
  const valueAt = columns.findIndex((c) => NUMERIC.test(c.type));
  if (valueAt === -1 || NUMERIC.test(columns[1 - valueAt]!.type)) return undefined;
  const keyCol = columns[1 - valueAt]!;
  const valueCol = columns[valueAt]!;
  const points: Point[] = rows.map((r) => ({
    key: r[1 - valueAt] === null ? '—' : String(r[1 - valueAt]),
    value: typeof r[valueAt] === 'number' && Number.isFinite(r[valueAt]) ? (r[valueAt] as number) : null,
  }));
  if (points.every((p) => p.value === null)) return undefined;
  const title = `${valueCol.name}（按 ${keyCol.name}）`;
  const months = points.every((p) => MONTH.test(p.key));
  const svg = months ? line(points.sort((a, b) => a.key.localeCompare(b.key))) : bars(points);
  return html`<figure class="output-chart">
    <figcaption>${months ? '折线图' : '条形图'}：${title}（被隐藏的单元格不画出）</figcaption>
    ${raw(svg(title))}
  </figure>`;
}

/** Horizontal bars, one a row, the value written at the end of each. */
function bars(points: Point[]): (title: string) => string {
  const width = 480;
  const labelW = 110;
  const barH = 18;
  const gap = 6;
  const height = points.length * (barH + gap) + 8;
  const max = Math.max(1, ...points.map((p) => p.value ?? 0));
  const span = width - labelW - 70;
  const body = points
    .map((p, i) => {
      const y = 4 + i * (barH + gap);
      const w = p.value === null ? 0 : Math.max(1, (Math.max(0, p.value) / max) * span);
      return (
        `<text x="${labelW - 6}" y="${y + 13}" text-anchor="end" fill="${INK}" ${FONT}>${esc(p.key.slice(0, 14))}</text>` +
        `<rect class="bar" x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${BRAND}"/>` +
        `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 13}" fill="${INK}" ${FONT}>${p.value === null ? '已隐藏' : esc(fmt(p.value))}</text>`
      );
    })
    .join('');
  return (title) =>
    `<svg class="chart" data-chart="bars" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${esc(title)}</title>${body}</svg>`;
}

/** A line over months, in month order; a hidden month breaks the line. */
function line(points: Point[]): (title: string) => string {
  const width = 480;
  const height = 220;
  const left = 60;
  const bottom = 190;
  const top = 16;
  const values = points.map((p) => p.value).filter((v): v is number => v !== null);
  const max = Math.max(...values);
  const min = Math.min(0, ...values);
  const x = (i: number) => left + (i * (width - left - 20)) / Math.max(1, points.length - 1);
  const y = (v: number) => bottom - ((v - min) / Math.max(1e-9, max - min)) * (bottom - top);
  const segments: string[] = [];
  let current: string[] = [];
  points.forEach((p, i) => {
    if (p.value === null) {
      if (current.length) segments.push(current.join(' '));
      current = [];
    } else current.push(`${x(i).toFixed(1)},${y(p.value).toFixed(1)}`);
  });
  if (current.length) segments.push(current.join(' '));
  const step = Math.ceil(points.length / 8);
  const labels = points
    .map((p, i) =>
      i % step === 0 || i === points.length - 1
        ? `<text x="${x(i).toFixed(1)}" y="${bottom + 18}" text-anchor="middle" fill="${INK}" ${FONT}>${esc(p.key)}</text>`
        : '',
    )
    .join('');
  const dots = points
    .map((p, i) =>
      p.value === null ? '' : `<circle cx="${x(i).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3" fill="${BRAND}"/>`,
    )
    .join('');
  const axis =
    `<line x1="${left}" y1="${bottom}" x2="${width - 10}" y2="${bottom}" stroke="${INK}"/>` +
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end" fill="${INK}" ${FONT}>${esc(fmt(max))}</text>` +
    `<text x="${left - 6}" y="${bottom}" text-anchor="end" fill="${INK}" ${FONT}>${esc(fmt(min))}</text>`;
  const paths = segments
    .map((s) => `<polyline class="line" points="${s}" fill="none" stroke="${BRAND}" stroke-width="2"/>`)
    .join('');
  return (title) =>
    `<svg class="chart" data-chart="line" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"><title>${esc(title)}</title>${axis}${paths}${dots}${labels}</svg>`;
}
