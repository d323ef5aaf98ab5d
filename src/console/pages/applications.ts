/** Applications: the list, the form with its live risk preview, provider reviews, the bureau's decision. */
import type { FastifyInstance } from 'fastify';
import type { Answer } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import { DECISION, MODE, shanghaiDate, shanghaiTime, term } from '../../terms/index.ts';
import { act, formAction, must, send, signedIn, signedPage, takeDraft, type Console, type Signed } from '../context.ts';
import { choice, int, num, one, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { badge, csrfField, facts, overdueMark, table } from '../layout.ts';
import { applicationForm, applicationFrom, previewHtml, riskView } from './application-form.ts';

type Application = Answer<'getApplication'>;

/** A radio that is checked only when the form being refilled chose it (nothing is preselected). */
const checkedIf = (form: Form, name: string, value: string) => (one(form, name) === value ? html` checked` : '');

export function applicationPages(scope: FastifyInstance, c: Console): void {
  applicationList(scope, c);
  newApplication(scope, c);
  applicationPage(scope, c);
  reviewAction(scope, c);
  decisionAction(scope, c);
}

function applicationList(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/applications',
    signedPage(c, async (s) => {
      const apps = await must(s.api.GET('/v1/applications'));
      return [
        '申请',
        html`${s.session.principal.roles.includes('operator') ? html`<p><a class="button primary" href="/console/applications/new">新建申请</a></p>` : ''}
        ${table(
          '申请列表',
          ['编号', '场景', '运营单位', '方式', '状态', '政策提示', '提交时间'],
          apps.map((a) => [
            html`<a href="/console/applications/${a.id}">${a.id}</a>`,
            a.scenario.name,
            a.operatorOrg,
            term(MODE, a.mode),
            badge(a.status),
            a.warnings.length ? html`<strong class="warn">${a.warnings.length} 条</strong>` : '无',
            shanghaiTime(a.createdAt),
          ]),
          { empty: '暂无申请', cards: true },
        )}`,
      ];
    }),
  );
}

/** The operator's form: shown, previewed (whole, or its fragment for the script), filed. */
function newApplication(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/applications/new',
    signedPage(c, async (s) => ['新建申请', applicationForm(s, await must(s.api.GET('/v1/catalog')), {})]),
  );

  // the form's own POST: preview (re-rendered with the risk), or file it
  scope.post<{ Body: Form }>('/console/applications', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const form = req.body ?? {};
    const catalog = await must(s.api.GET('/v1/catalog'));
    const body = applicationFrom(form, catalog);
    if (one(form, 'intent') === 'preview') {
      const preview = await previewHtml(s, body);
      return send(reply, s.session, '新建申请', applicationForm(s, catalog, form, preview));
    }
    return act(
      reply,
      s.session,
      async () => {
        const a = await must(s.api.POST('/v1/applications', { body }));
        return { next: `/console/applications/${a.id}`, text: `申请 ${a.id} 已提交，等待提供单位审核。` };
      },
      '/console/applications/new',
    );
  });

  // the live preview's fragment (console.js posts the form here as it changes)
  scope.post<{ Body: Form }>('/console/applications/preview', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const catalog = await must(s.api.GET('/v1/catalog'));
    const fragment = await previewHtml(s, applicationFrom(req.body ?? {}, catalog));
    return reply.type('text/html; charset=utf-8').send(
      html`<h2 id="risk-h">风险预览</h2>
        ${fragment}`.value,
    );
  });
}

function applicationPage(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string } }>(
    '/console/applications/:id',
    signedPage(c, async (s, req) => {
      const a = await must(s.api.GET('/v1/applications/{id}', { params: { path: { id: req.params.id } } }));
      const draft = takeDraft(s.session, `/console/applications/${req.params.id}`);
      return [`申请 ${a.id}`, applicationView(s, a, draft)];
    }),
  );
}

