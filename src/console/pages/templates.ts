/**
 * Query templates for operators: choose a contract, fill a template's parameters, run it as a job.
 * The API checks each parameter against its type; a refusal comes back with the values kept.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, type Answer } from '../../client/index.ts';
import { must, send, signedIn, type Console, type Signed } from '../context.ts';
import { one, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { csrfField } from '../layout.ts';

type Template = Answer<'listTemplates'>[number];
type Parameter = Template['parameters'][number];
const MODE_LABEL: Record<string, string> = { aggregate: '聚合统计', dp: '差分隐私', custom: '定制' };

/** One parameter's control: a select of its code list, a bounded number, a month. */
function control(t: Template, p: Parameter, values: Record<string, string>): Html {
  const id = `tp-${t.id}-${p.name}`;
  const value = values[p.name] ?? (p.default === undefined ? '' : String(p.default));
  const label = html`<label for="${id}">${p.label}</label>`;
  if (p.type === 'code')
    return html`${label}<select id="${id}" name="p:${p.name}" required>
        ${(p.codes ?? []).map((c) => html`<option value="${c}" ${c === value ? html` selected` : ''}>${c}</option>`)}
      </select>`;
  if (p.type === 'integer')
    return html`${label}<input
        id="${id}"
        name="p:${p.name}"
        type="number"
        step="1"
        min="${p.min ?? ''}"
        max="${p.max ?? ''}"
        value="${value}"
        required
      />`;
  return html`${label}<input
      id="${id}"
      name="p:${p.name}"
      type="month"
      min="${p.min ?? ''}"
      max="${p.max ?? ''}"
      value="${value}"
      placeholder="YYYY-MM"
      required
    />`;
}

function templateCard(s: Signed, contractId: string, t: Template, values: Record<string, string>): Html {
  return html`<section class="card" aria-labelledby="t-${t.id}">
    <h2 id="t-${t.id}">${t.title}</h2>
    <p>${t.description}</p>
    <details>
      <summary>模板 SQL（参数按类型校验后代入）</summary>
      <pre class="sql"><code>${t.sql}</code></pre>
    </details>
    <form method="post" action="/console/contracts/${contractId}/templates/${t.id}/run" class="stack">
      ${csrfField(s.session)} ${t.parameters.map((p) => control(t, p, values))}
      <div class="actions"><button type="submit" class="primary">运行模板 ${t.title}</button></div>
    </form>
  </section>`;
}

async function templatesPage(
  s: Signed,
  contractId: string,
  values: Record<string, string>,
  only?: string,
): Promise<Html> {
  const contracts = (await must(s.api.GET('/v1/contracts'))).filter((c) => c.status === 'active');
  const chooser = html`<form method="get" action="/console/templates" class="inline-form">
    <label for="contract">合约</label>
    <select id="contract" name="contract">
      ${contracts.map((c) => {
        // the API document leaves claims open (a signed document's claims); these two are always there
        const claims = c.claims as unknown as { scenario: { name: string }; mode: string };
        return html`<option value="${c.id}" ${c.id === contractId ? html` selected` : ''}>
          ${c.id}（${claims.scenario.name}，${MODE_LABEL[claims.mode] ?? claims.mode}）
        </option>`;
      })}
    </select>
    <button type="submit">查看可运行的模板</button>
  </form>`;
  if (!contractId)
    return html`<p>
        查询模板由数据主管部门审定发布；选择合约后填写参数即可运行，作业与自写 SQL 一样经过分析、披露控制与发布。
      </p>
      ${contracts.length ? chooser : html`<p class="empty">没有生效中的合约。</p>`}`;
  const list = await must(s.api.GET('/v1/templates', { params: { query: { contractId } } }));
  return html`${chooser}
  ${
    list.length === 0
      ? html`<p class="empty">此合约的模式与字段没有可运行的模板。</p>`
      : list.map((t) => templateCard(s, contractId, t, t.id === only ? values : {}))
  }`;
}

/** Values posted as p:<name>, kept for the page after a refusal. */
const parametersOf = (form: Form) =>
  Object.fromEntries(
    Object.keys(form)
      .filter((k) => k.startsWith('p:'))
      .map((k) => [k.slice(2), one(form, k)]),
  );

export function templatePages(scope: FastifyInstance, c: Console): void {
  scope.get<{ Querystring: { contract?: string } }>('/console/templates', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    return send(reply, s.session, '查询模板', await templatesPage(s, req.query.contract ?? '', {}));
  });

  scope.post<{ Params: { id: string; templateId: string }; Body: Form }>(
    '/console/contracts/:id/templates/:templateId/run',
    async (req, reply) => {
      const s = signedIn(c, req, reply);
      if (!s) return;
      const parameters = parametersOf(req.body ?? {});
      try {
        const job = await must(
          s.api.POST('/v1/contracts/{id}/templates/{templateId}/run', {
            params: { path: { id: req.params.id, templateId: req.params.templateId } },
            body: { parameters },
          }),
        );
        s.session.flash = { kind: 'ok', text: `模板作业 ${job.id} 已提交。` };
        return reply.redirect(`/console/jobs/${job.id}`, 303);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // the page again, with what was entered and the API's words (no redirect: the values stay)
        s.session.flash = { kind: 'error', text: `${err.detail}（${err.code}）` };
        const body = await templatesPage(s, req.params.id, parameters, req.params.templateId);
        return send(reply, s.session, '查询模板', body, err.status);
      }
    },
  );
}
