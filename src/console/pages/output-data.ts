/** A released output's rows on its page, with a chart beside the table where one reads better. */
import type { Answer } from '../../client/index.ts';
import { CHART_MAX_ROWS, outputChart } from '../chart.ts';
import { must, type Signed } from '../context.ts';
import { cell, html, type Html } from '../html.ts';
import { table } from '../layout.ts';

/** Rows shown on the page; the downloads hold them all. */
const SHOWN = 200;

export async function releasedData(s: Signed, o: Answer<'getOutput'>): Promise<Html> {
  const text = await must(
    s.api.GET('/v1/outputs/{id}/data', { params: { path: { id: o.id }, query: { format: 'json' } }, parseAs: 'text' }),
  );
  const records = JSON.parse(text) as Record<string, unknown>[];
  const rows = records.map((r) => o.columns.map((c) => r[c.name] ?? null));
  const chart = rows.length <= CHART_MAX_ROWS ? outputChart(o.columns, rows) : undefined;
  const shown = table(
    `输出数据（${rows.length > SHOWN ? `前 ${SHOWN} 行，` : ''}共 ${rows.length} 行）`,
    o.columns.map((c) => c.name),
    rows.slice(0, SHOWN).map((r) => r.map(cell)),
    { empty: '输出没有行' },
  );
  return html`<h2>数据</h2>
    ${chart ? html`<div class="data-with-chart">${shown}${chart}</div>` : shown}`;
}
