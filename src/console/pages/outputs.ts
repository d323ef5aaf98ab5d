/**
 * Outputs: every check with its effect, the downloads, the signed manifest checked here and a file
 * checked in the browser against it. The bureau's held queue and review packet are output-review.ts.
 */
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet } from 'jose';
import type { Answer } from '../../client/index.ts';
import { verifyManifest } from '../../outputs/index.ts';
import { CHECK, ON_FAIL, shanghaiTime, term } from '../../terms/index.ts';
import { must, send, signedIn, signedPage, type Console, type Signed } from '../context.ts';
import { html, type Html } from '../html.ts';
import { badge, facts, table } from '../layout.ts';
import { releasedData } from './output-data.ts';

type Output = Answer<'getOutput'>;

const FORMATS = ['csv', 'json', 'parquet'] as const;

/** What each disclosure-control check does, in words (docs/glossary.md; policies/disclosure.yaml). */
const CHECK_DOES: Record<string, string> = {
  'min-units': '主体数少于下限的单元格被隐藏',
  'max-rows': '行数超过上限的输出转人工审核',
  dominance: '少数主体占比过高的合计被隐藏',
  'secondary-suppression': '另行隐藏单元格，使已隐藏的值无法由合计反推',
  'round-counts': '计数修约到指定倍数',
  differencing: '与早先输出相差的人数少于阈值时转人工审核',
  'differential-privacy': '计数与合计加入离散拉普拉斯噪声，低于带噪阈值的分组不显示',
  'earlier-answers': '与已发布的结果比对，防止多次查询平均掉扰动',
  'identifier-scan': '检查输出中是否含有标识符',
  perturbation: '计数与合计加入固定扰动',
  review: '每一份输出由两位审核人独立审核',
  'units-column': '按主体而非按行计数',
};

/** The earlier output a held differencing check paired this one with (the check's `facts`), as a link. */
function pairedOutput(k: Output['checks'][number]): Html | undefined {
  const id = k.check === 'differencing' && !k.passed ? k.facts?.pairedWith : undefined;
  return typeof id === 'string' ? html`<a href="/console/outputs/${id}"><code>${id}</code></a>` : undefined;
}

/**
 * A check's effect in words: what the check does, and the specifics the API gives as `facts`
 * (issue 33: the English `effect` names them; the console says them in Chinese, parsing nothing).
 */
function checkEffect(k: Output['checks'][number]): Html {
  const paired = pairedOutput(k);
  if (paired) {
    const rows = k.facts?.rows ?? '若干';
    return html`与早先输出 ${paired} 相比，有 ${rows} 行的人数相差少于 ${k.params.k} 人：两者合起来描述的人少于
    ${k.params.k} 人，转人工审核`;
  }
  if (k.check === 'max-rows' && !k.passed && k.facts?.rows !== undefined)
    return html`共 ${k.facts.rows} 行，超过上限 ${k.params.maxRows} 行：转人工审核`;
  return html`${CHECK_DOES[k.check] ?? '见检查说明'}${k.cellsSuppressed ? `；隐藏 ${k.cellsSuppressed} 个单元格` : ''}${k.rowsSuppressed ? `；隐藏 ${k.rowsSuppressed} 行` : ''}`;
}

/** Every check with its parameters, result and effect in words; the API's own sentence as the title. */
export function checksTable(checks: Output['checks']): Html {
  return table(
    '披露控制检查',
    ['检查', '参数', '结果', '影响'],
    checks.map((k) => [
      html`${term(CHECK, k.check)} <code>${k.check}</code>`,
      Object.keys(k.params).length
        ? html`<code
            >${Object.entries(k.params)
              .map(([p, v]) => `${p}=${v}`)
              .join(', ')}</code
          >`
        : '—',
      k.passed ? '通过' : html`<strong class="warn">未通过${k.onFail ? `（${term(ON_FAIL, k.onFail)}）` : ''}</strong>`,
      html`<span title="${k.effect}">${checkEffect(k)}</span>`,
    ]),
  );
}

/**
 * Why an output waits, in words: its failed checks that hold (the API's `heldBecause` says the same
 * in English), and a caught forgery (src/jobs/forgery.ts) from the output's `withheld` facts — the
 * worker, the forged job and when — rather than from the English sentence.
 */
export function heldReasons(o: Pick<Output, 'checks' | 'withheld'>): Html | string {
  // a custom-mode output carries the `review` check, passed: it is held by its mode (src/jobs/release.ts)
  const checks: (Html | string)[] = [
    ...(o.checks.some((k) => k.check === 'review') ? ['定制模式：每份输出人工审核'] : []),
    ...o.checks
      .filter((k) => !k.passed && k.onFail === 'hold')
      .map((k) => {
        const paired = pairedOutput(k);
        return paired ? html`${term(CHECK, k.check)}未通过（与输出 ${paired} 配对）` : `${term(CHECK, k.check)}未通过`;
      }),
  ];
  const w = o.withheld;
  const forged = w
    ? [
        html`工作节点 <code>${w.workerId}</code> 于 ${shanghaiTime(w.at, { offset: true })} 被发现伪造作业
          <code>${w.forgedJobId}</code> 的结果；此输出未经抽查核验，已被扣留`,
      ]
    : [];
  const all = [...checks, ...forged];
  return all.length === 0 ? '—' : html`${all.map((x, i) => (i === 0 ? x : html`；${x}`))}`;
}

