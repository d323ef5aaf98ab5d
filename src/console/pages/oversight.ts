/**
 * Review, feedback and oversight: the provider's queue and dataset withdrawal, feedback both ways,
 * risk reports (the signed page framed in the console) with acknowledgement, the audit trail.
 */
import type { FastifyInstance } from 'fastify';
import {
  auditBreakText,
  FEEDBACK_KIND,
  RATING,
  REPORT_KIND,
  REPORT_TRIGGER,
  ROLE,
  shanghaiDate,
  shanghaiTime,
  term,
} from '../../terms/index.ts';
import { formAction, must, send, signedIn, type Console } from '../context.ts';
import type { Session } from '../session.ts';
import { int, one, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { badge, csrfField, facts, table } from '../layout.ts';

/** The report page as the API serves it, framed by the console only: no script may run in it. */
const FRAMED_REPORT_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox";

/** What risk staff look for most: suspensions, withdrawals, refused jobs and escape attempts. */
const AUDIT_PRESETS: [string, string][] = [
  ['contract.suspended', '合约暂停'],
  ['contract.revoked', '合约撤销'],
  ['dataset.withdrawn', '数据集撤回'],
  ['job.rejected', '被拒绝的作业'],
  ['job.validation_refused', '校验时拒绝（逃逸或单独识别）'],
  ['console.signed_in', '控制台登录'],
];

const RATING_LABEL = RATING;

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

export function oversightPages(scope: FastifyInstance, c: Console): void {
  scope.get('/console/reviews', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const queue = await must(s.api.GET('/v1/reviews'));
    return send(
      reply,
      s.session,
      '审核队列',
      table(
        '待审核的申请（按截止时间）',
        ['申请', '场景', '运营单位', '数据集', '状态', '截止'],
        queue.map((r) => [
          html`<a href="/console/applications/${r.applicationId}">${r.applicationId}</a>`,
          r.scenario,
          r.operatorOrg,
          r.dataset,
          badge(r.status),
          html`${shanghaiDate(r.dueAt)}${r.overdue ? html` <strong class="warn">已逾期</strong>` : ''}`,
        ]),
        { empty: '没有待审核的申请', cards: true },
      ),
    );
  });

  scope.get('/console/feedback', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const roles = s.session.principal.roles;
    const [list, contracts] = await Promise.all([
      must(s.api.GET('/v1/feedback')),
      roles.includes('operator') ? must(s.api.GET('/v1/contracts')) : Promise.resolve([]),
    ]);
    const answerable = roles.includes('provider');
    return send(
      reply,
      s.session,
      '反馈',
      html`${table(
        '反馈',
        ['数据集', '运营单位', '类型', '主题', '内容', '截止', '答复'],
        list.map((f) => [
          f.dataset,
          f.operatorOrg,
          term(FEEDBACK_KIND, f.kind),
          f.subject,
          f.body,
          html`${shanghaiDate(f.dueAt)}${f.overdue ? html` <strong class="warn">已逾期</strong>` : ''}`,
          f.answer
            ? `${f.answer.body}（${f.answer.by}）`
            : answerable
              ? html`<form method="post" action="/console/feedback/${f.id}/answer" class="inline-form">
                  ${csrfField(s.session)} <label for="ans-${f.id}" class="sr-only">答复 ${f.subject}</label
                  ><input id="ans-${f.id}" name="body" required maxlength="8000" /><button type="submit">答复</button>
                </form>`
              : '待答复',
        ]),
        { empty: '暂无反馈' },
      )}
      ${
        contracts.length
          ? html`<form method="post" action="/console/feedback" class="stack card">
              <h2>向提供单位反馈</h2>
              ${csrfField(s.session)} <label for="fb-contract">合约</label
              ><select id="fb-contract" name="contractId">
                ${contracts.map((k) => html`<option value="${k.id}">${k.id}</option>`)}
              </select>
              <label for="fb-dataset">数据集</label
              ><input id="fb-dataset" name="dataset" required pattern="[a-z_][a-z0-9_]*" />
              <label for="fb-kind">类型</label
              ><select id="fb-kind" name="kind">
                <option value="data-quality">数据质量</option>
                <option value="usage">使用情况与成效</option>
              </select>
              <label for="fb-subject">主题</label><input id="fb-subject" name="subject" required maxlength="200" />
              <label for="fb-body">内容</label
              ><textarea id="fb-body" name="body" rows="3" required maxlength="8000"></textarea>
              <div class="actions"><button type="submit" class="primary">提交反馈</button></div>
            </form>`
          : ''
      }`,
    );
  });

  formAction(
    scope,
    c,
    '/console/feedback',
    () => '/console/feedback',
    async (s, f) => {
      await must(
        s.api.POST('/v1/datasets/{id}/feedback', {
          params: { path: { id: one(f, 'dataset') } },
          body: {
            contractId: one(f, 'contractId'),
            kind: one(f, 'kind') === 'usage' ? 'usage' : 'data-quality',
            subject: one(f, 'subject'),
            body: one(f, 'body'),
          },
        }),
      );
      return { text: '反馈已提交。' };
    },
  );

  formAction(
    scope,
    c,
    '/console/feedback/:id/answer',
    () => '/console/feedback',
    async (s, f, p) => {
      await must(
        s.api.POST('/v1/feedback/{id}/answer', { params: { path: { id: p.id! } }, body: { body: one(f, 'body') } }),
      );
      return { text: '已答复。' };
    },
  );

  formAction(
    scope,
    c,
    '/console/datasets/:id/withdraw',
    () => '/console/catalog',
    async (s, f, p) => {
      await must(
        s.api.POST('/v1/datasets/{id}/withdraw', {
          params: { path: { id: p.id! } },
          body: { reason: one(f, 'reason') },
        }),
      );
      return { text: `数据集 ${p.id!} 已撤回：使用它的合约已暂停。` };
    },
    {
      // every contract using the dataset is suspended at once (seed 002): asked once more
      confirm: (_f, p) => ({
        question: `撤回数据集 ${p.id!}：使用它的所有合约将立即暂停，直到数据集恢复。`,
        button: '确认撤回',
      }),
    },
  );

  scope.get('/console/reports', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const { reports } = await must(s.api.GET('/v1/reports'));
    const maker = s.session.principal.roles.some((r) => r === 'risk' || r === 'bureau');
    return send(
      reply,
      s.session,
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
          html`<span class="badge r-${r.rating}">${RATING_LABEL[r.rating] ?? r.rating}</span>`,
          shanghaiTime(r.generatedAt),
        ]),
        { empty: '暂无报告', cards: true },
      )}
      ${maker ? reportForm(s.session) : ''}`,
    );
  });

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

  scope.get<{ Params: { id: string } }>('/console/reports/:id', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const r = await must(s.api.GET('/v1/reports/{id}', { params: { path: { id: req.params.id } } }));
    const rep = r.report;
    const operator = s.session.principal.roles.includes('operator');
    return send(
      reply,
      s.session,
      `风险评估报告 ${rep.id}`,
      html`${facts([
          [
            '评级',
            html`<span class="badge r-${rep.rating.level}"
              >${RATING_LABEL[rep.rating.level] ?? rep.rating.level}</span
            >`,
          ],
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
          operator
            ? html`<form method="post" action="/console/reports/${rep.id}/acknowledgement" class="stack card">
                <h2>确认并说明整改</h2>
                ${csrfField(s.session)} <label for="ack">说明</label
                ><textarea id="ack" name="statement" rows="3" required maxlength="8000"></textarea>
                <div class="actions"><button type="submit" class="primary">确认</button></div>
              </form>`
            : ''
        }`,
    );
  });

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

  scope.get<{ Querystring: { action?: string; objectId?: string; after?: string; verify?: string } }>(
    '/console/audit',
    async (req, reply) => {
      const s = signedIn(c, req, reply);
      if (!s) return;
      const q = req.query;
      const query = {
        limit: 100,
        ...(q.action ? { action: q.action } : {}),
        ...(q.objectId ? { objectId: q.objectId } : {}),
        ...(int(q as Form, 'after') !== undefined ? { after: int(q as Form, 'after') } : {}),
      };
      const [{ entries }, verified] = await Promise.all([
        must(s.api.GET('/v1/audit', { params: { query } })),
        q.verify === '1' ? must(s.api.GET('/v1/audit/verify')) : Promise.resolve(undefined),
      ]);
      return send(
        reply,
        s.session,
        '审计日志',
        html`<nav aria-label="常用筛选" class="actions">
            ${AUDIT_PRESETS.map(([action, label]) => html`<a class="button" href="/console/audit?action=${action}">${label}</a>`)}
          </nav>
          <form method="get" action="/console/audit" class="filters">
            <label for="f-action">操作</label
            ><input
              id="f-action"
              name="action"
              value="${q.action ?? ''}"
              maxlength="64"
              placeholder="如 job.rejected"
            />
            <label for="f-object">对象编号</label
            ><input id="f-object" name="objectId" value="${q.objectId ?? ''}" maxlength="64" />
            <label for="f-after">序号之后</label
            ><input id="f-after" name="after" inputmode="numeric" value="${q.after ?? ''}" />
            <button type="submit">筛选</button>
          </form>
          <form method="get" action="/console/audit">
            <input type="hidden" name="verify" value="1" /><button type="submit" class="primary">
              校验整条哈希链与签名检查点
            </button>
          </form>
          ${
            verified
              ? verified.ok
                ? html`<p class="notice ok verified" role="status">
                    审计链完整：${verified.entries} 条记录，${verified.checkpoints ?? 0} 个签名检查点，链头
                    <code class="hash">${verified.headHash}</code>
                  </p>`
                : html`<p class="notice warn" role="alert">
                    审计链断裂：${verified.firstBad ? auditBreakText(verified.firstBad) : ''}。
                    <span class="problem-detail" lang="en">${verified.firstBad?.reason}</span>
                  </p>`
              : ''
          }
          ${table(
            '审计记录',
            ['序号', '时间', '操作者', '操作', '对象', '理由', '哈希'],
            entries.map((e) => [
              e.seq,
              shanghaiTime(e.at, { offset: true }),
              html`<code>${e.actor}</code>（${term(ROLE, e.role)}，<code>${e.org}</code>）`,
              html`<code>${e.action}</code>`,
              html`<code>${e.objectType} ${e.objectId}</code>`,
              // a reason as it was recorded: the system's own entries are in English, marked so
              e.reason && !/\p{Script=Han}/u.test(e.reason)
                ? html`<span class="en" lang="en">${e.reason}</span>`
                : (e.reason ?? '—'),
              html`<code class="hash">${e.hash.slice(0, 12)}…</code>`,
            ]),
            { empty: '没有匹配的记录' },
          )}`,
      );
    },
  );
}
