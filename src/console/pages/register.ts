/**
 * The public register (公示名录, seed 003 第三十五条) for anyone, signed in or not: the bureau's
 * measures as the API publishes them (GET /v1/register, read here without a token), newest first
 * page by page, with the signed head and how to verify a copy offline.
 */
import type { FastifyInstance } from 'fastify';
import { createPdsClient, injectFetch, type Answer } from '../../client/index.ts';
import { REGISTER_KIND, REGISTER_REASON, shanghaiTime, term } from '../../terms/index.ts';
import { must, send, type Console } from '../context.ts';
import { html, type Html } from '../html.ts';
import { facts, table } from '../layout.ts';

type Page = Answer<'getRegister'>;
const PAGE = 50;

function rows(page: Page): unknown[][] {
  return [...page.entries]
    .reverse()
    .map((e) => [
      e.seq,
      term(REGISTER_KIND, e.kind),
      e.operatorOrg ?? '—',
      e.contractId ? html`<code>${e.contractId}</code>` : '—',
      e.scenarioTitle ?? '—',
      e.datasets?.length ? html`${e.datasets.map((d, i) => html`${i ? '、' : ''}<code>${d}</code>`)}` : '—',
      term(REGISTER_REASON, e.reasonCategory),
      e.statement ?? '—',
      shanghaiTime(e.effectiveAt ?? e.recordedAt),
    ]);
}

function pager(page: Page, after: number): Html {
  const back = Math.max(0, after - PAGE);
  return html`<p class="pager">
    ${after > 0 ? html`<a href="/console/register?after=${back}">上一页</a>` : ''}
    ${page.next !== null ? html`<a href="/console/register?after=${page.next}">下一页</a>` : ''}
  </p>`;
}

export function registerPages(scope: FastifyInstance, c: Console): void {
  // no session: the register is public; the API is asked without a token, as anyone would ask it
  const api = createPdsClient({ baseUrl: 'http://console.invalid', fetch: injectFetch(c.server) });
  scope.get<{ Querystring: { after?: string } }>('/console/register', async (req, reply) => {
    const after = /^\d{1,9}$/.test(req.query.after ?? '') ? Number(req.query.after) : 0;
    const page = await must(api.GET('/v1/register', { params: { query: { after, limit: PAGE } } }));
    return send(
      reply,
      req.consoleSession,
      '公示名录',
      html`<p>
          数据主管部门依法对违反授权运营规定的行为限制或者关闭访问，并予以公布。名录中的每一条公示条目由数据主管部门签名，
          并与前一条目以哈希相链；公示内容不涉及任何个人。
        </p>
        ${facts([
          ['公示条目', `${page.head.seq} 条`],
          ['名录链头', html`<code>${page.head.hash}</code>`],
          ['链头签名时间', shanghaiTime(page.head.signedAt, { offset: true })],
        ])}
        ${table(
          '公示条目',
          ['序号', '类别', '运营单位', '合约', '场景', '数据集', '事由', '公示说明', '生效时间'],
          rows(page),
          { empty: '暂无公示条目', cards: true },
        )}
        ${pager(page, after)}
        <h2>离线校验</h2>
        <p>下载名录副本，用数据主管部门的公钥逐条校验签名、哈希、链接与链头：</p>
        <pre><code>pds register export --api &lt;本站地址&gt; --out register.json
pds verify-register register.json --jwks &lt;本站地址&gt;/.well-known/jwks.json</code></pre>`,
    );
  });
}
