/** Feedback both ways between operators and providers: the list with answers, the form, the answer. */
import type { FastifyInstance } from 'fastify';
import type { Answer } from '../../client/index.ts';
import { FEEDBACK_KIND, term } from '../../terms/index.ts';
import { formAction, must, signedPage, type Console, type Signed } from '../context.ts';
import { one } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { csrfField, dueDate, table } from '../layout.ts';

type Feedback = Answer<'listFeedback'>[number];

export function feedbackPages(scope: FastifyInstance, c: Console): void {
  feedbackPage(scope, c);
  feedbackActions(scope, c);
}

function feedbackPage(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/feedback',
    signedPage(c, async (s) => {
      const roles = s.session.principal.roles;
      const [list, contracts] = await Promise.all([
        must(s.api.GET('/v1/feedback')),
        roles.includes('operator') ? must(s.api.GET('/v1/contracts')) : Promise.resolve([]),
      ]);
      const answerable = roles.includes('provider');
      return [
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
            dueDate(f.dueAt, f.overdue),
            answerCell(s, f, answerable),
          ]),
          { empty: '暂无反馈' },
        )}
        ${contracts.length ? feedbackForm(s, contracts) : ''}`,
      ];
    }),
  );
}

/** The answer given, or for a provider the form to give it. */
function answerCell(s: Signed, f: Feedback, answerable: boolean): Html | string {
  if (f.answer) return `${f.answer.body}（${f.answer.by}）`;
  if (!answerable) return '待答复';
  return html`<form method="post" action="/console/feedback/${f.id}/answer" class="inline-form">
    ${csrfField(s.session)} <label for="ans-${f.id}" class="sr-only">答复 ${f.subject}</label
    ><input id="ans-${f.id}" name="body" required maxlength="8000" /><button type="submit">答复</button>
  </form>`;
}

/** An operator's feedback to a provider, on one of its contracts. */
function feedbackForm(s: Signed, contracts: Answer<'listContracts'>): Html {
  return html`<form method="post" action="/console/feedback" class="stack card">
    <h2>向提供单位反馈</h2>
    ${csrfField(s.session)} <label for="fb-contract">合约</label
    ><select id="fb-contract" name="contractId">
      ${contracts.map((k) => html`<option value="${k.id}">${k.id}</option>`)}
    </select>
    <label for="fb-dataset">数据集</label><input id="fb-dataset" name="dataset" required pattern="[a-z_][a-z0-9_]*" />
    <label for="fb-kind">类型</label
    ><select id="fb-kind" name="kind">
      <option value="data-quality">数据质量</option>
      <option value="usage">使用情况与成效</option>
    </select>
    <label for="fb-subject">主题</label><input id="fb-subject" name="subject" required maxlength="200" />
    <label for="fb-body">内容</label><textarea id="fb-body" name="body" rows="3" required maxlength="8000"></textarea>
    <div class="actions"><button type="submit" class="primary">提交反馈</button></div>
  </form>`;
}

function feedbackActions(scope: FastifyInstance, c: Console): void {
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
}
