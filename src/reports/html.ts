import { bars, COLORS, columns, esc, meter, stackedBars } from './charts.ts';
import type { RefusalCategory } from './figures.ts';
import { NONE_FIRED } from './rating.ts';
import type { RiskAssessmentReport } from './report.ts';
import {
  CHECK,
  policyWarningText,
  DESTRUCTION_KIND,
  DESTRUCTION_WHY,
  RATING,
  RATING_RULE,
  REFUSAL_CATEGORY,
  REPORT_TRIGGER,
  shanghaiTime,
  STATUS,
  term,
  TREND_METRIC,
} from '../terms/index.ts';

const LEVEL_COLOR = { low: COLORS.released, medium: COLORS.held, high: COLORS.rejected } as const;
const CATEGORY_COLOR: Record<RefusalCategory, string> = {
  escape: COLORS.escape,
  'singling-out': COLORS.rejected,
  limit: COLORS.held,
  error: COLORS.cancelled,
  other: COLORS.failed,
};
const OUTCOMES = [
  { name: '已发布', color: COLORS.released },
  { name: '待人工审核', color: COLORS.held },
  { name: '被拒绝', color: COLORS.rejected },
  { name: '失败', color: COLORS.failed },
  { name: '已取消', color: COLORS.cancelled },
];

/** A cell: text (escaped), or markup this module made (`code`, `en`). */
type Cell = string | number | { html: string };
const cellHtml = (c: Cell) => (typeof c === 'object' ? c.html : esc(c));
/** A machine value (an id, a rule, a code) as code. */
const code = (v: string | number): Cell => ({ html: `<code>${esc(v)}</code>` });
/**
 * A sentence of the report as it was signed: Chinese since issue 33 (rating.ts writes it), shown
 * as the main text; a report made before then keeps its English sentence, marked as English.
 */
const said = (v: string) =>
  /\p{Script=Han}/u.test(v) || !/[a-z]{2}/i.test(v) ? esc(v) : `<span class="en" lang="en">${esc(v)}</span>`;

