/** The start page: what waits for each of the caller's roles. */
import type { FastifyInstance } from 'fastify';
import type { UserRole } from '../../auth/index.ts';
import { must, send, signedIn, type Console } from '../context.ts';
import { html, type Html } from '../html.ts';
import { navFor, ROLE_LABEL } from '../layout.ts';

export function homePages(scope: FastifyInstance, c: Console): void {
  scope.get('/console', async (_req, reply) => reply.redirect('/console/', 301));
  scope.get('/console/', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const roles = s.session.principal.roles as UserRole[];
    const waiting: Html[] = [];
    if (roles.includes('provider')) {
      const queue = await must(s.api.GET('/v1/reviews', { params: { query: { status: 'pending' } } }));
      const overdue = queue.filter((r) => r.overdue).length;
      waiting.push(
        html`<li>
          <a href="/console/reviews">${queue.length} 项申请待您审核</a
          >${overdue ? html`，<strong class="warn">${overdue} 项已逾期</strong>` : ''}
        </li>`,
      );
    }
    if (roles.includes('bureau')) {
      const [apps, held] = await Promise.all([
        must(s.api.GET('/v1/applications', { params: { query: { status: 'pending' } } })),
        must(s.api.GET('/v1/outputs', { params: { query: { status: 'held' } } })),
      ]);
      waiting.push(html`<li><a href="/console/applications">${apps.length} 项申请待决定</a></li>`);
      waiting.push(html`<li><a href="/console/outputs/held">${held.length} 项输出待人工审核</a></li>`);
    }
    if (roles.includes('operator')) {
      const contracts = await must(s.api.GET('/v1/contracts'));
      waiting.push(
        html`<li>
          <a href="/console/contracts">${contracts.filter((k) => k.status === 'active').length} 份生效中的合约</a>
        </li>`,
      );
    }
    if (roles.includes('risk'))
      waiting.push(html`<li><a href="/console/reports">风险评估报告</a> · <a href="/console/audit">审计日志</a></li>`);
    return send(
      reply,
      s.session,
      `您好，${s.session.principal.sub}`,
      html`<p>角色：${roles.map((r) => ROLE_LABEL[r]).join('、')}（${s.session.principal.org}）</p>
        <h2>待办</h2>
        <ul class="waiting">
          ${waiting}
        </ul>
        <h2>功能</h2>
        <ul class="tiles">
          ${navFor(roles).map(([href, label]) => html`<li><a href="${href}">${label}</a></li>`)}
        </ul>`,
    );
  });
}
