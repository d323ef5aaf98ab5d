/**
 * The operator's SQL editor on a contract: validate, preview a dp query's ε and error, run it on
 * the dummy data, or submit it as a job.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, type Answer } from '../../client/index.ts';
import type { ContractClaims } from '../../contracts/index.ts';
import { MODE, problemText, term } from '../../terms/index.ts';
import { must, send, signedIn, signedPage, type Console, type Signed } from '../context.ts';
import { one, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { apiProblemView, csrfField, resultTable, table } from '../layout.ts';

type Contract = Answer<'getContract'>;

export function sqlPages(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string } }>(
    '/console/contracts/:id/sql',
    signedPage(c, async (s, req) => {
      const k = await must(s.api.GET('/v1/contracts/{id}', { params: { path: { id: req.params.id } } }));
      return ['分析 SQL', sqlEditor(s, k, {})];
    }),
  );

  scope.post<{ Params: { id: string }; Body: Form }>('/console/contracts/:id/sql', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const form = req.body ?? {};
    const contractId = req.params.id;
    const k = await must(s.api.GET('/v1/contracts/{id}', { params: { path: { id: contractId } } }));
    let result: Html;
    try {
      if (one(form, 'intent') === 'submit') {
        const job = await submitJob(s, contractId, form);
        s.session.flash = { kind: 'ok', text: `作业 ${job.id} 已提交。` };
        return reply.redirect(`/console/jobs/${job.id}`, 303);
      }
      result = await tryOut(s, contractId, form);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      result = apiProblemView(err);
    }
    return send(reply, s.session, '分析 SQL', sqlEditor(s, k, form, result));
  });
}

/** The SQL as a job, with its name and dp parameters. */
async function submitJob(s: Signed, contractId: string, form: Form): Promise<Answer<'submitJob'>> {
  const sql = one(form, 'sql');
  const dp = dpOf(form);
  const name = one(form, 'name');
  return must(s.api.POST('/v1/jobs', { body: { contractId, sql, ...dp, ...(name ? { name } : {}) } }));
}

/** What the SQL would do, short of a job: validated, its ε and error previewed, or run on the dummy data. */
async function tryOut(s: Signed, contractId: string, form: Form): Promise<Html> {
  const body = { contractId, sql: one(form, 'sql'), ...dpOf(form) };
  const intent = one(form, 'intent');
  if (intent === 'preview') return previewView(await must(s.api.POST('/v1/jobs/preview', { body })));
  if (intent === 'dummy') return dummyRunView(await must(s.api.POST('/v1/jobs/dummy-run', { body })));
  return validationView(await must(s.api.POST('/v1/jobs/validate', { body })));
}

function dummyRunView(run: Answer<'runOnDummyData'>): Html {
  return html`${validationView(run.validation)}${
    run.dummy?.ok
      ? html`<h2>模拟数据上的结果（每表 ${run.dummy.dummyRows} 行虚构数据，非真实结果）</h2>
          ${resultTable('模拟数据结果', run.dummy.columns, run.dummy.rows)}`
      : run.dummy
        ? html`<p class="notice warn" role="alert">在模拟数据上运行失败：${run.dummy.message}（${run.dummy.code}）</p>`
        : ''
  }`;
}

function sqlEditor(s: Signed, k: Contract, form: Form, result?: Html): Html {
  const claims = k.claims as unknown as ContractClaims;
  const dp = claims.mode === 'dp';
  return html`<p>
      合约
      <a href="/console/contracts/${k.id}">${k.id}</a
      >（${claims.scenario.name}）。可用表：${claims.datasets.map((d) => html`<code>${d.dataset}</code> `)}
    </p>
    <form method="post" action="/console/contracts/${k.id}/sql" class="stack">
      ${csrfField(s.session)}
      <label for="job-name">作业名称</label
      ><input id="job-name" name="name" maxlength="200" value="${one(form, 'name')}" />
      <label for="sql">SQL</label>
      <div class="sql-editor">
        <textarea id="sql" name="sql" rows="10" required spellcheck="false" autocapitalize="off" data-sql>
${one(form, 'sql')}</textarea>
      </div>
      ${dp ? dpFields(form) : ''}
      <div class="actions">
        <button type="submit" name="intent" value="validate">校验</button>
        ${dp ? html`<button type="submit" name="intent" value="preview">预览 ε 与误差</button>` : ''}
        <button type="submit" name="intent" value="dummy">在模拟数据上运行</button>
        <button type="submit" name="intent" value="submit" class="primary">提交作业</button>
      </div>
    </form>
    <section id="sql-result" aria-live="polite">${result ?? ''}</section>`;
}

