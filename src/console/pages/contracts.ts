/**
 * Contracts: terms, status, the ε meter, the signature checked, the snapshot's progress before
 * signing; the bureau's lifecycle actions; the dummy data. The SQL editor is sql.ts.
 */
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Answer } from '../../client/index.ts';
import { CONTRACT_AUDIENCE, CONTRACT_ISSUER, CONTRACT_TYP, type ContractClaims } from '../../contracts/index.ts';
import {
  DESTRUCTION_KIND,
  DESTRUCTION_WHY,
  maskingRule,
  MODE,
  overrideText,
  shanghaiDate,
  shanghaiTime,
  term,
} from '../../terms/index.ts';
import { formAction, must, send, signedIn, signedPage, takeDraft, type Console, type Signed } from '../context.ts';
import { one, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { badge, csrfField, facts, table } from '../layout.ts';
import { assessmentAction, assessmentForm, assessmentsTable } from './assessments.ts';
import { jobRows } from './jobs.ts';

type Contract = Answer<'getContract'>;
type Budget = Answer<'getContractBudget'>;

/** The ε meter: a native <meter> (read by screen readers) with the figures in words beside it. */
function budgetMeter(b: Budget): Html {
  if (b.epsilon === null) return html`<p>非差分隐私合约，无 ε 预算。</p>`;
  return html`<p class="budget">
    <label for="eps-meter">ε 预算已用</label>
    <meter
      id="eps-meter"
      min="0"
      max="${b.epsilon}"
      low="${b.epsilon * 0.5}"
      high="${b.epsilon * 0.8}"
      optimum="0"
      value="${b.spent ?? 0}"
    >
      ${b.spent} / ${b.epsilon}
    </meter>
    <span
      >已用 ${b.spent} / ${b.epsilon}，剩余 ${b.remaining}（每次查询 ${b.epsilonPerQuery}，还可查询 ${b.queriesLeft}
      次）</span
    >
  </p>`;
}

/** The contract's signature checked against the bureau's published keys, as anyone holding it could. */
async function verifyJws(s: Signed, id: string): Promise<Html> {
  try {
    const [jws, jwks] = await Promise.all([
      must(s.api.GET('/v1/contracts/{id}/jws', { params: { path: { id } }, parseAs: 'text' })),
      must(s.api.GET('/.well-known/jwks.json')),
    ]);
    const { payload } = await jwtVerify(jws, createLocalJWKSet(jwks as never), {
      algorithms: ['EdDSA'],
      typ: CONTRACT_TYP,
      issuer: CONTRACT_ISSUER,
      audience: CONTRACT_AUDIENCE,
    });
    return payload.jti === id
      ? html`<span class="verified">签名有效（EdDSA，数据主管部门公钥）</span>`
      : html`<strong class="warn">签名有效但编号不符</strong>`;
  } catch (err) {
    return html`<strong class="warn">签名校验失败</strong>
      <span class="problem-detail" lang="en">${(err as Error).message}</span>`;
  }
}

/** What a contract is, signed or not: status, scenario, parties, mode, the disclosure terms. */
function decidedFacts(k: Contract): [string, unknown][] {
  const claims = k.claims as unknown as ContractClaims;
  return [
    ['状态', html`${badge(k.status)}${k.statusReason ? `（${k.statusReason}）` : ''}`],
    ['场景', claims.scenario.name],
    ['运营单位', k.operatorOrg],
    ['申请', html`<a href="/console/applications/${k.applicationId}">${k.applicationId}</a>`],
    ['查询方式', term(MODE, claims.mode)],
    ['最小单位数 k / 最多行数', `${claims.disclosure.minUnits} / ${claims.disclosure.maxRows}`],
  ];
}

/** What the page of a signed contract shows beside the contract itself, read at once. */
/**
 * The contract's destruction records (its snapshot, its outputs' data; docs/architecture.md §19),
 * for those who may read them: bureau and risk staff, the contract's operator.
 */
async function destructionSection(s: Signed, contractId: string): Promise<Html> {
  if (!['bureau', 'risk', 'operator'].some((r) => s.session.principal.roles.includes(r))) return html``;
  const { records } = await must(s.api.GET('/v1/destruction-records', { params: { query: { contract: contractId } } }));
  return html`<h2>数据销毁记录</h2>
    ${table(
      '销毁记录',
      ['销毁时间', '对象', '原因', '执行人', '记录'],
      records.map((r) => [
        r.destroyedAt ? shanghaiTime(r.destroyedAt) : '进行中',
        html`${term(DESTRUCTION_KIND, r.kind)} <code>${r.subjectId}</code>`,
        term(DESTRUCTION_WHY, r.why),
        r.by.sub === 'housekeeping' ? '定期清理' : r.by.sub,
        html`<code>${r.id}</code>（文件 ${r.files.length} 个，仅解除链接，未覆写）`,
      ]),
      { empty: '此合约的数据尚未销毁' },
    )}
    <p class="meta">
      离线校验：保存 GET /v1/destruction-records/{id} 的应答，运行 <code>pds verify-destruction</code>。
    </p>`;
}

interface ContractReads {
  budget: Budget;
  /** The signature checked (verifyJws). */
  verified: Html;
  jobs: Answer<'listJobs'>;
  assessments: Answer<'listAssessments'>;
}

/** A signed contract: its terms and signature, the ε budget, the grants, its jobs, lifecycle and assessments. */
function contractView(s: Signed, k: Contract, r: ContractReads, draft: Form = {}): Html {
  const roles = s.session.principal.roles;
  // a refused form comes back filled in: the draft names the form it came from (`form`)
  const mine = (form: string) => (one(draft, 'form') === form ? draft : {});
  return html`${signedFacts(k, r.verified)}
    <h2>ε 预算</h2>
    ${budgetMeter(r.budget)}
    <h2>授予的数据</h2>
    ${grantsTable(k)} ${roles.includes('operator') && k.status === 'active' ? operatorActions(k) : ''}
    <h2>作业</h2>
    ${jobRows(r.jobs)} ${roles.includes('bureau') || roles.includes('risk') ? lifecycleSection(s, k, mine) : ''}
    <h2>年度成效评估</h2>
    ${assessmentsTable(r.assessments)} ${roles.includes('bureau') ? assessmentForm(s, k.id, mine('assessment')) : ''}`;
}

function signedFacts(k: Contract, verified: Html): Html {
  const claims = k.claims as unknown as ContractClaims;
  return facts([
    ...decidedFacts(k),
    ['有效期', `${shanghaiDate(k.notBefore)} 至 ${shanghaiDate(k.expiresAt)}`],
    ['快照', `${claims.snapshot.hash.slice(0, 16)}…`],
    ['签名', verified],
    ['越过政策提示', claims.decisionOverride ? overrideText(claims.decisionOverride) : '无'],
  ]);
}

function grantsTable(k: Contract): Html {
  return table(
    '授予的字段',
    ['数据集', '字段', '规则'],
    (k.claims as unknown as ContractClaims).datasets.flatMap((g) =>
      g.columns.map((c) => [
        html`<code>${g.dataset}</code>`,
        html`<code>${c.column}</code>`,
        html`${maskingRule(c.rule)} <code>${c.rule}</code>`,
      ]),
    ),
  );
}

/** What an operator does with an active contract: write SQL, download the dummy data. */
function operatorActions(k: Contract): Html {
  return html`<p class="actions">
    <a class="button primary" href="/console/contracts/${k.id}/sql">编写分析 SQL</a>
    <a class="button" href="/console/contracts/${k.id}/dummy?format=duckdb">下载模拟数据（DuckDB）</a>
    <a class="button" href="/console/contracts/${k.id}/dummy?format=parquet">下载模拟数据（Parquet）</a>
  </p>`;
}

/** Suspend (bureau or risk staff), resume and revoke (the bureau), each with its reason. */
function lifecycleSection(s: Signed, k: Contract, mine: (form: string) => Form): Html {
  const bureau = s.session.principal.roles.includes('bureau');
  const lifecycle = (action: 'suspend' | 'resume' | 'revoke', label: string, danger = false) =>
    html`<form method="post" action="/console/contracts/${k.id}/${action}" class="stack inline-form">
      ${csrfField(s.session)}<input type="hidden" name="form" value="${action}" /><label for="r-${action}"
        >${label}的理由</label
      ><input id="r-${action}" name="reason" required maxlength="2000" value="${one(mine(action), 'reason')}" />
      <button type="submit" ${danger ? html` class="danger"` : ''}>${label}</button>
    </form>`;
  return html`<h2>合约管理</h2>
    <div class="grid">
      ${k.status === 'active' ? lifecycle('suspend', '暂停') : ''}
      ${bureau && k.status === 'suspended' ? lifecycle('resume', '恢复') : ''}
      ${bureau && (k.status === 'active' || k.status === 'suspended') ? lifecycle('revoke', '撤销', true) : ''}
    </div>`;
}

const PHASE: Record<string, string> = {
  waiting: '排队等待',
  counting: '统计主体',
  writing: '写入脱敏数据',
  assessing: '评估重识别风险',
  sealing: '计算快照摘要并签署',
  failed: '失败',
};

function buildText(b: NonNullable<Contract['build']>): string {
  return `${Math.round(b.done * 100)}%：${PHASE[b.phase] ?? b.phase}${b.table ? `（${b.table}）` : ''}；第 ${b.attempts} 次尝试${b.error ? `；上次错误：${b.error}` : ''}`;
}

/** A contract not signed yet: its snapshot build, how far it is, and (failed) the bureau's retry. */
function unsignedView(s: Signed, k: Contract): Html {
  const b = k.build!;
  const percent = Math.round(b.done * 100);
  return html`${facts(decidedFacts(k))}
    <h2>快照生成</h2>
    <section data-contract-build="${k.id}" ${k.status === 'building' ? html`data-live` : ''}>
      <p class="budget">
        <label for="build-meter">进度</label>
        <meter id="build-meter" min="0" max="100" value="${percent}">${percent}%</meter>
        <span data-build-text>${buildText(b)}</span>
      </p>
      <p role="status" data-build-note>
        ${
          k.status === 'building'
            ? '快照封存后，合约以其摘要签署并生效；本页自动更新进度。运营单位现在即可下载模拟数据编写查询。'
            : '快照未能生成，合约未签署、未生效。'
        }
      </p>
    </section>
    ${
      s.session.principal.roles.includes('operator')
        ? html`<p class="actions">
            <a class="button" href="/console/contracts/${k.id}/dummy?format=duckdb">下载模拟数据（DuckDB）</a>
          </p>`
        : ''
    }
    ${
      k.status === 'failed' && s.session.principal.roles.includes('bureau')
        ? html`<form method="post" action="/console/contracts/${k.id}/rebuild" class="stack inline-form">
            ${csrfField(s.session)}<label for="r-rebuild">重新生成的理由</label
            ><input id="r-rebuild" name="reason" required maxlength="2000" />
            <button type="submit">重新生成快照</button>
          </form>`
        : ''
    }`;
}

export function contractPages(scope: FastifyInstance, c: Console): void {
  contractList(scope, c);
  contractPage(scope, c);
  lifecycleActions(scope, c);
  assessmentAction(scope, c);
  dummyDownload(scope, c);
}

function contractList(scope: FastifyInstance, c: Console): void {
  scope.get(
    '/console/contracts',
    signedPage(c, async (s) => {
      const list = await must(s.api.GET('/v1/contracts'));
      return [
        '合约',
        table(
          '合约列表',
          ['编号', '场景', '运营单位', '状态', '到期'],
          list.map((k) => [
            html`<a href="/console/contracts/${k.id}">${k.id}</a>`,
            (k.claims as unknown as ContractClaims).scenario?.name ?? '—',
            k.operatorOrg,
            badge(k.status),
            shanghaiDate(k.expiresAt),
          ]),
          { empty: '暂无合约' },
        ),
      ];
    }),
  );
}

/** One contract: signed (contractView) or its snapshot still being built (unsignedView, and its progress). */
function contractPage(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string } }>(
    '/console/contracts/:id',
    signedPage(c, async (s, req) => {
      const path = { id: req.params.id };
      const k = await must(s.api.GET('/v1/contracts/{id}', { params: { path } }));
      if (k.build) return [`合约 ${k.id}`, unsignedView(s, k)];
      const [budget, verified, jobs, assessments, destroyed] = await Promise.all([
        must(s.api.GET('/v1/contracts/{id}/budget', { params: { path } })),
        verifyJws(s, k.id),
        must(s.api.GET('/v1/jobs', { params: { query: { contractId: k.id } } })),
        must(s.api.GET('/v1/contracts/{id}/assessments', { params: { path } })),
        destructionSection(s, k.id),
      ]);
      const draft = takeDraft(s.session, `/console/contracts/${k.id}`);
      const reads = { budget, verified, jobs, assessments };
      return [`合约 ${k.id}`, html`${contractView(s, k, reads, draft)}${destroyed}`];
    }),
  );

  // what console.js polls while a contract's snapshot is being built
  scope.get<{ Params: { id: string } }>('/console/contracts/:id/build', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const k = await must(s.api.GET('/v1/contracts/{id}', { params: { path: { id: req.params.id } } }));
    return reply.type('application/json').send({
      status: k.status,
      live: k.status === 'building',
      percent: Math.round((k.build?.done ?? 1) * 100),
      text: k.build ? buildText(k.build) : '',
      note:
        k.status === 'active'
          ? '快照已封存，合约已签署生效。'
          : k.status === 'failed'
            ? `快照未能生成：${k.statusReason ?? ''}`
            : '',
    });
  });
}

