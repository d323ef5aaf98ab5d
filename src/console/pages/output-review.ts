/**
 * The bureau's review of held outputs: the queue, the review packet (the SQL and the output side by
 * side, the dummy run, the checks, the discussion) and the independent vote.
 */
import type { FastifyInstance } from 'fastify';
import type { Answer } from '../../client/index.ts';
import { DECISION, MODE, problemText, shanghaiTime, term } from '../../terms/index.ts';
import { formAction, must, signedPage, takeDraft, type Console, type Signed } from '../context.ts';
import { choice, one, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { badge, csrfField, facts, resultTable, table } from '../layout.ts';
import { threadTable } from './jobs.ts';
import { checksTable, heldReasons } from './outputs.ts';

type Packet = Answer<'getReviewPacket'>;

const VOTES = ['approve', 'request-changes', 'reject'] as const;

export function outputReviewPages(scope: FastifyInstance, c: Console): void {
  heldQueue(scope, c);
  reviewPage(scope, c);
  voteAction(scope, c);
}

function heldQueue(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/outputs/held',
    signedPage(c, async (s) => {
      const held = await must(s.api.GET('/v1/outputs', { params: { query: { status: 'held' } } }));
      return [
        '待审输出',
        table(
          '待人工审核的输出',
          ['输出', '合约', '作业', '行数', '待审原因', '票数'],
          held.map((o) => [
            html`<a href="/console/outputs/${o.id}/review">${o.id}</a>`,
            o.contractId,
            o.jobId,
            o.rowCount,
            heldReasons(o),
            `${o.votes.recorded} / ${o.votes.needed}`,
          ]),
          { empty: '没有待审的输出', cards: true },
        ),
      ];
    }),
  );
}

function reviewPage(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string } }>(
    '/console/outputs/:id/review',
    signedPage(c, async (s, req) => {
      const p = await must(s.api.GET('/v1/outputs/{id}/review', { params: { path: { id: req.params.id } } }));
      const draft = takeDraft(s.session, `/console/outputs/${req.params.id}/review`);
      return [`审核输出 ${p.output.id}`, reviewPacket(s, p, draft)];
    }),
  );
}

function reviewPacket(s: Signed, p: Packet, draft: Form = {}): Html {
  const o = p.output;
  return html`${facts([
      ['状态', badge(o.status)],
      ['作业', html`<a href="/console/jobs/${p.job.id}">${p.job.id}</a>（${p.job.submittedBy}）`],
      ['合约', html`<a href="/console/contracts/${o.contractId}">${o.contractId}</a>`],
      ['待审原因', heldReasons(o)],
      ['票数', `${o.votes.recorded} / ${o.votes.needed}`],
    ])}
    <div class="side-by-side">${sqlSide(p)} ${outputSide(p)}</div>
    <h2>检查</h2>
    ${checksTable(o.checks)}
    <h2>讨论</h2>
    ${threadTable(p.thread, (m) => m.author)}
    <h2>投票（独立：第二票之前看不到他人意见）</h2>
    ${votesView(s, o, draft)}`;
}

/** The SQL as submitted, and the API's own analysis of it with the SQL the sandbox ran. */
function sqlSide(p: Packet): Html {
  return html`<section aria-labelledby="h-sql">
    <h2 id="h-sql">提交的 SQL</h2>
    <pre class="sql"><code>${p.job.sql}</code></pre>
    ${
      p.analysis
        ? html`<h3>分析</h3>
            ${facts([
              ['方式', term(MODE, p.analysis.mode)],
              ['读取的表', html`<code>${p.analysis.tables.join(', ')}</code>`],
              ['读取的字段', html`<code>${p.analysis.readsColumns.join(', ')}</code>`],
              ['结果列', html`<code>${p.analysis.resultColumns.map((c) => `${c.name} ${c.type}`).join(', ')}</code>`],
            ])}
            <h3>沙箱实际运行的 SQL</h3>
            <pre class="sql"><code>${p.analysis.ranSql}</code></pre>`
        : ''
    }
  </section>`;
}

