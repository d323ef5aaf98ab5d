/** The catalog: each dataset with its terms and columns; the provider's (or bureau's) withdrawal of one. */
import type { FastifyInstance } from 'fastify';
import type { Answer } from '../../client/index.ts';
import { ATTRIBUTE, CLASSIFICATION, IDENTIFIER_ROLE, maskingRule, term, UPDATE_CYCLE } from '../../terms/index.ts';
import { formAction, must, signedPage, type Console, type Signed } from '../context.ts';
import { one } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { csrfField, facts, table } from '../layout.ts';

type Dataset = Answer<'getCatalog'>['datasets'][number];

export function catalogPages(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/catalog',
    signedPage(c, async (s) => ['数据目录', catalogView(await must(s.api.GET('/v1/catalog')), s)]),
  );

  formAction(
    scope,
    c,
    '/console/datasets/:id/withdraw',
    () => '/console/catalog',
    async (s, f, p) => {
      await must(
        s.api.POST('/v1/datasets/{id}/withdraw', {
          params: { path: { id: p.id! } },
          body: { reason: one(f, 'reason') },
        }),
      );
      return { text: `数据集 ${p.id!} 已撤回：使用它的合约已暂停。` };
    },
    {
      // every contract using the dataset is suspended at once (seed 002): asked once more
      confirm: (_f, p) => ({
        question: `撤回数据集 ${p.id!}：使用它的所有合约将立即暂停，直到数据集恢复。`,
        button: '确认撤回',
      }),
    },
  );
}

function catalogView(catalog: Answer<'getCatalog'>, s?: Signed): Html {
  return html`${catalog.datasets.map(
    (d) =>
      html`<section class="card" aria-labelledby="ds-${d.name}">
        <h2 id="ds-${d.name}">${d.title} <code>${d.name}</code></h2>
        <p>${d.description ?? ''}</p>
        ${datasetFacts(d)} ${columnsTable(d)} ${s && mayWithdraw(s, d) ? withdrawForm(s, d) : ''}
      </section>`,
  )}`;
}

function datasetFacts(d: Dataset): Html {
  return facts([
    ['提供单位', `${d.providerName}（${d.provider}）`],
    ['更新周期', term(UPDATE_CYCLE, d.updateCycle)],
    [
      '共享 / 开放 / 运营属性',
      [d.attributes.sharing, d.attributes.open, d.attributes.operation].map((a) => term(ATTRIBUTE, a)).join(' / '),
    ],
    ['版本', d.version ? `v${d.version.version}，${d.version.rows.toLocaleString('zh-CN')} 行` : '暂无数据'],
    ...(d.sensitiveFacts
      ? ([['敏感事实', '每一行都是关于个人的敏感事实：仅授予差分隐私合同，在 ε 预算内分析']] as [string, string][])
      : []),
  ]);
}

function columnsTable(d: Dataset): Html {
  return table(
    `${d.title}的字段`,
    ['字段', '类型', '分级', '作用', '负面清单', '可选脱敏规则（默认在前）'],
    d.columns.map((c) => [
      html`<code>${c.name}</code> ${c.title ?? ''}`,
      html`<code>${c.type}</code>`,
      term(CLASSIFICATION, c.classification),
      term(IDENTIFIER_ROLE, c.role),
      c.negativeList ? html`<strong class="warn">是，不可申请</strong>` : c.dpOnly ? '仅差分隐私' : '否',
      c.masking
        ? [c.masking.default, ...c.masking.allowed.filter((r) => r !== c.masking!.default)].map(maskingRule).join('、')
        : '—',
    ]),
  );
}

/** The bureau, or the dataset's own provider. */
const mayWithdraw = (s: Signed, d: Dataset) =>
  s.session.principal.roles.includes('bureau') ||
  (s.session.principal.roles.includes('provider') && s.session.principal.org === d.provider);

function withdrawForm(s: Signed, d: Dataset): Html {
  return html`<form method="post" action="/console/datasets/${d.name}/withdraw" class="inline-form">
    ${csrfField(s.session)}
    <label for="wd-${d.name}">撤回理由（异议）</label>
    <input id="wd-${d.name}" name="reason" required maxlength="2000" />
    <button type="submit" class="danger">撤回数据集 ${d.name}</button>
  </form>`;
}