const toContract = (p: Record<string, string>) => `/console/contracts/${p.id!}`;

const DONE = { suspend: '合约已暂停。', resume: '合约已恢复。', revoke: '合约已撤销。' } as const;
// suspension stops every job of the contract at once; revocation is final (docs/architecture.md §7)
const ASK = {
  suspend: (id: string) => ({
    question: `暂停合约 ${id}：运营单位的作业将立即停止，直到数据主管部门恢复。`,
    button: '确认暂停',
  }),
  revoke: (id: string) => ({
    question: `撤销合约 ${id}：撤销不可恢复，该合约不能再用于任何作业。`,
    button: '确认撤销',
  }),
} as const;

/** The bureau's retry of a failed snapshot; suspend, resume and revoke, each with its reason. */
function lifecycleActions(scope: FastifyInstance, c: Console): void {
  formAction(scope, c, '/console/contracts/:id/rebuild', toContract, async (s, form, p) => {
    await must(
      s.api.POST('/v1/contracts/{id}/rebuild', {
        params: { path: { id: p.id! } },
        body: { reason: one(form, 'reason') },
      }),
    );
    return { text: '已重新开始生成快照。' };
  });
  for (const action of ['suspend', 'resume', 'revoke'] as const) {
    formAction(
      scope,
      c,
      `/console/contracts/:id/${action}`,
      toContract,
      async (s, form, p) => {
        await must(
          s.api.POST(`/v1/contracts/{id}/${action}`, {
            params: { path: { id: p.id! } },
            body: { reason: one(form, 'reason') },
          }),
        );
        return { text: DONE[action] };
      },
      action === 'resume' ? {} : { confirm: (_form, p) => ASK[action](p.id!) },
    );
  }
}

function dummyDownload(scope: FastifyInstance, c: Console): void {
  scope.get<{ Params: { id: string }; Querystring: { format?: string } }>(
    '/console/contracts/:id/dummy',
    async (req, reply) => {
      const s = signedIn(c, req, reply);
      if (!s) return;
      const format = req.query.format === 'parquet' ? 'parquet' : 'duckdb';
      const bytes = await must(
        s.api.GET('/v1/contracts/{id}/dummy-data', {
          params: { path: { id: req.params.id }, query: { format } },
          parseAs: 'arrayBuffer',
        }),
      );
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${req.params.id}-dummy.${format}"`)
        .send(Buffer.from(bytes as ArrayBuffer));
    },
  );
}
