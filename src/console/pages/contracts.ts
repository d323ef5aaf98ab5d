/** Contracts: terms, status, the ε meter, the signature checked; the bureau's lifecycle actions; the SQL editor. */
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { ApiError, type Answer } from '../../client/index.ts';
import { CONTRACT_AUDIENCE, CONTRACT_ISSUER, CONTRACT_TYP, type ContractClaims } from '../../contracts/index.ts';
import {
  DESTRUCTION_KIND,
  DESTRUCTION_WHY,
  maskingRule,
  MODE,
  problemText,
  shanghaiDate,
  shanghaiTime,
  term,
} from '../../terms/index.ts';
import { formAction, must, send, signedIn, takeDraft, type Console, type Signed } from '../context.ts';
import { choice, int, lines, one, type Form } from '../forms.ts';
import { cell, html, type Html } from '../html.ts';
import { badge, csrfField, facts, problemView, table } from '../layout.ts';
import { jobRows } from './jobs.ts';
import { PdsError } from '../../errors/index.ts';

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

/**
 * The contract's destruction records (its snapshot, its outputs' data; docs/architecture.md §18),
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

function contractView(
  s: Signed,
  k: Contract,
  budget: Budget,
  verified: Html,
  jobs: Answer<'listJobs'>,
  assessments: Answer<'listAssessments'>,
  draft: Form = {},
): Html {
  const claims = k.claims as unknown as ContractClaims;
  const roles = s.session.principal.roles;
  // a refused form comes back filled in: the draft names the form it came from (`form`)
  const mine = (form: string) => (one(draft, 'form') === form ? draft : {});
  const lifecycle = (action: 'suspend' | 'resume' | 'revoke', label: string, danger = false) =>
    html`<form method="post" action="/console/contracts/${k.id}/${action}" class="stack inline-form">
      ${csrfField(s.session)}<input type="hidden" name="form" value="${action}" /><label for="r-${action}"
        >${label}的理由</label
      ><input id="r-${action}" name="reason" required maxlength="2000" value="${one(mine(action), 'reason')}" />
      <button type="submit" ${danger ? html` class="danger"` : ''}>${label}</button>
    </form>`;
  return html`${facts([
      ...decidedFacts(k),
      ['有效期', `${shanghaiDate(k.notBefore)} 至 ${shanghaiDate(k.expiresAt)}`],
      ['快照', `${claims.snapshot.hash.slice(0, 16)}…`],
      ['签名', verified],
      [
        '越过政策提示',
        claims.decisionOverride ? `${claims.decisionOverride.reason}（${claims.decisionOverride.by}）` : '无',
      ],
    ])}
    <h2>ε 预算</h2>
    ${budgetMeter(budget)}
    <h2>授予的数据</h2>
    ${table(
      '授予的字段',
      ['数据集', '字段', '规则'],
      claims.datasets.flatMap((g) =>
        g.columns.map((c) => [
          html`<code>${g.dataset}</code>`,
          html`<code>${c.column}</code>`,
          html`${maskingRule(c.rule)} <code>${c.rule}</code>`,
        ]),
      ),
    )}
    ${
      roles.includes('operator') && k.status === 'active'
        ? html`<p class="actions">
            <a class="button primary" href="/console/contracts/${k.id}/sql">编写分析 SQL</a>
            <a class="button" href="/console/contracts/${k.id}/dummy?format=duckdb">下载模拟数据（DuckDB）</a>
            <a class="button" href="/console/contracts/${k.id}/dummy?format=parquet">下载模拟数据（Parquet）</a>
          </p>`
        : ''
    }
    <h2>作业</h2>
    ${jobRows(jobs)}
    ${
      roles.includes('bureau') || roles.includes('risk')
        ? html`<h2>合约管理</h2>
            <div class="grid">
              ${k.status === 'active' ? lifecycle('suspend', '暂停') : ''}
              ${roles.includes('bureau') && k.status === 'suspended' ? lifecycle('resume', '恢复') : ''}
              ${roles.includes('bureau') && (k.status === 'active' || k.status === 'suspended') ? lifecycle('revoke', '撤销', true) : ''}
            </div>`
        : ''
    }
    <h2>年度成效评估</h2>
    ${table(
      '成效评估',
      ['年度', '结论', '指标', '评估人', '记录'],
      assessments.map((a) => [
        a.year,
        a.passed ? '通过' : html`<strong class="warn">未通过</strong>`,
        a.indicators
          .map(
            (i) =>
              `${i.name}：${i.value ?? '未测量'}${i.target !== undefined && i.target !== null ? ` / ${i.target}` : ''}${i.met ? '' : '（未达标）'}`,
          )
          .join('；'),
        a.assessor,
        `${a.recordedBy}，${shanghaiDate(a.recordedAt)}`,
      ]),
      { empty: '暂无评估' },
    )}
    ${
      roles.includes('bureau')
        ? html`<form method="post" action="/console/contracts/${k.id}/assessments" class="stack card">
            ${csrfField(s.session)}
            <h3>记录评估（seed 002 第三十五条）</h3>
            <label for="as-year">年度</label
            ><input
              id="as-year"
              name="year"
              type="number"
              min="2000"
              max="2200"
              required
              value="${new Date().getFullYear()}"
            />
            <label for="as-ind"
              >指标（每行一条：名称=实际值/目标值=是否达标，如 服务企业数=120/100=是；未测量的写“未测量”）</label
            >
            <textarea id="as-ind" name="indicators" rows="3" required>
${one(mine('assessment'), 'indicators')}</textarea>
            <input type="hidden" name="form" value="assessment" />
            <fieldset>
              <legend>结论</legend>
              <label class="inline"
                ><input
                  type="radio"
                  name="passed"
                  value="true"
                  required
                  ${one(mine('assessment'), 'passed') === 'true' ? html` checked` : ''}
                />
                通过</label
              >
              <label class="inline"
                ><input
                  type="radio"
                  name="passed"
                  value="false"
                  ${one(mine('assessment'), 'passed') === 'false' ? html` checked` : ''}
                />
                未通过</label
              >
            </fieldset>
            <label for="as-who">评估人</label
            ><input
              id="as-who"
              name="assessor"
              required
              maxlength="200"
              value="${one(mine('assessment'), 'assessor')}"
            />
            <label for="as-notes">说明</label
            ><textarea id="as-notes" name="notes" rows="2">${one(mine('assessment'), 'notes')}</textarea>
            <div class="actions"><button type="submit">记录评估</button></div>
          </form>`
        : ''
    }`;
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

function sqlEditor(s: Signed, k: Contract, form: Form, result?: Html): Html {
  const sql = one(form, 'sql');
  return html`<p>
      合约
      <a href="/console/contracts/${k.id}">${k.id}</a
      >（${(k.claims as unknown as ContractClaims).scenario.name}）。可用表：${(k.claims as unknown as ContractClaims).datasets.map((d) => html`<code>${d.dataset}</code> `)}
    </p>
    <form method="post" action="/console/contracts/${k.id}/sql" class="stack">
      ${csrfField(s.session)}
      <label for="job-name">作业名称</label
      ><input id="job-name" name="name" maxlength="200" value="${one(form, 'name')}" />
      <label for="sql">SQL</label>
      <div class="sql-editor">
        <textarea id="sql" name="sql" rows="10" required spellcheck="false" autocapitalize="off" data-sql>
${sql}</textarea>
      </div>
      ${
        (k.claims as unknown as ContractClaims).mode === 'dp'
          ? html`<fieldset>
              <legend>差分隐私参数</legend>
              <label for="dp-bounds">取值范围（每行一列：列名=下限:上限，求和、均值、方差所需）</label>
              <textarea id="dp-bounds" name="dpBounds" rows="2" spellcheck="false" placeholder="cost=0:5000">
${one(form, 'dpBounds')}</textarea>
              <label for="dp-groups">每人最多计入的分组数（留空用政策默认值）</label
              ><input id="dp-groups" name="dpGroups" type="number" min="1" max="100" value="${one(form, 'dpGroups')}" />
              <label for="dp-rows">每人每组最多计入的行数（留空用政策默认值）</label
              ><input id="dp-rows" name="dpRows" type="number" min="1" max="100" value="${one(form, 'dpRows')}" />
            </fieldset>`
          : ''
      }
      <div class="actions">
        <button type="submit" name="intent" value="validate">校验</button>
        ${
          (k.claims as unknown as ContractClaims).mode === 'dp'
            ? html`<button type="submit" name="intent" value="preview">预览 ε 与误差</button>`
            : ''
        }
        <button type="submit" name="intent" value="dummy">在模拟数据上运行</button>
        <button type="submit" name="intent" value="submit" class="primary">提交作业</button>
      </div>
    </form>
    <section id="sql-result" aria-live="polite">${result ?? ''}</section>`;
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
                ${problemText(r.code, r.message).primary}（<code>${r.code}</code>${r.rule ? html`，规则 <code>${r.rule}</code>` : ''}）
                <span class="problem-detail" lang="en">${r.message}</span>
              </li>`,
          )}
        </ul>
      </div>`;
}

export function contractPages(scope: FastifyInstance, c: Console): void {
  scope.get('/console/contracts', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const list = await must(s.api.GET('/v1/contracts'));
    return send(
      reply,
      s.session,
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
    );
  });

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

  scope.get<{ Params: { id: string } }>('/console/contracts/:id', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const path = { id: req.params.id };
    const k = await must(s.api.GET('/v1/contracts/{id}', { params: { path } }));
    if (k.build) return send(reply, s.session, `合约 ${k.id}`, unsignedView(s, k));
    const [budget, verified, jobs, assessments, destroyed] = await Promise.all([
      must(s.api.GET('/v1/contracts/{id}/budget', { params: { path } })),
      verifyJws(s, k.id),
      must(s.api.GET('/v1/jobs', { params: { query: { contractId: k.id } } })),
      must(s.api.GET('/v1/contracts/{id}/assessments', { params: { path } })),
      destructionSection(s, k.id),
    ]);
    const draft = takeDraft(s.session, `/console/contracts/${k.id}`);
    const view = contractView(s, k, budget, verified, jobs, assessments, draft);
    return send(reply, s.session, `合约 ${k.id}`, html`${view}${destroyed}`);
  });

  const toContract = (p: Record<string, string>) => `/console/contracts/${p.id!}`;
  formAction(scope, c, '/console/contracts/:id/rebuild', toContract, async (s, form, p) => {
    await must(
      s.api.POST('/v1/contracts/{id}/rebuild', {
        params: { path: { id: p.id! } },
        body: { reason: one(form, 'reason') },
      }),
    );
    return { text: '已重新开始生成快照。' };
  });
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

  formAction(scope, c, '/console/contracts/:id/assessments', toContract, async (s, f, p) => {
    const indicators = lines(f, 'indicators').map((line) => {
      const [name, values = '', met = ''] = line.split('=').map((x) => x.trim());
      const [value = '', target] = values.split('/').map((x) => x.trim());
      // a number, or 未测量 / n/a / empty for an indicator not measured; other text is named, not stored
      const n = (x: string) => {
        if (x === '' || /^(未测量|不适用|n\/?a|-)$/i.test(x)) return null;
        if (Number.isFinite(Number(x))) return Number(x);
        throw new PdsError('ERR_VALIDATION', `指标“${name}”的值“${x}”应为数字，未测量请写“未测量”`);
      };
      return {
        name: name!,
        value: n(value),
        ...(target !== undefined ? { target: n(target) } : {}),
        met: /^(是|yes|true|y)$/i.test(met),
      };
    });
    const notes = one(f, 'notes');
    await must(
      s.api.POST('/v1/contracts/{id}/assessments', {
        params: { path: { id: p.id! } },
        body: {
          year: int(f, 'year') ?? 0,
          passed: choice(f, 'passed', ['true', 'false'] as const, '结论') === 'true',
          indicators,
          assessor: one(f, 'assessor'),
          ...(notes ? { notes } : {}),
        },
      }),
    );
    return { text: '评估已记录。' };
  });

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

  scope.get<{ Params: { id: string } }>('/console/contracts/:id/sql', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const k = await must(s.api.GET('/v1/contracts/{id}', { params: { path: { id: req.params.id } } }));
    return send(reply, s.session, '分析 SQL', sqlEditor(s, k, {}));
  });

  scope.post<{ Params: { id: string }; Body: Form }>('/console/contracts/:id/sql', async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const form = req.body ?? {};
    const contractId = req.params.id;
    const k = await must(s.api.GET('/v1/contracts/{id}', { params: { path: { id: contractId } } }));
    const sql = one(form, 'sql');
    const intent = one(form, 'intent');
    let result: Html;
    try {
      const dp = dpOf(form);
      if (intent === 'submit') {
        const name = one(form, 'name');
        const job = await must(s.api.POST('/v1/jobs', { body: { contractId, sql, ...dp, ...(name ? { name } : {}) } }));
        s.session.flash = { kind: 'ok', text: `作业 ${job.id} 已提交。` };
        return reply.redirect(`/console/jobs/${job.id}`, 303);
      }
      if (intent === 'preview') {
        result = previewView(await must(s.api.POST('/v1/jobs/preview', { body: { contractId, sql, ...dp } })));
      } else if (intent === 'dummy') {
        const run = await must(s.api.POST('/v1/jobs/dummy-run', { body: { contractId, sql, ...dp } }));
        result = html`${validationView(run.validation)}${
          run.dummy?.ok
            ? html`<h2>模拟数据上的结果（每表 ${run.dummy.dummyRows} 行虚构数据，非真实结果）</h2>
                ${table(
                  '模拟数据结果',
                  run.dummy.columns.map((col) => col.name),
                  run.dummy.rows.map((r) => r.map(cell)),
                  { codeHeaders: true },
                )}`
            : run.dummy
              ? html`<p class="notice warn" role="alert">
                  在模拟数据上运行失败：${run.dummy.message}（${run.dummy.code}）
                </p>`
              : ''
        }`;
      } else {
        result = validationView(await must(s.api.POST('/v1/jobs/validate', { body: { contractId, sql, ...dp } })));
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const { primary, secondary } = problemText(err.code, err.detail);
      result = problemView(primary, err.code, secondary);
    }
    return send(reply, s.session, '分析 SQL', sqlEditor(s, k, form, result));
  });
}
