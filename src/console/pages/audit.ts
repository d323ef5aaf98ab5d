/** The audit trail for risk staff: common filters, a filter form, the whole chain verified, the entries. */
import type { FastifyInstance } from 'fastify';
import type { Answer } from '../../client/index.ts';
import { auditBreakText, ROLE, shanghaiTime, term } from '../../terms/index.ts';
import { must, signedPage, type Console } from '../context.ts';
import { int, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { table } from '../layout.ts';

type AuditQuery = { action?: string; objectId?: string; after?: string; verify?: string };

/** What risk staff look for most: suspensions, withdrawals, refused jobs and escape attempts. */
const AUDIT_PRESETS: [string, string][] = [
  ['contract.suspended', '合约暂停'],
  ['contract.revoked', '合约撤销'],
  ['dataset.withdrawn', '数据集撤回'],
  ['job.rejected', '被拒绝的作业'],
  ['job.validation_refused', '校验时拒绝（逃逸或单独识别）'],
  ['console.signed_in', '控制台登录'],
];

export function auditPages(scope: FastifyInstance, c: Console): void {
  scope.get<{ Querystring: AuditQuery }>(
    '/console/audit',
    signedPage(c, async (s, req) => {
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
      return ['审计日志', html`${auditFilters(q)} ${verified ? verifiedNotice(verified) : ''} ${auditTable(entries)}`];
    }),
  );
}

/** The presets, the filter form (kept as it was sent) and the button that verifies the chain. */
function auditFilters(q: AuditQuery): Html {
  return html`<nav aria-label="常用筛选" class="actions">
      ${AUDIT_PRESETS.map(([action, label]) => html`<a class="button" href="/console/audit?action=${action}">${label}</a>`)}
    </nav>
    <form method="get" action="/console/audit" class="filters">
      <label for="f-action">操作</label
      ><input id="f-action" name="action" value="${q.action ?? ''}" maxlength="64" placeholder="如 job.rejected" />
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
    </form>`;
}

/** The whole chain and its signed checkpoints verified, or where it breaks. */
function verifiedNotice(verified: Answer<'verifyAuditTrail'>): Html {
  return verified.ok
    ? html`<p class="notice ok verified" role="status">
        审计链完整：${verified.entries} 条记录，${verified.checkpoints ?? 0} 个签名检查点，链头
        <code class="hash">${verified.headHash}</code>
      </p>`
    : html`<p class="notice warn" role="alert">
        审计链断裂：${verified.firstBad ? auditBreakText(verified.firstBad) : ''}。
        <span class="problem-detail" lang="en">${verified.firstBad?.reason}</span>
      </p>`;
}

function auditTable(entries: Answer<'listAuditEntries'>['entries']): Html {
  return table(
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
  );
}