/** The output's first rows, and the same SQL on the dummy data. */
function outputSide(p: Packet): Html {
  return html`<section aria-labelledby="h-out">
    <h2 id="h-out">输出（前 ${p.preview.rows.length} 行，共 ${p.preview.totalRows} 行）</h2>
    ${resultTable('待审输出', p.preview.columns, p.preview.rows)}
    <h3>同一 SQL 在模拟数据上的结果</h3>
    ${
      p.dummy?.ok
        ? resultTable('模拟数据结果', p.dummy.columns, p.dummy.rows)
        : p.dummy
          ? html`<p>${problemText(p.dummy.code, p.dummy.message).primary}（<code>${p.dummy.code}</code>）</p>
              <p class="problem-detail" lang="en">${p.dummy.message}</p>`
          : html`<p>未运行</p>`
    }
  </section>`;
}

/** The reviewer's own vote (or the form for it), then the votes made public after the second. */
function votesView(s: Signed, o: Packet['output'], draft: Form): Html {
  const mine = o.reviews.find((r) => r.reviewer === s.session.principal.sub);
  return html`${
    mine
      ? html`<p class="notice ok" role="status">
          您已投票：${term(DECISION, mine.decision)}${mine.reason ? `（${mine.reason}）` : ''}
        </p>`
      : o.status === 'held'
        ? voteForm(s, o.id, draft)
        : ''
  }
  ${
    o.reviews.length
      ? table(
          '已公开的投票',
          ['审核人', '意见', '理由', '时间'],
          o.reviews.map((r) => [
            r.reviewer,
            term(DECISION, r.decision),
            r.reason ?? '—',
            shanghaiTime(r.reviewedAt, { offset: true }),
          ]),
        )
      : ''
  }`;
}

/** A reviewer's vote: nothing chosen until the reviewer chooses; a refused vote comes back as it was. */
function voteForm(s: Signed, id: string, form: Form): Html {
  const radio = (value: string, label: string) =>
    html`<label class="inline"
      ><input
        type="radio"
        name="decision"
        value="${value}"
        required
        ${one(form, 'decision') === value ? html` checked` : ''}
      />
      ${label}</label
    >`;
  return html`<form method="post" action="/console/outputs/${id}/reviews" class="stack card">
    ${csrfField(s.session)}
    <fieldset>
      <legend>您的意见</legend>
      ${radio('approve', '同意发布')} ${radio('request-changes', DECISION['request-changes']!)}
      ${radio('reject', DECISION.reject!)}
    </fieldset>
    <label for="vote-reason">理由（退回或拒绝时必填，运营单位可见）</label
    ><textarea id="vote-reason" name="reason" rows="2">${one(form, 'reason')}</textarea>
    <div class="actions"><button type="submit" class="primary">提交投票</button></div>
  </form>`;
}

function voteAction(scope: FastifyInstance, c: Console): void {
  formAction(
    scope,
    c,
    '/console/outputs/:id/reviews',
    (p) => `/console/outputs/${p.id!}/review`,
    async (s, form, p) => {
      const reason = one(form, 'reason');
      const o = await must(
        s.api.POST('/v1/outputs/{id}/reviews', {
          params: { path: { id: p.id! } },
          body: { decision: choice(form, 'decision', VOTES, '您的意见'), ...(reason ? { reason } : {}) },
        }),
      );
      const outcome = o.status === 'released' ? '已发布' : o.status === 'rejected' ? '被拒绝' : '退回修改';
      return { text: o.status === 'held' ? '已记录您的投票，等待第二位审核人。' : `投票已汇总：输出${outcome}。` };
    },
    {
      // either ends the output and deletes its data (docs/architecture.md §15): asked once more
      confirm: (form, p) => {
        const vote = choice(form, 'decision', VOTES, '您的意见');
        return vote === 'approve'
          ? undefined
          : {
              question: `${vote === 'reject' ? '拒绝' : '退回修改'}输出 ${p.id!}：第二票之后，该输出的数据将被删除，不可恢复。`,
              button: vote === 'reject' ? '确认拒绝' : '确认退回修改',
            };
      },
    },
  );
}
