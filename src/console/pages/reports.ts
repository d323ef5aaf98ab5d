/**
 * Risk reports: the list, the form risk staff and the bureau make one with, one report (the signed
 * page framed in the console, no script in it), and the operator's acknowledgement.
 */
import type { FastifyInstance } from 'fastify';
import type { Answer } from '../../client/index.ts';
import { RATING, REPORT_KIND, REPORT_TRIGGER, shanghaiTime, term } from '../../terms/index.ts';
import { formAction, must, send, signedIn, signedPage, type Console, type Signed } from '../context.ts';
import { one } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { csrfField, facts, table } from '../layout.ts';
import type { Session } from '../session.ts';

/** The report page as the API serves it, framed by the console only: no script may run in it. */
const FRAMED_REPORT_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox";

export function reportPages(scope: FastifyInstance, c: Console): void {
  reportList(scope, c);
  reportPage(scope, c);
  reportActions(scope, c);
}

/** A rating as a badge with its words. */
const ratingBadge = (level: string) => html`<span class="badge r-${level}">${RATING[level] ?? level}</span>`;

function reportList(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/reports',
    signedPage(c, async (s) => {
      const { reports } = await must(s.api.GET('/v1/reports'));
      const maker = s.session.principal.roles.some((r) => r === 'risk' || r === 'bureau');
      return [
        '风险评估报告',
        html`${table(
          '风险评估报告',
          ['报告', '对象', '运营单位', '期间', '触发', '评级', '生成时间'],
          reports.map((r) => [
            html`<a href="/console/reports/${r.id}">${r.id}</a>`,
            `${term(REPORT_KIND, r.kind)} ${r.subject}`,
            r.operatorOrg,
            r.period,
            term(REPORT_TRIGGER, r.trigger),
            ratingBadge(r.rating),
            shanghaiTime(r.generatedAt),
          ]),
          { empty: '暂无报告', cards: true },
        )}
        ${maker ? reportForm(s.session) : ''}`,
      ];
    }),
  );
}

/** The form risk staff and the bureau make a report with: its subject and period. */
function reportForm(session: Session): Html {
  return html`<form method="post" action="/console/reports" class="stack card">
    <h2>生成报告</h2>
    ${csrfField(session)}
    <fieldset>
      <legend>对象</legend>
      <label class="inline"><input type="radio" name="scope" value="domain" checked /> 全域概览</label>
      <label class="inline"><input type="radio" name="scope" value="contract" /> 合约</label>
      <label class="inline"><input type="radio" name="scope" value="operator" /> 运营单位</label>
    </fieldset>
    <label for="rep-subject">合约编号或运营单位（按对象填写）</label
    ><input id="rep-subject" name="subject" maxlength="64" />
    <label for="rep-period">期间（如 2026-Q4、2026-11、2026；留空为当前期间）</label
    ><input id="rep-period" name="period" maxlength="8" />
    <div class="actions"><button type="submit" class="primary">生成</button></div>
  </form>`;
}

/** One report: its rating, period and signature, its signed page framed, and the operator's acknowledgement. */
function reportPage(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string } }>(
    '/console/reports/:id',
    signedPage(c, async (s, req) => {
      const r = await must(s.api.GET('/v1/reports/{id}', { params: { path: { id: req.params.id } } }));
      return [`风险评估报告 ${r.report.id}`, reportView(s, r)];
    }),
  );

  scope.get<{ Params: { id: string } }>('/console/reports/:id/page', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const page = await must(
      s.api.GET('/v1/reports/{id}.html', { params: { path: { id: req.params.id } }, parseAs: 'text' }),
    );
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', FRAMED_REPORT_CSP)
      .header('x-frame-options', 'SAMEORIGIN')
      .send(page);
  });
}

function reportView(s: Signed, r: Answer<'getReport'>): Html {
  const rep = r.report;
  return html`${facts([
      ['评级', ratingBadge(rep.rating.level)],
      ['期间', rep.period.label],
      [
        '签名',
        html`<details>
          <summary>JWS（数据主管部门签名）</summary>
          <pre class="jws">${r.jws}</pre>
        </details>`,
      ],
    ])}
    <iframe class="report-frame" src="/console/reports/${rep.id}/page" title="风险评估报告 ${rep.id} 正文"></iframe>
    ${
      s.session.principal.roles.includes('operator')
        ? html`<form method="post" action="/console/reports/${rep.id}/acknowledgement" class="stack card">
            <h2>确认并说明整改</h2>
            ${csrfField(s.session)} <label for="ack">说明</label
            ><textarea id="ack" name="statement" rows="3" required maxlength="8000"></textarea>
            <div class="actions"><button type="submit" class="primary">确认</button></div>
          </form>`
        : ''
    }`;
}

function reportActions(scope: FastifyInstance, c: Console): void {
  formAction(
    scope,
    c,
    '/console/reports',
    () => '/console/reports',
    async (s, f) => {
      const [kind, subject, period] = [one(f, 'scope'), one(f, 'subject'), one(f, 'period')];
      const r = await must(
        s.api.POST('/v1/reports', {
          body: {
            ...(kind === 'contract'
              ? { contractId: subject }
              : kind === 'operator'
                ? { operatorOrg: subject }
                : { domain: true }),
            ...(period ? { period } : {}),
          },
        }),
      );
      const id = (r as { report: { id: string } }).report.id;
      return { next: `/console/reports/${id}`, text: `报告 ${id} 已生成并签名。` };
    },
  );

  formAction(
    scope,
    c,
    '/console/reports/:id/acknowledgement',
    (p) => `/console/reports/${p.id!}`,
    async (s, f, p) => {
      await must(
        s.api.POST('/v1/reports/{id}/acknowledgement', {
          params: { path: { id: p.id! } },
          body: { statement: one(f, 'statement') },
        }),
      );
      return { text: '已确认，确认书已由数据主管部门签名。' };
    },
  );
}
