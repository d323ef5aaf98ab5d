/** The provider's review queue: applications waiting for its review, by due date. */
import type { FastifyInstance } from 'fastify';
import { must, signedPage, type Console } from '../context.ts';
import { html } from '../html.ts';
import { badge, dueDate, table } from '../layout.ts';

export function reviewPages(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/reviews',
    signedPage(c, async (s) => {
      const queue = await must(s.api.GET('/v1/reviews'));
      return [
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
            dueDate(r.dueAt, r.overdue),
          ]),
          { empty: '没有待审核的申请', cards: true },
        ),
      ];
    }),
  );
}
