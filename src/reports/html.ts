import { bars, COLORS, columns, esc, meter, stackedBars } from './charts.ts';
import type { RefusalCategory } from './figures.ts';
import type { RiskAssessmentReport } from './report.ts';

const LEVEL_COLOR = { low: COLORS.released, medium: COLORS.held, high: COLORS.rejected } as const;
const CATEGORY_COLOR: Record<RefusalCategory, string> = {
  escape: COLORS.escape,
  'singling-out': COLORS.rejected,
  limit: COLORS.held,
  error: COLORS.cancelled,
  other: COLORS.failed,
};
const OUTCOMES = [
  { name: 'released', color: COLORS.released },
  { name: 'held', color: COLORS.held },
  { name: 'refused', color: COLORS.rejected },
  { name: 'failed', color: COLORS.failed },
  { name: 'cancelled', color: COLORS.cancelled },
];

function table(head: string[], rows: (string | number)[][], empty = 'none'): string {
  if (rows.length === 0) return `<p class="none">${esc(empty)}</p>`;
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function card(label: string, value: string | number, note = ''): string {
  return `<div class="card"><div class="value">${esc(value)}</div><div class="label">${esc(label)}</div>${note ? `<div class="note">${esc(note)}</div>` : ''}</div>`;
}

const change = (c: number | null) => (c === null ? '—' : `${c >= 0 ? '+' : ''}${(c * 100).toFixed(0)}%`);

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
  `${localDate(p.start, 'start').toISOString().slice(0, 10)} – ${localDate(p.end, 'end').toISOString().slice(0, 10)}`;

/** The report as one self-contained page (inline CSS and SVG; nothing fetched). */
type Facts = NonNullable<RiskAssessmentReport['facts']>;

/** What membership through count trackers would cost, in words (attackCost.membership). */
function membershipText(m: Facts['attackCost']['membership']): string {
  return m
    ? `One person's presence in a non-sensitive category: the same statistic on a set and the set less one person gets the earlier answer; ${m.pairsToTellAt95} pairs of differently written count trackers tell it at 95 %, ${m.pairsWithin5PercentAt95} estimate it within ±5 % (count noise variance ${m.countNoiseVariance}, rounded to ${m.countsRoundedTo}). Sensitive facts are dp-only.`
    : 'Membership through count trackers: not applicable in this mode (dp: the ε budget bounds it; custom: every output is reviewed).';
}

/** One effectiveness indicator: its value (or "not measured"), its target, whether it was met. */
function indicatorText(i: Facts['effectiveness'][number]['indicators'][number]): string {
  const target = i.target !== undefined && i.target !== null ? `/${i.target}` : '';
  return `${i.name} ${i.value ?? 'not measured'}${target} ${i.met ? '✓' : '✗'}`;
}

/** The spot checks of remote work in the header: how many, and any forgery caught (docs/architecture.md §4). */
function spotCheckLine(f: RiskAssessmentReport['figures']): string {
  const s = f.spotChecks;
  if (!s || s.checked === 0) return '';
  const caught = s.mismatches > 0;
  const text = `${s.checked} remote result(s) re-executed, ${s.mismatches} forged${caught ? ` (worker revoked; ${s.outputsWithheld} output(s) withheld)` : ''}`;
  return `; spot checks: ${caught ? `<strong>${esc(text)}</strong>` : esc(text)}`;
}

export function renderHtml(r: RiskAssessmentReport, bodySha256: string): string {
  const f = r.figures;
  const p = r.previousFigures;
  const outcomeRow = (label: string, x: typeof f) => ({
    label,
    values: [x.jobs.released, x.jobs.held, x.jobs.rejected, x.jobs.failed, x.jobs.cancelled],
  });
  const title =
    r.kind === 'contract'
      ? `Contract ${r.subject}`
      : r.kind === 'operator'
        ? `Operator ${r.subject}`
        : 'All operators (domain overview)';
  const charts = [
    stackedBars('jobs-by-outcome', 'Jobs by outcome, this period and the previous one', OUTCOMES, [
      outcomeRow(r.period.label, f),
      outcomeRow(r.previousPeriod.label, p),
    ]),
    bars(
      'refusals-by-rule',
      'Refused jobs by layer and rule (colour: escape, singling out, limit, error)',
      f.refusals.map((x) => ({ label: `${x.layer}: ${x.rule}`, value: x.count, color: CATEGORY_COLOR[x.category] })),
    ),
    columns(
      'timeline',
      `Over the period (${r.period.kind === 'quarter' ? 'weeks' : r.period.kind === 'month' ? 'days' : 'months'})`,
      f.timeline.map((b) => bucketLabel(b.start, r.period.kind)),
      [
        { name: 'submitted', color: COLORS.submitted, values: f.timeline.map((b) => b.submitted) },
        { name: 'refused', color: COLORS.rejected, values: f.timeline.map((b) => b.refused) },
        { name: 'escape attempts', color: COLORS.escape, values: f.timeline.map((b) => b.escapeAttempts) },
      ],
    ),
  ];
  if (r.contracts) {
    charts.push(
      bars(
        'contracts',
        "Refused jobs per contract (colour: the contract's rating)",
        r.contracts.map((c) => ({
          label: `${c.contractId.slice(0, 16)}… ${c.scenario}`.slice(0, 40),
          value: c.jobsRefused,
          color: LEVEL_COLOR[c.rating],
        })),
      ),
    );
  }
  if (r.operators) {
    charts.push(
      bars(
        'operators',
        "Refused jobs per operator (colour: the operator's rating, that of its riskiest contract)",
        r.operators.map((o) => ({ label: o.operatorOrg, value: o.jobsRefused, color: LEVEL_COLOR[o.rating] })),
      ),
    );
  }
  if (f.privacy?.budget)
    charts.push(
      meter(
        'privacy-budget',
        'Privacy budget (ε) spent to the end of the period',
        f.privacy.spentToDate,
        f.privacy.budget,
        r.thresholds.epsilonShareMedium,
      ),
    );
  const facts = r.facts;
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`风险评估报告 Risk assessment — ${title} — ${r.period.label}`)}</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px auto;max-width:980px;color:#212121;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:13px}.badge{display:inline-block;padding:4px 14px;border-radius:14px;color:#fff;font-weight:600;text-transform:uppercase}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.card .value{font-size:22px;font-weight:600}.card .label{font-size:12px;color:#555}.card .note{font-size:11px;color:#888}
.charts{display:grid;grid-template-columns:1fr;gap:8px}figure{margin:0}figcaption{font-size:13px;font-weight:600;margin:6px 0}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f5f5f5}
.finding-high{border-left:4px solid ${LEVEL_COLOR.high}}.finding-medium{border-left:4px solid ${LEVEL_COLOR.medium}}
.none{color:#888;font-size:13px}footer{margin-top:32px;font-size:11px;color:#777;word-break:break-all}
@media print{.charts{break-inside:avoid}}
</style></head><body>
<header>
<h1>风险评估报告 · Risk assessment report</h1>
<div class="meta">${esc(title)}${r.scenario ? ` — ${esc(r.scenario.name)}` : ''}${r.kind === 'domain' ? '' : ` · operator ${esc(r.operatorOrg)}`} · period ${esc(r.period.label)} (${esc(periodDates(r.period))}${r.partial ? ', so far' : ''}) · compared with ${esc(r.previousPeriod.label)} (${esc(periodDates(r.previousPeriod))})</div>
<p>Rating <span class="badge" id="rating" style="background:${LEVEL_COLOR[r.rating.level]}">${esc(r.rating.level)}</span>
<span class="meta">${r.rating.findings.length} finding(s); generated ${esc(r.generatedAt)} (${esc(r.trigger)}, by ${esc(r.generatedBy)});
audit trail ${r.auditTrail.ok ? `verified (${r.auditTrail.entries} entries, ${r.auditTrail.checkpoints} signed checkpoints)` : `<strong>BROKEN at entry ${esc(r.auditTrail.firstBad?.seq ?? '?')}</strong>`};
OS sandbox ${r.sandbox.os.startsWith('off') ? `<strong>${esc(r.sandbox.os)}</strong>` : esc(r.sandbox.os)}${r.figures.runsOutsideOsSandbox > 0 ? `; <strong>${r.figures.runsOutsideOsSandbox} run(s) without it</strong>` : ''}${spotCheckLine(r.figures)}</span></p>
</header>
<section><h2>Key figures</h2><div class="cards">
${card('jobs submitted', f.jobs.submitted, `previous ${p.jobs.submitted}`)}${card('jobs refused', f.jobs.rejected, `previous ${p.jobs.rejected}`)}
${card('escape attempts', f.escapeAttempts, `previous ${p.escapeAttempts}`)}${card('singling-out attempts', f.singlingOutAttempts, `previous ${p.singlingOutAttempts}`)}
${card('outputs released', f.outputs.released)}${card('outputs held', f.outputs.held)}${card('outputs rejected', f.outputs.rejected)}
${card('cells suppressed', f.outputs.cellsSuppressed)}${card(
    'submissions refused',
    f.submissionsRefused.reduce((n, s) => n + s.count, 0),
    'before queueing',
  )}
${f.privacy ? card('ε spent', f.privacy.spentToDate, f.privacy.budget ? `of ${f.privacy.budget}` : '') : ''}
</div></section>
<section><h2>Findings and recommended actions</h2>
${r.rating.findings.length === 0 ? '<p class="none">No rating rule fired.</p>' : `<table><thead><tr><th>level</th><th>rule</th><th>finding</th><th>recommended action</th><th>basis</th></tr></thead><tbody>${r.rating.findings.map((x) => `<tr class="finding-${x.level}"><td>${esc(x.level)}</td><td>${esc(x.rule)}</td><td>${esc(x.finding)}</td><td>${esc(x.recommendation)}</td><td>${esc(x.basis)}</td></tr>`).join('')}</tbody></table>`}
<ul>${r.recommendations.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></section>
<section><h2>Charts</h2><div class="charts">${charts.join('\n')}</div></section>
<section><h2>Trend against ${esc(r.previousPeriod.label)}</h2>${table(
    ['metric', r.period.label, r.previousPeriod.label, 'change'],
    r.trend.map((t) => [t.metric, t.current, t.previous, change(t.change)]),
  )}</section>
<section><h2>Refusals</h2>${table(
    ['layer', 'rule', 'code', 'category', 'jobs'],
    f.refusals.map((x) => [x.layer, x.rule, x.code, x.category, x.count]),
    'no job refused',
  )}
${table(
  ['submission refused with', 'times'],
  f.submissionsRefused.map((s) => [s.code, s.count]),
  'no submission refused before queueing',
)}
${table(
  ['outputs held by check', 'outputs'],
  f.outputs.heldBy.map((h) => [h.check, h.count]),
  'no output held by a check',
)}</section>
<section><h2>Tracker patterns</h2>${table(
    [
      'outputs compared',
      'pairs of cells one or two people apart',
      'most pairs isolating one person',
      'most outputs over one small population',
    ],
    [
      [
        f.trackers.outputsCompared,
        f.trackers.isolatingPairs,
        f.trackers.mostIsolationsOfOnePerson,
        f.trackers.smallPopulationOutputs,
      ],
    ],
  )}
<p class="meta">Compared by the sets of people behind released and held cells, across all of the operator's contracts, whatever the queries named their columns.</p></section>
${
  r.operators
    ? `<section><h2>Operators</h2>${table(
        ['operator', 'contracts', 'rating', 'jobs', 'refused', 'escape attempts', 'released'],
        r.operators.map((o) => [
          o.operatorOrg,
          o.contracts,
          o.rating,
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
    ? `<section><h2>Contracts</h2>${table(
        ['contract', 'scenario', 'status', 'rating', 'jobs', 'refused', 'escape attempts', 'released'],
        r.contracts.map((c) => [
          c.contractId,
          c.scenario,
          c.status,
          c.rating,
          c.jobsSubmitted,
          c.jobsRefused,
          c.escapeAttempts,
          c.outputsReleased,
        ]),
      )}</section>`
    : ''
}
${
  facts
    ? `<section><h2>Snapshot re-identification risk (signed in the contract)</h2>${table(
        ['table', 'rows', 'smallest class', 'policy k', 'records below k', 'prosecutor risk', 'average risk'],
        facts.snapshot.map((s) => [
          s.table,
          s.rows,
          s.k,
          s.policyK,
          `${(s.shareBelowK * 100).toFixed(2)}%`,
          s.prosecutorRisk.toFixed(4),
          s.averageRisk.toFixed(4),
        ]),
      )}</section>
<section><h2>Attack cost under the perturbation in force</h2>${table(
        ['measure', 'rule', 'distortion no number of queries removes', 'within ±5 % reachable'],
        facts.attackCost.measures.map((m) => [
          `${m.dataset}.${m.column}`,
          m.rule,
          m.persistentErrorAtLeast === null ? '—' : `≥ ${(m.persistentErrorAtLeast * 100).toFixed(1)} %`,
          m.within5PercentReachable ? 'yes' : 'no',
        ]),
        'no noised measure granted',
      )}
<p class="meta">${membershipText(facts.attackCost.membership)} The quotas allow ${facts.attackCost.queriesOverTerm} jobs over the term.</p></section>
<section><h2>Suspensions, revocations and withdrawals</h2>${table(['at', 'event', 'by', 'reason'], [...facts.statusEvents.map((e) => [e.at, e.action, e.actor, e.reason ?? '']), ...facts.withdrawals.map((w) => [w.at, `dataset ${w.dataset} withdrawn${w.reinstatedAt ? `; reinstated ${w.reinstatedAt}` : ' (still withdrawn)'}`, w.by, w.reason])], 'none in the period')}</section>
<section><h2>Decision, feedback and acknowledgements</h2><p>${
        facts.decisionOverride
          ? `<strong>Approved by override</strong> (${esc(facts.decisionOverride.by)}: “${esc(facts.decisionOverride.reason)}”) despite: ${esc(facts.decisionOverride.warnings.join('; '))}.`
          : 'Approved within the policy: no override.'
      } Feedback to providers in the period: ${r.figures.feedback?.filed ?? 0} filed, ${r.figures.feedback?.answered ?? 0} answered, ${r.figures.feedback?.overdue ?? 0} overdue.</p>${table(
        ['earlier report', 'period', 'rating', 'acknowledged', 'statement'],
        (facts.acknowledgements ?? []).map((a) => [
          a.reportId,
          a.period,
          a.rating,
          a.acknowledgedAt ?? 'no',
          a.statement ?? '',
        ]),
        'no earlier report on this contract',
      )}</section>
<section><h2>Effectiveness</h2>${table(
        ['year', 'passed', 'indicators'],
        facts.effectiveness.map((e) => [e.year, e.passed ? 'yes' : 'no', e.indicators.map(indicatorText).join('; ')]),
        'no assessment recorded for these years',
      )}</section>`
    : ''
}
<section><h2>Rating rules</h2>${table(
    ['rule', 'sets at most', 'when'],
    r.rating.rulesApplied.map((x) => [x.rule, x.sets, x.when]),
  )}
<p class="meta">The rating is the highest level any rule sets; low when none fires. Basis: ${esc(r.basis.join('; '))}.</p></section>
<footer>Report ${esc(r.id)} · SHA-256 of the report's canonical JSON ${esc(bodySha256)} · signed by the data bureau: verify the JWS from GET /v1/reports/${esc(r.id)} against /.well-known/jwks.json.</footer>
</body></html>
`;
}
