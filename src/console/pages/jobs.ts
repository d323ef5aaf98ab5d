/** Jobs: the list with live status, one job with its reasons and thread. */
import type { FastifyInstance } from 'fastify';
import type { Answer } from '../../client/index.ts';
import { LAYER, problemText, shanghaiTime, term } from '../../terms/index.ts';
import { formAction, must, send, signedIn, signedPage, type Console, type Signed } from '../context.ts';
import { one } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { badge, csrfField, facts, table } from '../layout.ts';

const LIVE = new Set(['queued', 'running']);

/** Jobs as rows; a row still moving carries data-live, which console.js polls. */
export function jobRows(jobs: Answer<'listJobs'>): Html {
  return table(
    '作业列表',
    ['编号', '名称', '合约', '状态', '提交', '输出'],
    jobs.jobs.map((j) => [
      html`<a href="/console/jobs/${j.id}">${j.id}</a>`,
      j.name ?? '—',
      html`<a href="/console/contracts/${j.contractId}">${j.contractId}</a>`,
      html`<span data-job="${j.id}" ${LIVE.has(j.status) ? html` data-live` : ''}>${badge(j.status)}</span>`,
      shanghaiTime(j.createdAt),
      j.outputId ? html`<a href="/console/outputs/${j.outputId}">${j.outputId}</a>` : '—',
    ]),
    { empty: '暂无作业', cards: true },
  );
}

/** A job's discussion, oldest first; `author` says who wrote each message. */
export function threadTable<M extends { createdAt: string; body: string }>(
  thread: M[],
  author: (m: M) => string,
): Html {
  return table(
    '作业讨论',
    ['时间', '作者', '内容'],
    thread.map((m) => [shanghaiTime(m.createdAt), author(m), m.body]),
    { empty: '暂无讨论' },
  );
}

export function jobPages(scope: FastifyInstance, c: Console): void {
  jobList(scope, c);
  jobPage(scope, c);
  threadAction(scope, c);
}

function jobList(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/jobs',
    signedPage(c, async (s) => {
      const jobs = await must(s.api.GET('/v1/jobs'));
      return [
        '作业',
        html`<p role="status" class="live-note" data-live-note></p>
          ${jobRows(jobs)}`,
      ];
    }),
  );

  // what console.js polls while a job is queued or running: the statuses, as badges
  scope.get<{ Querystring: { ids?: string } }>('/console/jobs/status', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const ids = (req.query.ids ?? '')
      .split(',')
      .filter((id) => /^job_[a-z0-9]+$/.test(id))
      .slice(0, 50);
    const out: Record<string, { status: string; badge: string; live: boolean }> = {};
    for (const id of ids) {
      const j = await must(s.api.GET('/v1/jobs/{id}', { params: { path: { id } } }));
      out[id] = { status: j.status, badge: badge(j.status).value, live: LIVE.has(j.status) };
    }
    return reply.type('application/json').send(out);
  });
}

function jobPage(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string } }>(
    '/console/jobs/:id',
    signedPage(c, async (s, req) => {
      const path = { id: req.params.id };
      const [j, thread] = await Promise.all([
        must(s.api.GET('/v1/jobs/{id}', { params: { path } })),
        must(s.api.GET('/v1/jobs/{id}/thread', { params: { path } })),
      ]);
      return [`作业 ${j.id}`, jobView(s, j, thread)];
    }),
  );
}

/** A job: its facts (the status live while it moves), why it was refused or failed, its discussion. */
function jobView(s: Signed, j: Answer<'getJob'>, thread: Answer<'getJobThread'>): Html {
  return html`${facts([
      [
        '状态',
        html`<span data-job="${j.id}" ${LIVE.has(j.status) ? html` data-live data-reload` : ''}
          >${badge(j.status)}</span
        >`,
      ],
      ['名称', j.name],
      ['合约', html`<a href="/console/contracts/${j.contractId}">${j.contractId}</a>`],
      ['提交', `${j.submittedBy}，${shanghaiTime(j.createdAt, { offset: true })}`],
      ['开始 / 结束', `${shanghaiTime(j.startedAt)} / ${shanghaiTime(j.finishedAt)}`],
      ['修订自', j.revisionOf ? html`<a href="/console/jobs/${j.revisionOf}">${j.revisionOf}</a>` : '—'],
      ['输出', j.outputId ? html`<a href="/console/outputs/${j.outputId}">${j.outputId}</a>` : '—'],
    ])}
    ${j.reasons.length ? reasonsTable(j.reasons) : ''}
    <h2>讨论</h2>
    ${threadTable(thread, (m) => `${m.author}（${m.org}）`)}
    <form method="post" action="/console/jobs/${j.id}/thread" class="stack">
      ${csrfField(s.session)}<label for="comment">回复</label
      ><textarea id="comment" name="body" rows="2" required maxlength="4000"></textarea>
      <div class="actions"><button type="submit">发送</button></div>
    </form>`;
}

function reasonsTable(reasons: Answer<'getJob'>['reasons']): Html {
  return html`<h2>原因</h2>
    ${table(
      '拒绝或失败的原因',
      ['代码', '说明', '层', '规则'],
      reasons.map((r) => [
        html`<code>${r.code}</code>`,
        html`${problemText(r.code, r.message, r).primary} <span class="problem-detail" lang="en">${r.message}</span>`,
        term(LAYER, r.layer),
        r.rule ? html`<code>${r.rule}</code>` : '—',
      ]),
    )}`;
}

function threadAction(scope: FastifyInstance, c: Console): void {
  formAction(
    scope,
    c,
    '/console/jobs/:id/thread',
    (p) => `/console/jobs/${p.id!}`,
    async (s, form, p) => {
      await must(
        s.api.POST('/v1/jobs/{id}/thread', { params: { path: { id: p.id! } }, body: { body: one(form, 'body') } }),
      );
      return { text: '已发送。' };
    },
  );
}