/** A table in a box that scrolls by itself: the page never scrolls sideways on a phone (issue 33). */
function table(head: string[], rows: Cell[][], empty = '无'): string {
  if (rows.length === 0) return `<p class="none">${esc(empty)}</p>`;
  return `<div class="wrap"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${cellHtml(c)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
}

function card(label: string, value: string | number, note = ''): string {
  return `<div class="card"><div class="value">${esc(value)}</div><div class="label">${esc(label)}</div>${note ? `<div class="note">${esc(note)}</div>` : ''}</div>`;
}

const change = (c: number | null) => (c === null ? '—' : `${c >= 0 ? '+' : ''}${(c * 100).toFixed(0)}%`);
const yesNo = (b: boolean) => (b ? '是' : '否');

/**
 * The domain's local date of an instant at (or just before) local midnight: period and bucket
 * bounds are local midnights, so half a day either way lands on the right date for any offset.
 */
function localDate(iso: string, side: 'start' | 'end'): Date {
  return new Date(Date.parse(iso) + (side === 'start' ? 12 : -12) * 3_600_000);
}

function bucketLabel(iso: string, kind: RiskAssessmentReport['period']['kind']): string {
  const d = localDate(iso, 'start');
  return kind === 'year' ? `${d.getUTCMonth() + 1}月` : `${d.getUTCMonth() + 1}/${d.getUTCDate()}`;
}

const periodDates = (p: RiskAssessmentReport['period']) =>
  `${localDate(p.start, 'start').toISOString().slice(0, 10)} 至 ${localDate(p.end, 'end').toISOString().slice(0, 10)}`;

type Facts = NonNullable<RiskAssessmentReport['facts']>;

/** What membership through count trackers would cost, in words (attackCost.membership). */
function membershipText(m: Facts['attackCost']['membership']): string {
  return m
    ? `某人是否属于一个非敏感类别：对一个集合与去掉此人的集合计算同一统计量可得出答案；需要 ${m.pairsToTellAt95} 对写法不同的计数追踪查询才能以 95% 的把握判断，${m.pairsWithin5PercentAt95} 对可估计到 ±5% 以内（计数噪声方差 ${m.countNoiseVariance}，修约到 ${m.countsRoundedTo}）。敏感事实只用于差分隐私。`
    : '通过计数追踪判断成员关系：此模式不适用（差分隐私由 ε 预算约束；定制模式每份输出都经人工审核）。';
}

/** One effectiveness indicator: its value (or 未测量), its target, whether it was met. */
function indicatorText(i: Facts['effectiveness'][number]['indicators'][number]): string {
  const target = i.target !== undefined && i.target !== null ? `/${i.target}` : '';
  return `${i.name} ${i.value ?? '未测量'}${target} ${i.met ? '✓' : '✗'}`;
}

/** The spot checks of remote work in the header: how many, and any forgery caught (docs/architecture.md §4). */
function spotCheckLine(f: RiskAssessmentReport['figures']): string {
  const s = f.spotChecks;
  if (!s || s.checked === 0) return '';
  const caught = s.mismatches > 0;
  const text = `重算了 ${s.checked} 个远程结果，${s.mismatches} 个为伪造${caught ? `（工作节点已撤销；扣留 ${s.outputsWithheld} 份输出）` : ''}`;
  return `；抽查：${caught ? `<strong>${esc(text)}</strong>` : esc(text)}`;
}

const STYLE = `body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px auto;max-width:980px;color:#212121;padding:0 16px;overflow-wrap:anywhere}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:13px}.badge{display:inline-block;padding:4px 14px;border-radius:14px;color:#fff;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.card .value{font-size:22px;font-weight:600}.card .label{font-size:12px;color:#555}.card .note{font-size:11px;color:#888}
.charts{display:grid;grid-template-columns:1fr;gap:8px}figure{margin:0}figcaption{font-size:13px;font-weight:600;margin:6px 0}
svg.chart{max-width:100%;height:auto}.wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f5f5f5}
td{overflow-wrap:anywhere}.en{display:block;color:#666;font-size:12px}
.finding-high{border-left:4px solid ${LEVEL_COLOR.high}}.finding-medium{border-left:4px solid ${LEVEL_COLOR.medium}}
.none{color:#888;font-size:13px}footer{margin-top:32px;font-size:11px;color:#777;overflow-wrap:anywhere}
@media print{.charts{break-inside:avoid}}`;

function reportTitle(r: RiskAssessmentReport): string {
  return r.kind === 'contract'
    ? `合约 ${r.subject}`
    : r.kind === 'operator'
      ? `运营单位 ${r.subject}`
      : '全部运营单位（全域概览）';
}

function charts(r: RiskAssessmentReport): string[] {
  const f = r.figures;
  const p = r.previousFigures;
  const outcomeRow = (label: string, x: typeof f) => ({
    label,
    values: [x.jobs.released, x.jobs.held, x.jobs.rejected, x.jobs.failed, x.jobs.cancelled],
  });
  const out = [
    stackedBars('jobs-by-outcome', '各结果的作业数：本期与上期', OUTCOMES, [
      outcomeRow(r.period.label, f),
      outcomeRow(r.previousPeriod.label, p),
    ]),
    bars(
      'refusals-by-rule',
      '被拒绝的作业，按层与规则（颜色：逃逸、单独识别、资源限制、错误）',
      f.refusals.map((x) => ({ label: `${x.layer}: ${x.rule}`, value: x.count, color: CATEGORY_COLOR[x.category] })),
    ),
    columns(
      'timeline',
      `本期走势（按${r.period.kind === 'quarter' ? '周' : r.period.kind === 'month' ? '日' : '月'}）`,
      f.timeline.map((b) => bucketLabel(b.start, r.period.kind)),
      [
        { name: '提交', color: COLORS.submitted, values: f.timeline.map((b) => b.submitted) },
        { name: '被拒绝', color: COLORS.rejected, values: f.timeline.map((b) => b.refused) },
        { name: '逃逸尝试', color: COLORS.escape, values: f.timeline.map((b) => b.escapeAttempts) },
      ],
    ),
  ];
  if (r.contracts)
    out.push(
      bars(
        'contracts',
        '各合约被拒绝的作业（颜色：合约的评级）',
        r.contracts.map((c) => ({
          label: `${c.contractId.slice(0, 16)}… ${c.scenario}`.slice(0, 40),
          value: c.jobsRefused,
          color: LEVEL_COLOR[c.rating],
        })),
      ),
    );
  if (r.operators)
    out.push(
      bars(
        'operators',
        '各运营单位被拒绝的作业（颜色：运营单位的评级，即其风险最高的合约的评级）',
        r.operators.map((o) => ({ label: o.operatorOrg, value: o.jobsRefused, color: LEVEL_COLOR[o.rating] })),
      ),
    );
  if (f.privacy?.budget)
    out.push(
      meter(
        'privacy-budget',
        '截至期末已用的隐私预算（ε）',
        f.privacy.spentToDate,
        f.privacy.budget,
        r.thresholds.epsilonShareMedium,
      ),
    );
  return out;
}

function header(r: RiskAssessmentReport): string {
  const title = reportTitle(r);
  const a = r.auditTrail;
  return `<header>
<h1>风险评估报告</h1>
<div class="meta">${esc(title)}${r.scenario ? ` — ${esc(r.scenario.name)}` : ''}${r.kind === 'domain' ? '' : ` · 运营单位 ${esc(r.operatorOrg)}`} · 期间 ${esc(r.period.label)}（${esc(periodDates(r.period))}${r.partial ? '，截至目前' : ''}）· 对比 ${esc(r.previousPeriod.label)}（${esc(periodDates(r.previousPeriod))}）</div>
<p>评级 <span class="badge" id="rating" style="background:${LEVEL_COLOR[r.rating.level]}">${esc(term(RATING, r.rating.level))}</span>
<span class="meta">${r.rating.findings.length} 项发现；生成于 ${esc(shanghaiTime(r.generatedAt, { offset: true }))}（${esc(term(REPORT_TRIGGER, r.trigger))}，${esc(r.generatedBy)}）；
审计链${a.ok ? `校验通过（${a.entries} 条记录，${a.checkpoints} 个签名检查点）` : `<strong>在第 ${esc(a.firstBad?.seq ?? '?')} 条断开</strong>`}；
操作系统沙箱 ${r.sandbox.os.startsWith('off') ? `<strong><code>${esc(r.sandbox.os)}</code></strong>` : `<code>${esc(r.sandbox.os)}</code>`}${r.figures.runsOutsideOsSandbox > 0 ? `；<strong>${r.figures.runsOutsideOsSandbox} 次运行未在其中</strong>` : ''}${spotCheckLine(r.figures)}${r.dataDirEncryption ? `；数据目录加密：${r.dataDirEncryption.state === 'encrypted' ? `已加密（${esc(r.dataDirEncryption.how ?? '')}）` : `<strong>${r.dataDirEncryption.state === 'unknown' ? '无法确定' : '未加密'}</strong>`}` : ''}</span></p>
</header>`;
}

function keyFigures(r: RiskAssessmentReport): string {
  const f = r.figures;
  const p = r.previousFigures;
  return `<section><h2>主要数字</h2><div class="cards">
${card('提交的作业', f.jobs.submitted, `上期 ${p.jobs.submitted}`)}${card('被拒绝的作业', f.jobs.rejected, `上期 ${p.jobs.rejected}`)}
${card('逃逸尝试', f.escapeAttempts, `上期 ${p.escapeAttempts}`)}${card('单独识别尝试', f.singlingOutAttempts, `上期 ${p.singlingOutAttempts}`)}
${card('发布的输出', f.outputs.released)}${card('待审的输出', f.outputs.held)}${card('被拒绝的输出', f.outputs.rejected)}
${card('隐藏的单元格', f.outputs.cellsSuppressed)}${card(
    '提交时被拒绝',
    f.submissionsRefused.reduce((n, s) => n + s.count, 0),
    '排队之前',
  )}
${f.privacy ? card('已用 ε', f.privacy.spentToDate, f.privacy.budget ? `共 ${f.privacy.budget}` : '') : ''}
</div></section>`;
}

function findings(r: RiskAssessmentReport): string {
  const rows = r.rating.findings.map((x) => {
    const rule = RATING_RULE[x.rule];
    return `<tr class="finding-${x.level}"><td>${esc(term(RATING, x.level))}</td><td>${esc(rule?.name ?? x.rule)} <code>${esc(x.rule)}</code></td><td>${said(x.finding)}</td><td>${said(x.recommendation)}</td><td>${esc(x.basis)}</td></tr>`;
  });
  return `<section><h2>发现与建议措施</h2>
${rows.length === 0 ? `<p class="none">${esc(NONE_FIRED)}</p>` : `<div class="wrap"><table><thead><tr><th>级别</th><th>规则</th><th>发现</th><th>建议措施</th><th>依据</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`}
${rows.length === 0 ? '' : `<ul>${r.recommendations.map((x) => `<li>${said(x)}</li>`).join('')}</ul>`}</section>`;
}

function refusals(r: RiskAssessmentReport): string {
  const f = r.figures;
  return `<section><h2>拒绝</h2>${table(
    ['层', '规则', '代码', '类别', '作业数'],
    f.refusals.map((x) => [code(x.layer), code(x.rule), code(x.code), term(REFUSAL_CATEGORY, x.category), x.count]),
    '没有被拒绝的作业',
  )}
${table(
  ['提交时被拒绝的代码', '次数'],
  f.submissionsRefused.map((s) => [code(s.code), s.count]),
  '没有在排队前被拒绝的提交',
)}
${table(
  ['转人工审核的检查', '输出数'],
  f.outputs.heldBy.map((h) => [{ html: `${esc(term(CHECK, h.check))} <code>${esc(h.check)}</code>` }, h.count]),
  '没有因检查转人工审核的输出',
)}</section>
<section><h2>追踪者模式</h2>${table(
    ['比对的输出', '相差一两人的单元格对', '分离同一人的最多对数', '针对同一小群体的最多输出'],
    [
      [
        f.trackers.outputsCompared,
        f.trackers.isolatingPairs,
        f.trackers.mostIsolationsOfOnePerson,
        f.trackers.smallPopulationOutputs,
      ],
    ],
  )}
<p class="meta">按已发布和待审单元格背后的人群比对，覆盖该运营单位的全部合约，与查询如何命名其列无关。</p></section>`;
}

function parties(r: RiskAssessmentReport): string {
  return `${
    r.operators
      ? `<section><h2>运营单位</h2>${table(
          ['运营单位', '合约', '评级', '作业', '被拒绝', '逃逸尝试', '已发布'],
          r.operators.map((o) => [
            code(o.operatorOrg),
            o.contracts,
            term(RATING, o.rating),
            o.jobsSubmitted,
            o.jobsRefused,
            o.escapeAttempts,
            o.outputsReleased,
          ]),
        )}</section>`
      : ''
  }
${
  r.contracts
    ? `<section><h2>合约</h2>${table(
        ['合约', '场景', '状态', '评级', '作业', '被拒绝', '逃逸尝试', '已发布'],
        r.contracts.map((c) => [
          code(c.contractId),
          c.scenario,
          term(STATUS, c.status),
          term(RATING, c.rating),
          c.jobsSubmitted,
          c.jobsRefused,
          c.escapeAttempts,
          c.outputsReleased,
        ]),
      )}</section>`
    : ''
}`;
}

/** A contract's facts: its snapshot's risk, the cost of an attack, interruptions, decision, effectiveness. */
function contractFacts(r: RiskAssessmentReport, facts: Facts): string {
  const event = (action: string) =>
    ({ 'contract.suspended': '合约暂停', 'contract.revoked': '合约撤销', 'contract.resumed': '合约恢复' })[action] ??
    action;
  return `<section><h2>快照的重识别风险（已写入合约签名）</h2>${table(
    ['表', '行数', '最小等价类', '政策 k', '低于 k 的记录', '检察官风险', '平均风险'],
    facts.snapshot.map((s) => [
      code(s.table),
      s.rows,
      s.k,
      s.policyK,
      `${(s.shareBelowK * 100).toFixed(2)}%`,
      s.prosecutorRisk.toFixed(4),
      s.averageRisk.toFixed(4),
    ]),
  )}</section>
<section><h2>现行扰动下的攻击代价</h2>${table(
    ['度量', '规则', '任何次数的查询都无法消除的失真', '能否达到 ±5% 以内'],
    facts.attackCost.measures.map((m) => [
      code(`${m.dataset}.${m.column}`),
      code(m.rule),
      m.persistentErrorAtLeast === null ? '—' : `≥ ${(m.persistentErrorAtLeast * 100).toFixed(1)}%`,
      yesNo(m.within5PercentReachable),
    ]),
    '未授予加噪的度量',
  )}
<p class="meta">${esc(membershipText(facts.attackCost.membership))} 按配额，合约期内最多可运行 ${facts.attackCost.queriesOverTerm} 个作业。</p></section>
<section><h2>暂停、撤销与撤回</h2>${table(
    ['时间', '事件', '操作者', '理由'],
    [
      ...facts.statusEvents.map((e) => [
        shanghaiTime(e.at, { offset: true }),
        event(e.action),
        e.actor,
        e.reason ?? '',
      ]),
      ...facts.withdrawals.map((w) => [
        shanghaiTime(w.at, { offset: true }),
        `数据集 ${w.dataset} 撤回${w.reinstatedAt ? `；${shanghaiTime(w.reinstatedAt, { offset: true })} 恢复` : '（仍在撤回中）'}`,
        w.by,
        w.reason,
      ]),
    ],
    '本期没有',
  )}</section>
<section><h2>决定、反馈与确认</h2><p>${
    facts.decisionOverride
      ? `<strong>经越过政策提示批准</strong>（${esc(facts.decisionOverride.by)}：“${esc(facts.decisionOverride.reason)}”），政策提示：${esc(facts.decisionOverride.warnings.map(policyWarningText).join('；'))}。`
      : '在政策范围内批准：没有越过政策提示。'
  }本期对提供单位的反馈：提交 ${r.figures.feedback?.filed ?? 0} 条，已答复 ${r.figures.feedback?.answered ?? 0} 条，逾期 ${r.figures.feedback?.overdue ?? 0} 条。</p>${table(
    ['此前的报告', '期间', '评级', '确认时间', '说明'],
    (facts.acknowledgements ?? []).map((a) => [
      code(a.reportId),
      a.period,
      term(RATING, a.rating),
      a.acknowledgedAt ? shanghaiTime(a.acknowledgedAt, { offset: true }) : '未确认',
      a.statement ?? '',
    ]),
    '此合约没有此前的报告',
  )}</section>
<section><h2>数据销毁</h2>${table(
    ['销毁时间', '对象', '原因', '执行人', '销毁记录'],
    (facts.destructions ?? []).map((d) => [
      shanghaiTime(d.destroyedAt, { offset: true }),
      { html: `${esc(term(DESTRUCTION_KIND, d.kind))} <code>${esc(d.subjectId)}</code>` },
      term(DESTRUCTION_WHY, d.why),
      d.by === 'housekeeping' ? '定期清理' : d.by,
      { html: `<code>${esc(d.record)}</code>（签名 sha256 <code>${esc(d.recordSha256.slice(0, 16))}…</code>）` },
    ]),
    '此合约的数据尚未销毁',
  )}</section>
<section><h2>成效评估</h2>${table(
    ['年度', '通过', '指标'],
    facts.effectiveness.map((e) => [e.year, yesNo(e.passed), e.indicators.map(indicatorText).join('；')]),
    '这些年度没有评估记录',
  )}</section>`;
}

/** The report as one self-contained page (inline CSS and SVG; nothing fetched), in zh-CN (docs/glossary.md). */
export function renderHtml(r: RiskAssessmentReport, bodySha256: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`风险评估报告 — ${reportTitle(r)} — ${r.period.label}`)}</title>
<style>
${STYLE}
</style></head><body>
${header(r)}
${keyFigures(r)}
${findings(r)}
<section><h2>图表</h2><div class="charts">${charts(r).join('\n')}</div></section>
<section><h2>与 ${esc(r.previousPeriod.label)} 对比</h2>${table(
    ['指标', r.period.label, r.previousPeriod.label, '变化'],
    r.trend.map((t) => [term(TREND_METRIC, t.metric), t.current, t.previous, change(t.change)]),
  )}</section>
${refusals(r)}
${parties(r)}
${r.facts ? contractFacts(r, r.facts) : ''}
<section><h2>评级规则</h2>${table(
    ['规则', '最高可定为', '条件'],
    r.rating.rulesApplied.map((x) => [
      { html: `${esc(RATING_RULE[x.rule]?.name ?? x.rule)} <code>${esc(x.rule)}</code>` },
      term(RATING, x.sets),
      { html: said(x.when) },
    ]),
  )}
<p class="meta">评级取任一规则所定的最高级别；没有规则触发时为低。依据：${esc(r.basis.join('；'))}。</p></section>
<footer>报告 <code>${esc(r.id)}</code> · 报告规范 JSON 的 SHA-256 <code>${esc(bodySha256)}</code> · 由数据主管部门签名：用 <code>/.well-known/jwks.json</code> 校验 <code>GET /v1/reports/${esc(r.id)}</code> 给出的 JWS。</footer>
</body></html>
`;
}