/** A provider's review of one dataset: 同意 or 拒绝, neither chosen until the provider chooses. */
function reviewForm(s: Signed, a: Application, dataset: string, form: Form): Html {
  const mine = one(form, 'dataset') === dataset ? form : {};
  return html`<form method="post" action="/console/applications/${a.id}/reviews" class="stack card">
    ${csrfField(s.session)}<input type="hidden" name="dataset" value="${dataset}" />
    <h2>审核 ${dataset}</h2>
    <fieldset>
      <legend>审核意见</legend>
      <label class="inline"
        ><input type="radio" name="decision" value="approve" required ${checkedIf(mine, 'decision', 'approve')} />
        ${DECISION.approve}</label
      >
      <label class="inline"
        ><input type="radio" name="decision" value="reject" ${checkedIf(mine, 'decision', 'reject')} />
        ${DECISION.reject}</label
      >
    </fieldset>
    <label for="reason-${dataset}">理由（拒绝时必填）</label
    ><textarea id="reason-${dataset}" name="reason" rows="2">${one(mine, 'reason')}</textarea>
    <div class="actions"><button type="submit" class="primary">提交审核</button></div>
  </form>`;
}

/** The bureau's decision: 批准 or 拒绝, neither chosen; a refused decision comes back as it was. */
function decisionForm(s: Signed, a: Application, form: Form, reviewed: boolean): Html {
  const field = (id: string, name: string, label: string, extra = html``) =>
    html`<label for="${id}">${label}</label><input id="${id}" name="${name}" ${extra} value="${one(form, name)}" />`;
  return html`<form method="post" action="/console/applications/${a.id}/decision" class="stack card">
    ${csrfField(s.session)}
    <h2>数据主管部门决定</h2>
    ${reviewed ? '' : html`<p class="notice warn">尚有提供单位未同意：批准将被拒绝。</p>`}
    <fieldset>
      <legend>决定</legend>
      <label class="inline"
        ><input type="radio" name="decision" value="approve" required ${checkedIf(form, 'decision', 'approve')} />
        批准并签署合约</label
      >
      <label class="inline"
        ><input type="radio" name="decision" value="reject" ${checkedIf(form, 'decision', 'reject')} />
        ${DECISION.reject}</label
      >
    </fieldset>
    <label for="reason">理由</label
    ><textarea id="reason" name="reason" rows="2" required>${one(form, 'reason')}</textarea>
    ${
      a.warnings.length
        ? html`<label for="override">越过政策提示的理由（批准时必填，将写入合约与风险报告）</label
            ><textarea id="override" name="override" rows="2">${one(form, 'override')}</textarea>`
        : ''
    }
    <details
      ${['termMonths', 'minUnits', 'maxRows', 'epsilon', 'epsilonPerQuery'].some((n) => one(form, n)) ? html`open` : ''}
    >
      <summary>收紧条款（可选）</summary>
      ${field('t-term', 'termMonths', '期限（月）', html`type="number" min="1" max="36"`)}
      ${field('t-k', 'minUnits', '最小单位数 k', html`type="number" min="1"`)}
      ${field('t-rows', 'maxRows', '最多行数', html`type="number" min="1"`)}
      ${
        a.mode === 'dp'
          ? html`${field('t-eps', 'epsilon', 'ε 预算', html`inputmode="decimal"`)}
            ${field('t-epq', 'epsilonPerQuery', '每次查询 ε', html`inputmode="decimal"`)}`
          : ''
      }
    </details>
    <div class="actions"><button type="submit" class="primary">提交决定</button></div>
  </form>`;
}

