/** Applications: the catalog, the form with its live risk preview, provider reviews, the bureau's decision. */
import type { FastifyInstance } from 'fastify';
import { ApiError, type Answer, type Body } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import {
  ATTRIBUTE,
  CLASSIFICATION,
  DECISION,
  IDENTIFIER_ROLE,
  maskingRule,
  MODE,
  errorText,
  policyWarningText,
  shanghaiDate,
  shanghaiTime,
  term,
  UPDATE_CYCLE,
} from '../../terms/index.ts';
import { act, formAction, must, send, signedIn, takeDraft, type Console, type Signed } from '../context.ts';
import { choice, many, one, int, lines, num, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { badge, csrfField, facts, problemView, table } from '../layout.ts';
import { maskField, maskingControl, ruleFromForm } from '../masking-choice.ts';

type Catalog = Answer<'getCatalog'>;
type Application = Answer<'getApplication'>;
type Preview = Answer<'previewApplication'>;

/** The modes as the application form offers them (docs/glossary.md 模式). */
const MODE_CHOICE: Record<string, string> = { ...MODE, custom: `${MODE.custom}（人工审核输出）` };
/** A masking rule in words (its machine form is the option's value). */
const ruleLabel = (rule: string) => maskingRule(rule);
/** A radio that is checked only when the form being refilled chose it (nothing is preselected). */
const checkedIf = (form: Form, name: string, value: string) => (one(form, name) === value ? html` checked` : '');

export function catalogView(catalog: Catalog, s?: Signed): Html {
  return html`${catalog.datasets.map(
    (d) =>
      html`<section class="card" aria-labelledby="ds-${d.name}">
        <h2 id="ds-${d.name}">${d.title} <code>${d.name}</code></h2>
        <p>${d.description ?? ''}</p>
        ${facts([
          ['提供单位', `${d.providerName}（${d.provider}）`],
          ['更新周期', term(UPDATE_CYCLE, d.updateCycle)],
          [
            '共享 / 开放 / 运营属性',
            [d.attributes.sharing, d.attributes.open, d.attributes.operation]
              .map((a) => term(ATTRIBUTE, a))
              .join(' / '),
          ],
          ['版本', d.version ? `v${d.version.version}，${d.version.rows.toLocaleString('zh-CN')} 行` : '暂无数据'],
          ...(d.sensitiveFacts
            ? ([['敏感事实', '每一行都是关于个人的敏感事实：仅授予差分隐私合同，在 ε 预算内分析']] as [
                string,
                string,
              ][])
            : []),
        ])}
        ${table(
          `${d.title}的字段`,
          ['字段', '类型', '分级', '作用', '负面清单', '可选脱敏规则（默认在前）'],
          d.columns.map((c) => [
            html`<code>${c.name}</code> ${c.title ?? ''}`,
            html`<code>${c.type}</code>`,
            term(CLASSIFICATION, c.classification),
            term(IDENTIFIER_ROLE, c.role),
            c.negativeList ? html`<strong class="warn">是，不可申请</strong>` : c.dpOnly ? '仅差分隐私' : '否',
            c.masking
              ? [c.masking.default, ...c.masking.allowed.filter((r) => r !== c.masking!.default)]
                  .map(maskingRule)
                  .join('、')
              : '—',
          ]),
        )}
        ${
          s &&
          (s.session.principal.roles.includes('bureau') ||
            (s.session.principal.roles.includes('provider') && s.session.principal.org === d.provider))
            ? html`<form method="post" action="/console/datasets/${d.name}/withdraw" class="inline-form">
                ${csrfField(s.session)}
                <label for="wd-${d.name}">撤回理由（异议）</label>
                <input id="wd-${d.name}" name="reason" required maxlength="2000" />
                <button type="submit" class="danger">撤回数据集 ${d.name}</button>
              </form>`
            : ''
        }
      </section>`,
  )}`;
}

/** The application's body from the form: datasets ticked, their columns ticked, a rule per column. */
function applicationFrom(form: Form, catalog: Catalog): Body<'createApplication'> {
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
      g.columns.map((c) => [html`<code>${g.dataset}</code>`, html`<code>${c.column}</code>`, ruleLabel(c.rule)]),
    ),
  )}`;
}

function applicationForm(s: Signed, catalog: Catalog, form: Form, preview?: Html): Html {
  const ticked = new Set(many(form, 'ds'));
  const fresh = Object.keys(form).length === 0;
  return html`<form
    method="post"
    action="/console/applications"
    class="stack"
    data-preview="/console/applications/preview"
  >
    ${csrfField(s.session)}
    <fieldset>
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
    </fieldset>
    ${catalog.datasets.map(
      (d) =>
        html`<fieldset class="dataset">
          <legend>${d.title}（${d.name}）</legend>
          <label class="inline"
            ><input type="checkbox" name="ds" value="${d.name}" ${ticked.has(d.name) ? html` checked` : ''} />
            申请此数据集</label
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
                ${d.columns.map((c) => {
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
                })}
              </tbody>
            </table>
          </div>
        </fieldset>`,
    )}
    <fieldset>
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
    </fieldset>
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
        html`${badge(r.status)}${r.overdue ? html` <strong class="warn">已逾期</strong>` : ''}`,
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

export function applicationPages(scope: FastifyInstance, c: Console): void {
  scope.get('/console/catalog', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    return send(reply, s.session, '数据目录', catalogView(await must(s.api.GET('/v1/catalog')), s));
  });

  scope.get('/console/applications', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const apps = await must(s.api.GET('/v1/applications'));
    return send(
      reply,
      s.session,
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
    );
  });

  scope.get('/console/applications/new', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    return send(reply, s.session, '新建申请', applicationForm(s, await must(s.api.GET('/v1/catalog')), {}));
  });

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

  scope.get<{ Params: { id: string } }>('/console/applications/:id', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const a = await must(s.api.GET('/v1/applications/{id}', { params: { path: { id: req.params.id } } }));
    const draft = takeDraft(s.session, `/console/applications/${req.params.id}`);
    return send(reply, s.session, `申请 ${a.id}`, applicationView(s, a, draft));
  });

  const toApplication = (p: Record<string, string>) => `/console/applications/${p.id!}`;
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

async function previewHtml(s: Signed, body: Body<'createApplication'>): Promise<Html> {
  if (body.datasets.length === 0 || body.datasets.some((d) => d.columns.length === 0))
    return html`<p>请至少勾选一个数据集及其字段。</p>`;
  try {
    return riskView(
      await must(s.api.POST('/v1/applications/preview', { body: { mode: body.mode, datasets: body.datasets } })),
    );
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const { primary, secondary } = errorText(err);
    return problemView(primary, err.code, secondary);
  }
}