/** A dp contract's query parameters: the value bounds, and how much one person may count. */
function dpFields(form: Form): Html {
  return html`<fieldset>
    <legend>差分隐私参数</legend>
    <label for="dp-bounds">取值范围（每行一列：列名=下限:上限，求和、均值、方差所需）</label>
    <textarea id="dp-bounds" name="dpBounds" rows="2" spellcheck="false" placeholder="cost=0:5000">
${one(form, 'dpBounds')}</textarea>
    <label for="dp-groups">每人最多计入的分组数（留空用政策默认值）</label
    ><input id="dp-groups" name="dpGroups" type="number" min="1" max="100" value="${one(form, 'dpGroups')}" />
    <label for="dp-rows">每人每组最多计入的行数（留空用政策默认值）</label
    ><input id="dp-rows" name="dpRows" type="number" min="1" max="100" value="${one(form, 'dpRows')}" />
  </fieldset>`;
}

/** The dp parameters of the SQL form: bounds one a line (`column=low:high`), groups and rows a person. */
function dpOf(form: Form): {
  dp?: { bounds: Record<string, number[]>; maxGroupsPerUnit?: number; maxRowsPerUnit?: number };
} {
  const lines = one(form, 'dpBounds')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const groups = one(form, 'dpGroups').trim();
  const rows = one(form, 'dpRows').trim();
  if (lines.length === 0 && !groups && !rows) return {};
  const bounds: Record<string, number[]> = {};
  for (const line of lines) {
    const m = /^([a-z_][a-z0-9_]*)\s*=\s*(-?\d+)\s*:\s*(-?\d+)$/.exec(line);
    if (!m) throw new ApiError(400, 'ERR_VALIDATION', `取值范围“${line}”应写作 列名=下限:上限，如 cost=0:5000`, {});
    bounds[m[1]!] = [Number(m[2]), Number(m[3])];
  }
  return {
    dp: {
      bounds,
      ...(groups ? { maxGroupsPerUnit: Number(groups) } : {}),
      ...(rows ? { maxRowsPerUnit: Number(rows) } : {}),
    },
  };
}

const KIND: Record<string, string> = {
  count: '行数',
  persons: '人数',
  sum: '求和',
  avg: '均值',
  variance: '方差',
  stddev: '标准差',
};

/** What a dp query would cost and how exact it would be (POST /v1/jobs/preview), before it runs. */
function previewView(p: Answer<'previewJob'>): Html {
  if (!p.validation.valid || !p.dp) return validationView(p.validation);
  const dp = p.dp;
  return html`${validationView(p.validation)}
    <div class="notice ${dp.affordable ? 'ok' : 'warn'}" role="status">
      <p>
        本次查询消耗 ε ${dp.epsilon}（δ
        ${dp.delta}）；${dp.affordable ? `执行后剩余 ε ${dp.remainingAfter}` : '剩余预算不足，无法执行'}。
        ${dp.threshold > 0 ? `带噪计数达到 ${dp.threshold} 的分组才显示。` : '分组键均为公开代码表：每个代码都显示，不按数据筛选。'}
      </p>
    </div>
    ${table(
      '各统计量的噪声与误差（95% 的发布值落在此范围内）',
      ['输出列', '统计量', '噪声尺度', '95% 误差'],
      dp.measures.map((m) => [
        m.name,
        `${KIND[m.kind] ?? m.kind}${m.column ? `（${m.column}）` : ''}`,
        m.noiseScale === null ? '—' : String(m.noiseScale),
        typeof m.error95 === 'number'
          ? `±${m.error95}`
          : m.error95.map((e) => `${e.units} 人时 ±${e.error95}`).join('；'),
      ]),
    )}`;
}

function validationView(v: Answer<'validateJob'>): Html {
  return v.valid
    ? html`<div class="notice ok" role="status">
        <p>
          校验通过（${term(MODE, v.mode)}）：读取 ${(v.tables ?? []).join('、')}；结果列
          ${(v.columns ?? []).map((c) => c.name).join('、')}。
        </p>
      </div>`
    : html`<div class="notice warn" role="alert">
        <p>未通过校验：</p>
        <ul>
          ${v.reasons.map(
            (r) =>
              html`<li>
                ${problemText(r.code, r.message, r).primary}（<code>${r.code}</code>${r.rule ? html`，规则 <code>${r.rule}</code>` : ''}）
                <span class="problem-detail" lang="en">${r.message}</span>
              </li>`,
          )}
        </ul>
      </div>`;
}