function applicationView(s: Signed, a: Application, draft: Form = {}): Html {
  const roles = s.session.principal.roles;
  const org = s.session.principal.org;
  const mine = a.reviews.filter((r) => r.provider === org && r.status === 'pending');
  const reviewed = a.reviews.every((r) => r.status === 'approved');
  return html`${facts([
      ['状态', badge(a.status)],
      ['场景', a.scenario.name],
      ['用途', a.scenario.purpose],
      ['运营单位', a.operatorOrg],
      ['查询方式', term(MODE, a.mode)],
      ['期限', `${a.termMonths} 个月`],
      ['提交', `${a.createdBy}，${shanghaiTime(a.createdAt)}`],
    ])}
    <h2>提供单位审核</h2>
    ${table(
      '提供单位审核',
      ['数据集', '提供单位', '状态', '截止', '审核人', '理由'],
      a.reviews.map((r) => [
        html`<code>${r.dataset}</code>`,
        r.provider,
        html`${badge(r.status)}${overdueMark(r.overdue)}`,
        shanghaiDate(r.dueAt),
        r.reviewer ?? '—',
        r.reason ?? '—',
      ]),
    )}
    <h2>风险与授予</h2>
    ${riskView(a)}
    ${
      a.decision
        ? html`<h2>决定</h2>
            ${facts([
              ['决定人', a.decision.by],
              ['时间', shanghaiTime(a.decision.at, { offset: true })],
              ['理由', a.decision.reason],
              ['越过政策提示的理由', a.decision.override?.reason ?? '—'],
            ])}`
        : ''
    }
    ${roles.includes('provider') ? mine.map((r) => reviewForm(s, a, r.dataset, draft)) : ''}
    ${roles.includes('bureau') && a.status === 'pending' ? decisionForm(s, a, draft, reviewed) : ''}`;
}

const toApplication = (p: Record<string, string>) => `/console/applications/${p.id!}`;

/** A provider's review of one dataset; a rejection is asked once more. */
function reviewAction(scope: FastifyInstance, c: Console): void {
  formAction(
    scope,
    c,
    '/console/applications/:id/reviews',
    toApplication,
    async (s, form, p) => {
      const reason = one(form, 'reason');
      await must(
        s.api.POST('/v1/applications/{id}/reviews', {
          params: { path: { id: p.id! } },
          body: {
            dataset: one(form, 'dataset'),
            decision: choice(form, 'decision', ['approve', 'reject'] as const, '审核意见'),
            ...(reason ? { reason } : {}),
          },
        }),
      );
      return { text: `已提交对 ${one(form, 'dataset')} 的审核意见。` };
    },
    {
      confirm: (form, p) => {
        if (choice(form, 'decision', ['approve', 'reject'] as const, '审核意见') !== 'reject') return undefined;
        // the API's own refusal, asked before the confirmation rather than after it
        if (!one(form, 'reason')) throw new PdsError('ERR_REVIEW_REASON_REQUIRED', '拒绝时必须在“理由”中写明原因。');
        return {
          question: `拒绝申请 ${p.id!} 使用 ${one(form, 'dataset')}：拒绝后该申请不能获批，运营单位需重新申请。`,
          button: '确认拒绝',
        };
      },
    },
  );
}

/** The bureau's decision, with terms it may tighten; a rejection is asked once more. */
function decisionAction(scope: FastifyInstance, c: Console): void {
  formAction(
    scope,
    c,
    '/console/applications/:id/decision',
    toApplication,
    async (s, form, p) => {
      const terms = Object.fromEntries(
        (
          [
            ['termMonths', int(form, 'termMonths')],
            ['minUnits', int(form, 'minUnits')],
            ['maxRows', int(form, 'maxRows')],
            ['epsilon', num(form, 'epsilon')],
            ['epsilonPerQuery', num(form, 'epsilonPerQuery')],
          ] as const
        ).filter(([, v]) => v !== undefined),
      );
      const override = one(form, 'override');
      const d = await must(
        s.api.POST('/v1/applications/{id}/decision', {
          params: { path: { id: p.id! } },
          body: {
            decision: choice(form, 'decision', ['approve', 'reject'] as const, '决定'),
            reason: one(form, 'reason'),
            ...(override ? { override: { reason: override } } : {}),
            ...(Object.keys(terms).length ? { terms } : {}),
          },
        }),
      );
      return d.contractId
        ? {
            next: `/console/contracts/${d.contractId}`,
            text: `已批准，合约 ${d.contractId} 正在生成快照，封存后签署生效。`,
          }
        : { text: '已拒绝该申请。' };
    },
    {
      confirm: (form, p) =>
        choice(form, 'decision', ['approve', 'reject'] as const, '决定') === 'reject'
          ? { question: `拒绝申请 ${p.id!}：决定不可撤回，运营单位需重新申请。`, button: '确认拒绝' }
          : undefined,
    },
  );
}