/** The manifest, its signature checked against the bureau's published keys. */
async function manifestView(s: Signed, id: string): Promise<Html> {
  const [jws, jwks] = await Promise.all([
    must(s.api.GET('/v1/outputs/{id}/manifest', { params: { path: { id } }, parseAs: 'text' })),
    must(s.api.GET('/.well-known/jwks.json')),
  ]);
  let m;
  try {
    m = await verifyManifest(jws.trim(), createLocalJWKSet(jwks as never));
  } catch (err) {
    return html`<div class="notice warn" role="alert">
      <p>发布清单签名校验失败。</p>
      <p class="problem-detail" lang="en">${(err as Error).message}</p>
    </div>`;
  }
  const formats = m.output.formats ?? { csv: m.output.sha256 };
  return html`<p class="verified" role="status">发布清单签名有效（EdDSA，数据主管部门公钥）。</p>
    ${facts([
      ['输出', m.output.id],
      ['行数', m.output.rows],
      [
        '发布',
        `${shanghaiTime(m.releasedAt, { offset: true })}，${m.releasedBy}${m.reviewers ? `（审核人 ${m.reviewers.join('、')}）` : ''}`,
      ],
      ['执行者', m.ranBy],
      ['快照', `${m.snapshotHash.slice(0, 16)}…`],
      ['数据来源', html`${m.dataSources.map((d) => html`<code>${d.dataset}</code>（${d.providerName}） `)}`],
    ])}
    ${table(
      '各格式的 SHA-256',
      ['格式', 'SHA-256'],
      Object.entries(formats).map(([f, h]) => [html`<code>${f}</code>`, html`<code class="hash">${h}</code>`]),
    )}
    <div class="verify-file" data-hashes="${JSON.stringify(formats)}">
      <label for="verify-input">校验已下载的文件（在浏览器内计算，不上传）</label>
      <input type="file" id="verify-input" data-verify />
      <p data-verify-result role="status" aria-live="polite"></p>
    </div>
    <details>
      <summary>发布清单原文（JWS）</summary>
      <pre class="jws">${jws}</pre>
    </details>
    <p>
      命令行校验：<code>pds verify-output ${id}.csv ${id}.csv.jws --jwks &lt;服务器地址&gt;/.well-known/jwks.json</code>
    </p>`;
}

export function outputPages(scope: FastifyInstance, c: Console): void {
  outputPage(scope, c);
  downloads(scope, c);
}

function outputPage(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string } }>(
    '/console/outputs/:id',
    signedPage(c, async (s, req) => {
      const o = await must(s.api.GET('/v1/outputs/{id}', { params: { path: { id: req.params.id } } }));
      return [`输出 ${o.id}`, await outputView(s, o)];
    }),
  );
}

/** An output: its facts and every check; released, its data, downloads and manifest; held, the way to review it. */
async function outputView(s: Signed, o: Output): Promise<Html> {
  return html`${facts([
      ['状态', badge(o.status)],
      ['作业', html`<a href="/console/jobs/${o.jobId}">${o.jobId}</a>`],
      ['合约', html`<a href="/console/contracts/${o.contractId}">${o.contractId}</a>`],
      ['行数', o.rowCount],
      ['隐藏的单元格', o.cellsSuppressed],
      ['列', html`<code>${o.columns.map((col) => col.name).join(', ')}</code>`],
    ])}
    <h2>披露控制（每一项隐藏与扰动）</h2>
    ${checksTable(o.checks)}
    ${
      o.status === 'released'
        ? html`${await releasedData(s, o)}
            <h2>下载</h2>
            <p class="actions">
              ${FORMATS.map(
                (f) =>
                  html`<a class="button" href="/console/outputs/${o.id}/data.${f}" download
                    >下载 ${f.toUpperCase()}</a
                  > `,
              )}<a class="button" href="/console/outputs/${o.id}/manifest.jws" download>下载发布清单</a>
            </p>
            <h2>发布清单与校验</h2>
            ${await manifestView(s, o.id)}`
        : s.session.principal.roles.includes('bureau') && o.status === 'held'
          ? html`<p><a class="button primary" href="/console/outputs/${o.id}/review">审核此输出</a></p>`
          : ''
    }`;
}

/** A released output's data in each format, and its signed manifest, as files. */
function downloads(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string; format: string } }>('/console/outputs/:id/data.:format', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const format = FORMATS.find((f) => f === req.params.format);
    if (!format) return reply.callNotFound();
    const res = await s.api.GET('/v1/outputs/{id}/data', {
      params: { path: { id: req.params.id }, query: { format } },
      parseAs: 'arrayBuffer',
    });
    return reply
      .type(res.response.headers.get('content-type') ?? 'application/octet-stream')
      .header('content-disposition', `attachment; filename="${req.params.id}.${format}"`)
      .send(Buffer.from(res.data as ArrayBuffer));
  });

  scope.get<{ Params: { id: string } }>('/console/outputs/:id/manifest.jws', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const jws = await must(
      s.api.GET('/v1/outputs/{id}/manifest', { params: { path: { id: req.params.id } }, parseAs: 'text' }),
    );
    return reply
      .type('application/jose')
      .header('content-disposition', `attachment; filename="${req.params.id}.csv.jws"`)
      .send(jws);
  });
}
