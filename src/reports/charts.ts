/**
 * Inline SVG charts for the HTML report: no script, no fonts or images fetched, so the page is
 * self-contained and renders the same offline, in a browser, or printed to PDF.
 */

export function esc(s: string | number): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Series colours; the screenshot test looks for them, so change both together. */
export const COLORS = {
  released: '#2e7d32',
  held: '#f9a825',
  rejected: '#c62828',
  failed: '#6d4c41',
  cancelled: '#90a4ae',
  submitted: '#1565c0',
  escape: '#6a1b9a',
  budget: '#00838f',
  track: '#e0e0e0',
} as const;

export interface Series {
  name: string;
  color: string;
}

const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

function frame(name: string, title: string, width: number, height: number, body: string): string {
  return (
    `<figure class="chart-box"><figcaption>${esc(title)}</figcaption>` +
    `<svg class="chart" data-chart="${esc(name)}" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg></figure>`
  );
}

function legend(series: Series[], x: number, y: number): string {
  return series
    .map(
      (s, i) =>
        `<rect x="${x + i * 110}" y="${y}" width="10" height="10" fill="${s.color}"/><text x="${x + i * 110 + 14}" y="${y + 9}" ${FONT}>${esc(s.name)}</text>`,
    )
    .join('');
}

/** Horizontal stacked bars: one row per label, one segment per series. */
export function stackedBars(
  name: string,
  title: string,
  series: Series[],
  rows: { label: string; values: number[] }[],
): string {
  const width = 640;
  const labelW = 130;
  const barH = 26;
  const height = rows.length * (barH + 12) + 40;
  const max = Math.max(1, ...rows.map((r) => r.values.reduce((a, b) => a + b, 0)));
  const scale = (width - labelW - 60) / max;
  const body = rows
    .map((r, i) => {
      const y = 8 + i * (barH + 12);
      let x = labelW;
      const segs = r.values
        .map((v, j) => {
          const w = v * scale;
          const seg =
            v > 0
              ? `<rect class="mark" x="${x.toFixed(1)}" y="${y}" width="${Math.max(w, 1).toFixed(1)}" height="${barH}" fill="${series[j]!.color}"><title>${esc(`${series[j]!.name}: ${v}`)}</title></rect>`
              : '';
          x += w;
          return seg;
        })
        .join('');
      const total = r.values.reduce((a, b) => a + b, 0);
      return `<text x="${labelW - 8}" y="${y + barH / 2 + 4}" text-anchor="end" ${FONT}>${esc(r.label)}</text>${segs}<text x="${x + 6}" y="${y + barH / 2 + 4}" ${FONT}>${total}</text>`;
    })
    .join('');
  return frame(name, title, width, height, body + legend(series, labelW, height - 20));
}

/** Horizontal bars, one per item, each with its own colour. */
export function bars(name: string, title: string, items: { label: string; value: number; color: string }[]): string {
  const width = 640;
  const labelW = 250;
  const barH = 18;
  const shown = items.length > 0 ? items : [{ label: 'none', value: 0, color: COLORS.track }];
  const height = shown.length * (barH + 8) + 16;
  const max = Math.max(1, ...shown.map((i) => i.value));
  const scale = (width - labelW - 50) / max;
  const body = shown
    .map((it, i) => {
      const y = 8 + i * (barH + 8);
      const w = Math.max(it.value > 0 ? 2 : 0, it.value * scale);
      return (
        `<text x="${labelW - 8}" y="${y + barH / 2 + 4}" text-anchor="end" ${FONT}>${esc(it.label)}</text>` +
        (w > 0
          ? `<rect class="mark" x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${it.color}"><title>${esc(`${it.label}: ${it.value}`)}</title></rect>`
          : '') +
        `<text x="${labelW + w + 6}" y="${y + barH / 2 + 4}" ${FONT}>${it.value}</text>`
      );
    })
    .join('');
  return frame(name, title, width, height, body);
}

/** Grouped columns over time buckets, with a y axis. */
export function columns(
  name: string,
  title: string,
  labels: string[],
  series: (Series & { values: number[] })[],
): string {
  const width = 640;
  const height = 220;
  const left = 36;
  const bottom = 170;
  const top = 10;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const slot = (width - left - 10) / Math.max(1, labels.length);
  const colW = Math.max(2, (slot - 4) / series.length);
  const y = (v: number) => bottom - (v / max) * (bottom - top);
  const axis =
    `<line x1="${left}" y1="${bottom}" x2="${width - 5}" y2="${bottom}" stroke="#666"/><line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#666"/>` +
    `<text x="${left - 4}" y="${top + 8}" text-anchor="end" ${FONT}>${max}</text><text x="${left - 4}" y="${bottom}" text-anchor="end" ${FONT}>0</text>`;
  const marks = labels
    .map((label, i) => {
      const x0 = left + i * slot + 2;
      const cols = series
        .map((s, j) => {
          const v = s.values[i] ?? 0;
          return v > 0
            ? `<rect class="mark" x="${(x0 + j * colW).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(colW - 1).toFixed(1)}" height="${(bottom - y(v)).toFixed(1)}" fill="${s.color}"><title>${esc(`${label} ${s.name}: ${v}`)}</title></rect>`
            : '';
        })
        .join('');
      const tick =
        labels.length <= 16 || i % Math.ceil(labels.length / 12) === 0
          ? `<text x="${(x0 + slot / 2).toFixed(1)}" y="${bottom + 14}" text-anchor="middle" font-family="system-ui, sans-serif" font-size="10">${esc(label)}</text>`
          : '';
      return cols + tick;
    })
    .join('');
  return frame(name, title, width, height, axis + marks + legend(series, left, height - 18));
}

/** A filled meter: used against a limit, with the threshold marked. */
export function meter(name: string, title: string, used: number, limit: number, threshold: number): string {
  const width = 640;
  const height = 64;
  const inner = width - 20;
  const share = limit > 0 ? Math.min(1, used / limit) : 0;
  const body =
    `<rect x="10" y="10" width="${inner}" height="22" fill="${COLORS.track}"/>` +
    (share > 0
      ? `<rect class="mark" x="10" y="10" width="${Math.max(2, inner * share).toFixed(1)}" height="22" fill="${COLORS.budget}"/>`
      : '') +
    `<line x1="${(10 + inner * threshold).toFixed(1)}" y1="6" x2="${(10 + inner * threshold).toFixed(1)}" y2="36" stroke="${COLORS.rejected}" stroke-width="2"/>` +
    `<text x="10" y="54" ${FONT}>${esc(`ε 已用 ${used} / ${limit}（${(share * 100).toFixed(1)}%）；红线为评级阈值`)}</text>`;
  return frame(name, title, width, height, body);
}
