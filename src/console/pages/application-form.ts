/**
 * The operator's application form (one scenario, its datasets and columns with a masking rule each,
 * the emergency plan) and its risk preview, live as the form changes when a script runs.
 */
import { ApiError, type Answer, type Body } from '../../client/index.ts';
import { maskingRule, MODE, policyWarningText } from '../../terms/index.ts';
import { must, type Signed } from '../context.ts';
import { int, lines, many, one, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { apiProblemView, csrfField, table } from '../layout.ts';
import { maskField, maskingControl, ruleFromForm } from '../masking-choice.ts';

type Catalog = Answer<'getCatalog'>;
type Dataset = Catalog['datasets'][number];
type Preview = Answer<'previewApplication'>;

/** The modes as the application form offers them (docs/glossary.md 模式). */
const MODE_CHOICE: Record<string, string> = { ...MODE, custom: `${MODE.custom}（人工审核输出）` };

export function applicationForm(s: Signed, catalog: Catalog, form: Form, preview?: Html): Html {
  return html`<form
    method="post"
    action="/console/applications"
    class="stack"
    data-preview="/console/applications/preview"
  >
    ${csrfField(s.session)} ${scenarioFields(form)} ${catalog.datasets.map((d) => datasetFields(d, form))}
    ${emergencyPlanFields(form)}
    <section id="risk-preview" aria-live="polite" aria-labelledby="risk-h">
      <h2 id="risk-h">风险预览</h2>
      ${preview ?? html`<p>勾选数据集与字段后点“预览风险”（启用脚本时自动更新）。</p>`}
    </section>
    <div class="actions">
      <button type="submit" name="intent" value="preview">预览风险</button>
      <button type="submit" name="intent" value="submit" class="primary">提交申请</button>
    </div>
  </form>`;
}

function scenarioFields(form: Form): Html {
  return html`<fieldset>
    <legend>场景（一场景一申请）</legend>
    <label for="name">场景名称</label
    ><input id="name" name="name" required maxlength="200" value="${one(form, 'name')}" />
    <label for="purpose">用途</label
    ><textarea id="purpose" name="purpose" required maxlength="2000" rows="3">${one(form, 'purpose')}</textarea>
    <label class="inline"
      ><input type="checkbox" name="paid" ${one(form, 'paid') === 'on' ? html` checked` : ''} /> 有偿使用</label
    >
    <label for="mode">查询方式</label>
    <select id="mode" name="mode">
      ${Object.entries(MODE_CHOICE).map(
        ([v, l]) => html`<option value="${v}" ${one(form, 'mode') === v ? html` selected` : ''}>${l}</option>`,
      )}
    </select>
    <label for="termMonths">期限（月，最长 36）</label
    ><input
      id="termMonths"
      name="termMonths"
      type="number"
      min="1"
      max="36"
      value="${one(form, 'termMonths') || '12'}"
    />
  </fieldset>`;
}

/** One dataset: ticked to apply for it, then each column ticked with its masking rule. */
function datasetFields(d: Dataset, form: Form): Html {
  const ticked = many(form, 'ds').includes(d.name);
  return html`<fieldset class="dataset">
    <legend>${d.title}（${d.name}）</legend>
    <label class="inline"
      ><input type="checkbox" name="ds" value="${d.name}" ${ticked ? html` checked` : ''} /> 申请此数据集</label
    >
    <div class="table-wrap" role="region" tabindex="0" aria-label="${d.title}的字段与脱敏规则">
      <table>
        <caption>
          ${d.title}：字段与脱敏规则
        </caption>
        <thead>
          <tr>
            <th scope="col">申请</th>
            <th scope="col">字段</th>
            <th scope="col">脱敏规则</th>
          </tr>
        </thead>
        <tbody>
          ${d.columns.map((c) => columnRow(d, c, form))}
        </tbody>
      </table>
    </div>
  </fieldset>`;
}

function columnRow(d: Dataset, c: Dataset['columns'][number], form: Form): Html {
  const id = `${d.name}-${c.name}`;
  if (c.negativeList || !c.masking)
    return html`<tr>
      <td>—</td>
      <td><code>${c.name}</code> ${c.title ?? ''}</td>
      <td>${c.negativeList ? '负面清单，不可申请' : '不可授予'}</td>
    </tr>`;
  const cols = many(form, `col:${d.name}`);
  return html`<tr>
    <td>
      <input
        type="checkbox"
        id="col-${id}"
        name="col:${d.name}"
        value="${c.name}"
        ${cols.includes(c.name) ? html` checked` : ''}
        aria-label="申请字段 ${d.name}.${c.name}"
      />
    </td>
    <td>
      <label for="col-${id}"><code>${c.name}</code> ${c.title ?? ''}</label>
    </td>
    <td>${maskingControl(d.name, { ...c, masking: c.masking }, form)}</td>
  </tr>`;
}

/** The emergency plan, filled with a first suggestion on a fresh form. */
function emergencyPlanFields(form: Form): Html {
  const fresh = Object.keys(form).length === 0;
  return html`<fieldset>
    <legend>应急预案（一场景一预案）</legend>
    <label for="contact">联系人</label
    ><input id="contact" name="contact" required maxlength="200" value="${one(form, 'contact')}" />
    <label for="triggers">触发条件（每行一条）</label
    ><textarea id="triggers" name="triggers" rows="2" required>
${fresh ? '疑似重识别\n输出异常' : one(form, 'triggers')}</textarea>
    <label for="actions">处置措施（每行一条）</label
    ><textarea id="actions" name="actions" rows="2" required>
${fresh ? '立即暂停合约\n通知数据局' : one(form, 'actions')}</textarea>
    <label for="securityControls">安全措施（每行一条）</label
    ><textarea id="securityControls" name="securityControls" rows="2">
${fresh ? '仅在沙箱内分析\n输出经披露控制' : one(form, 'securityControls')}</textarea>
  </fieldset>`;
}

/** The application's body from the form: datasets ticked, their columns ticked, a rule per column. */
export function applicationFrom(form: Form, catalog: Catalog): Body<'createApplication'> {
  const datasets = many(form, 'ds').map((dataset) => {
    const columns = many(form, `col:${dataset}`);
    const known = catalog.datasets.find((d) => d.name === dataset)?.columns ?? [];
    const ruleOf = (name: string) => {
      const c = known.find((k) => k.name === name);
      return c?.masking
        ? ruleFromForm(form, dataset, { ...c, masking: c.masking })
        : one(form, maskField(dataset, name));
    };
    const masking = Object.fromEntries(columns.map((c) => [c, ruleOf(c)] as const).filter(([, r]) => r !== ''));
    return { dataset, columns, ...(Object.keys(masking).length ? { masking } : {}) };
  });
  const controls = lines(form, 'securityControls');
  return {
    scenario: { name: one(form, 'name'), purpose: one(form, 'purpose'), paid: one(form, 'paid') === 'on' },
    mode: one(form, 'mode') as 'aggregate',
    termMonths: int(form, 'termMonths') ?? 12,
    datasets,
    emergencyPlan: {
      contact: one(form, 'contact'),
      triggers: lines(form, 'triggers'),
      actions: lines(form, 'actions'),
    },
    ...(controls.length ? { securityControls: controls } : {}),
  };
}

/** The risk preview of an application not filed yet, or the API's refusal of it. */
export async function previewHtml(s: Signed, body: Body<'createApplication'>): Promise<Html> {
  if (body.datasets.length === 0 || body.datasets.some((d) => d.columns.length === 0))
    return html`<p>请至少勾选一个数据集及其字段。</p>`;
  try {
    return riskView(
      await must(s.api.POST('/v1/applications/preview', { body: { mode: body.mode, datasets: body.datasets } })),
    );
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return apiProblemView(err);
  }
}

/** Classes smaller than the policy's k, from the size distribution (its buckets: 1, 2, 3-4, 5-9, 10-19 …). */
function classesBelowK(r: { policyK: number; classSizes: { size: string; classes: number }[] }): string {
  let n = 0;
  let inexact = false;
  for (const b of r.classSizes) {
    const lo = Number(b.size.split(/[-+]/)[0]);
    const hi = b.size.endsWith('+') ? Infinity : Number(b.size.split('-').at(-1));
    if (hi < r.policyK) n += b.classes;
    else if (lo < r.policyK) inexact = true;
  }
  return inexact ? `至少 ${n} 个` : `${n} 个`;
}

/** Notices and policy warnings, the re-identification risk per dataset, and the grants with their rules. */
export function riskView(preview: Pick<Preview, 'grants' | 'risk' | 'warnings' | 'notices'>): Html {
  return html`${
    preview.notices.length
      ? html`<div class="notice" role="note">
          <h3>敏感事实数据集</h3>
          <ul>
            ${preview.notices.map((w) => html`<li>${w}</li>`)}
          </ul>
        </div>`
      : ''
  }${
    preview.warnings.length
      ? html`<div class="notice warn" role="note">
          <h3>政策提示</h3>
          <ul>
            ${preview.warnings.map((w) => html`<li>${policyWarningText(w)}</li>`)}
          </ul>
          <p>批准此申请需要数据主管部门写明越过政策提示的理由。</p>
        </div>`
      : html`<p class="notice ok">风险预览符合政策。</p>`
  }
  ${table(
    '重识别风险（按数据集）',
    ['数据集', 'k（最小等价类）', '政策 k', '检察官风险', '平均风险', '低于 k 的等价类', '低于 k 的记录'],
    Object.entries(preview.risk ?? {}).map(([ds, r]) =>
      r
        ? [
            html`<code>${ds}</code>`,
            r.k,
            r.policyK,
            r.prosecutorRisk.toFixed(3),
            r.averageRisk.toFixed(4),
            classesBelowK(r),
            `${r.recordsBelowK}（${(r.shareBelowK * 100).toFixed(1)}%）`,
          ]
        : [html`<code>${ds}</code>`, '—', '—', '—', '—', '—', '暂无数据'],
    ),
  )}
  ${table(
    '授予的字段与脱敏规则',
    ['数据集', '字段', '规则'],
    preview.grants.flatMap((g) =>
      g.columns.map((c) => [html`<code>${g.dataset}</code>`, html`<code>${c.column}</code>`, maskingRule(c.rule)]),
    ),
  )}`;
}
