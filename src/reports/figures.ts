import { storedIndicator, type ContractClaims } from '../contracts/index.ts';
import { categorize, type WorkflowPolicy } from '../policies/index.ts';
import type { Store } from '../store/index.ts';
import type { ContractFacts, Figures, Period, RefusalCount } from './schema.ts';
import { trackerFigures } from './trackers.ts';
import type { AttackCost } from '../disclosure/index.ts';

export type { ContractFacts, Figures, RefusalCategory, RefusalCount } from './schema.ts';

type Classifier = WorkflowPolicy['reports'];

const noJobs = (): Figures['jobs'] => ({
  submitted: 0,
  run: 0,
  released: 0,
  held: 0,
  rejected: 0,
  failed: 0,
  cancelled: 0,
  changesRequested: 0,
  unfinished: 0,
});

/** Bucket starts over the period: ISO weeks for a quarter (from its first day), days for a month, months for a year. */
export function buckets(p: Period): string[] {
  const start = Date.parse(p.start);
  const end = Date.parse(p.end);
  if (p.kind === 'year') {
    // local month starts: the period starts at local midnight on 1 January, so the offset is known
    const year = Number(p.label);
    const offsetMs = Date.UTC(year, 0, 1) - start;
    return Array.from({ length: 12 }, (_, m) => new Date(Date.UTC(year, m, 1) - offsetMs).toISOString());
  }
  const step = (p.kind === 'quarter' ? 7 : 1) * 86_400_000;
  const out: string[] = [];
  for (let t = start; t < end; t += step) out.push(new Date(t).toISOString());
  return out;
}

interface JobGroup {
  [k: string]: string | number | boolean | null;
  status: string;
  ran: boolean;
  bucket: number;
  code: string | null;
  layer: string | null;
  rule: string | null;
  n: number;
}

type Range = { c: string; s: string; e: string };

/** The contract's jobs by status and period bucket, and its refusals by layer and rule (validation refusals too). */
async function jobFigures(store: Store, range: Range, starts: string[], policy: Classifier) {
  // a job is refused once, by its first reason: one attempt, one count
  const groups = await store.all<JobGroup>(
    `SELECT status, attempts > 0 AS ran, len(list_filter(string_split($starts, ','), b -> b <= created_at))::INTEGER - 1 AS bucket,
            json_extract_string(reasons, '$[0].code') AS code, json_extract_string(reasons, '$[0].layer') AS layer,
            json_extract_string(reasons, '$[0].rule') AS rule, count(*)::INTEGER AS n
     FROM jobs WHERE contract_id = $c AND created_at >= $s AND created_at < $e GROUP BY ALL`,
    { ...range, starts: starts.join(',') },
  );
  const timeline = starts.map((start) => ({ start, submitted: 0, refused: 0, escapeAttempts: 0 }));
  const jobs = noJobs();
  const refusals = new Map<string, RefusalCount>();
  let escapeAttempts = 0;
  let singlingOutAttempts = 0;
  /** One group of refusals: by layer and rule, and as escape or singling-out attempts. */
  const tally = (g: JobGroup) => {
    const reason = { code: g.code ?? 'ERR_INTERNAL', layer: g.layer ?? undefined, rule: g.rule ?? undefined };
    const category = categorize(reason, policy);
    const key = `${reason.layer ?? '-'}|${reason.rule ?? reason.code}`;
    const cur = refusals.get(key) ?? {
      layer: reason.layer ?? 'api',
      rule: reason.rule ?? reason.code,
      code: reason.code,
      category,
      count: 0,
    };
    cur.count += g.n;
    refusals.set(key, cur);
    if (category === 'escape') {
      escapeAttempts += g.n;
      timeline[Math.max(0, g.bucket)]!.escapeAttempts += g.n;
    }
    if (category === 'singling-out') singlingOutAttempts += g.n;
  };
  for (const g of groups) {
    const b = timeline[Math.max(0, g.bucket)]!;
    jobs.submitted += g.n;
    b.submitted += g.n;
    if (g.ran) jobs.run += g.n;
    if (g.status === 'queued' || g.status === 'running') jobs.unfinished += g.n;
    else if (g.status === 'changes-requested') jobs.changesRequested = (jobs.changesRequested ?? 0) + g.n;
    else if (g.status in jobs) jobs[g.status as 'released' | 'held' | 'rejected' | 'failed' | 'cancelled'] += g.n;
    if (g.status !== 'rejected') continue;
    b.refused += g.n;
    tally(g);
  }
  // escape and singling-out attempts made through validation (no job, audited) count as refusals
  const validations = await store.all<JobGroup>(
    `SELECT 'rejected' AS status, false AS ran,
            len(list_filter(string_split($starts, ','), b -> b <= recorded_at))::INTEGER - 1 AS bucket,
            json_extract_string(details, '$.code') AS code, json_extract_string(details, '$.layer') AS layer,
            json_extract_string(details, '$.rule') AS rule, count(*)::INTEGER AS n
     FROM audit_log WHERE action = 'job.validation_refused' AND object_id = $c AND recorded_at >= $s AND recorded_at < $e
     GROUP BY ALL`,
    { ...range, starts: starts.join(',') },
  );
  for (const g of validations) tally(g);
  return { jobs, refusals, escapeAttempts, singlingOutAttempts, timeline };
}

/** Runs started outside the OS layer, and the spot checks of remote runs with the outputs they withheld. */
async function runChecks(store: Store, range: Range) {
  // every start of a run says whether the OS layer confined it (job.started, details.osSandbox)
  const outside = await store.one<{ n: number }>(
    `SELECT count(*)::INTEGER AS n FROM audit_log a JOIN jobs j ON j.id = a.object_id
     WHERE a.action = 'job.started' AND j.contract_id = $c AND a.recorded_at >= $s AND a.recorded_at < $e
       AND coalesce(json_extract_string(a.details, '$.osSandbox'), 'unrecorded') <> 'bubblewrap'`,
    range,
  );
  // spot checks of this contract's remote runs, and its outputs withheld when their worker was caught
  const spot = await store.one<{ checked: number; mismatches: number; withheld: number }>(
    `SELECT (SELECT count(*) FROM spot_checks s JOIN jobs j ON j.id = s.job_id
              WHERE j.contract_id = $c AND s.checked_at >= $s AND s.checked_at < $e)::INTEGER AS checked,
            (SELECT count(*) FROM spot_checks s JOIN jobs j ON j.id = s.job_id
              WHERE j.contract_id = $c AND s.result = 'mismatched' AND s.checked_at >= $s AND s.checked_at < $e)::INTEGER AS mismatches,
            (SELECT count(*) FROM audit_log a JOIN outputs o ON o.id = a.object_id
              WHERE a.action = 'output.withheld' AND o.contract_id = $c AND a.recorded_at >= $s AND a.recorded_at < $e)::INTEGER AS withheld`,
    range,
  );
  return { outside, spot };
}

/**
 * Counts one contract's activity in `period`. The store aggregates (a few hundred groups come back
 * however many jobs there were); the store's timestamps are ISO UTC, so ranges compare as strings.
 */
export async function contractFigures(
  store: Store,
  contract: { id: string; operatorOrg: string },
  claims: ContractClaims,
  period: Period,
  policy: Classifier,
): Promise<Figures> {
  const contractId = contract.id;
  const starts = buckets(period);
  const range = { c: contractId, s: period.start, e: period.end };
  const { jobs, refusals, escapeAttempts, singlingOutAttempts, timeline } = await jobFigures(
    store,
    range,
    starts,
    policy,
  );
  const refused = await store.all<{ code: string | null; n: number }>(
    `SELECT json_extract_string(details, '$.code') AS code, count(*)::INTEGER AS n FROM audit_log
     WHERE action = 'job.submission_refused' AND object_id = $c AND recorded_at >= $s AND recorded_at < $e GROUP BY ALL ORDER BY n DESC, code`,
    range,
  );
  const outputs = await store.all<{ status: string; n: number; cells: number }>(
    `SELECT status, count(*)::INTEGER AS n, sum(cells_suppressed)::INTEGER AS cells FROM outputs
     WHERE contract_id = $c AND created_at >= $s AND created_at < $e GROUP BY ALL`,
    range,
  );
  const heldBy = await store.all<{ check: string; n: number }>(
    `SELECT json_extract_string(c, '$.check') AS "check", count(*)::INTEGER AS n
     FROM (SELECT unnest(from_json(checks, '["JSON"]')) AS c FROM outputs WHERE contract_id = $c AND created_at >= $s AND created_at < $e)
     WHERE json_extract_string(c, '$.passed') = 'false' AND json_extract_string(c, '$.onFail') = 'hold' GROUP BY ALL ORDER BY n DESC, "check"`,
    range,
  );
  const { outside, spot } = await runChecks(store, range);
  const outputCount = (st: string) => outputs.find((o) => o.status === st)?.n ?? 0;
  const feedback = await store.one<{ filed: number; answered: number; overdue: number }>(
    `SELECT count(*)::INTEGER AS filed, count(answered_at)::INTEGER AS answered,
            count(*) FILTER (WHERE answered_at IS NULL AND due_at < $e)::INTEGER AS overdue
     FROM dataset_feedback WHERE contract_id = $c AND created_at >= $s AND created_at < $e`,
    range,
  );
  return {
    feedback: { filed: feedback?.filed ?? 0, answered: feedback?.answered ?? 0, overdue: feedback?.overdue ?? 0 },
    jobs,
    submissionsRefused: refused.map((r) => ({ code: r.code ?? 'unknown', count: r.n })),
    refusals: [...refusals.values()].sort((a, b) => b.count - a.count || a.rule.localeCompare(b.rule)),
    escapeAttempts,
    singlingOutAttempts,
    runsOutsideOsSandbox: outside?.n ?? 0,
    spotChecks: {
      checked: spot?.checked ?? 0,
      mismatches: spot?.mismatches ?? 0,
      outputsWithheld: spot?.withheld ?? 0,
    },
    outputs: {
      released: outputCount('released'),
      held: outputCount('held'),
      rejected: outputCount('rejected'),
      cellsSuppressed: outputs.reduce((n, o) => n + Number(o.cells ?? 0), 0),
      heldBy: heldBy.map((h) => ({ check: h.check, count: h.n })),
    },
    privacy: await privacy(store, range, claims),
    trackers: await trackerFigures(store, contractId, contract.operatorOrg, period, policy.rating.smallPopulationUnits),
    timeline,
  };
}

async function privacy(
  store: Store,
  range: { c: string; s: string; e: string },
  claims: ContractClaims,
): Promise<Figures['privacy']> {
  if (claims.mode !== 'dp') return null;
  const row = await store.one<{ period: number | null; total: number | null }>(
    `SELECT sum(epsilon_micro) FILTER (WHERE charged_at >= $s) AS period, sum(epsilon_micro) AS total
     FROM privacy_ledger WHERE contract_id = $c AND charged_at < $e`,
    range,
  );
  const budget = claims.privacyBudget?.epsilon ?? null;
  const spentToDate = Number(row?.total ?? 0) / 1e6;
  return {
    budget,
    spentInPeriod: Number(row?.period ?? 0) / 1e6,
    spentToDate,
    share: budget ? spentToDate / budget : null,
  };
}

/** The contract's last eight reports before the period ends, each with its operator's acknowledgement. */
async function acknowledgementsOf(
  store: Store,
  contractId: string,
  period: Period,
): Promise<ContractFacts['acknowledgements']> {
  return (
    await store.all<{
      id: string;
      period: string;
      rating: string;
      acknowledged_at: string | null;
      statement: string | null;
    }>(
      `SELECT r.id, r.period, r.rating, a.acknowledged_at, a.statement FROM reports r
       LEFT JOIN report_acknowledgements a ON a.report_id = r.id AND a.org = r.operator_org
       WHERE r.kind = 'contract' AND r.subject = $c AND r.generated_at < $e ORDER BY r.generated_at DESC LIMIT 8`,
      { c: contractId, e: period.end },
    )
  ).map((r) => ({
    reportId: r.id,
    period: r.period,
    rating: r.rating,
    acknowledgedAt: r.acknowledged_at,
    statement: r.statement,
  }));
}

/** What does not change with activity: the signed snapshot's risk, and the contract's history in the period. */
export async function contractFacts(
  store: Store,
  contractId: string,
  claims: ContractClaims,
  period: Period,
  attackCost: AttackCost,
): Promise<ContractFacts> {
  const range = { c: contractId, s: period.start, e: period.end };
  const events = await store.all<{ recorded_at: string; action: string; actor: string; reason: string | null }>(
    `SELECT recorded_at, action, actor, reason FROM audit_log
     WHERE object_type = 'contract' AND object_id = $c AND action IN ('contract.suspended', 'contract.resumed', 'contract.revoked', 'contract.expired')
       AND recorded_at >= $s AND recorded_at < $e ORDER BY seq`,
    range,
  );
  const datasets = claims.datasets.map((d) => d.dataset);
  // withdrawn in the period, or still withdrawn when it began
  const withdrawals = (
    await store.all<{
      dataset: string;
      withdrawn_at: string;
      reason: string;
      withdrawn_by: string;
      reinstated_at: string | null;
    }>(
      `SELECT dataset, withdrawn_at, reason, withdrawn_by, reinstated_at FROM dataset_withdrawals
     WHERE withdrawn_at < $e AND (withdrawn_at >= $s OR reinstated_at IS NULL OR reinstated_at >= $s) ORDER BY withdrawn_at`,
      { s: period.start, e: period.end },
    )
  ).filter((w) => datasets.includes(w.dataset));
  const years = [new Date(period.start).getUTCFullYear(), new Date(period.end).getUTCFullYear()];
  const assessed = await store.all<{ year: number; passed: boolean; indicators: string }>(
    'SELECT year, passed, indicators FROM effectiveness_assessments WHERE contract_id = $c AND year BETWEEN $y0 AND $y1 ORDER BY year',
    { c: contractId, y0: years[0]! - 1, y1: years[1]! },
  );
  return {
    attackCost,
    snapshot: Object.entries(claims.snapshot.tables).map(([table, t]) => ({
      table,
      rows: t.rows,
      k: t.risk.k,
      policyK: t.risk.policyK,
      shareBelowK: t.risk.shareBelowK,
      prosecutorRisk: t.risk.prosecutorRisk,
      averageRisk: t.risk.averageRisk,
    })),
    statusEvents: events.map((e) => ({ at: e.recorded_at, action: e.action, actor: e.actor, reason: e.reason })),
    withdrawals: withdrawals.map((w) => ({
      dataset: w.dataset,
      at: w.withdrawn_at,
      reason: w.reason,
      by: w.withdrawn_by,
      reinstatedAt: w.reinstated_at,
    })),
    effectiveness: assessed.map((a) => ({
      year: Number(a.year),
      passed: a.passed,
      // text from before values were numbers reads as "not measured": a stored assessment never breaks a report
      indicators: (JSON.parse(a.indicators) as Parameters<typeof storedIndicator>[0][]).map(storedIndicator),
    })),
    decisionOverride: claims.decisionOverride ?? null,
    destructions: await destructionsOf(store, contractId, period.end),
    acknowledgements: await acknowledgementsOf(store, contractId, period),
  };
}

/** Adds figures up (an operator's contracts); refusals and timelines merge by key and bucket. */
/** The contract's sealed destruction records up to `end`: its snapshot, its outputs' data. */
async function destructionsOf(store: Store, contractId: string, end: string): Promise<ContractFacts['destructions']> {
  const rows = await store.all<Record<string, string>>(
    `SELECT id, kind, subject_id, why, json_extract_string(actor, '$.sub') AS by, destroyed_at, jws_sha256
       FROM destruction_records WHERE contract_id = $c AND status = 'done' AND destroyed_at < $e ORDER BY destroyed_at, id`,
    { c: contractId, e: end },
  );
  return rows.map((r) => ({
    record: r.id!,
    kind: r.kind!,
    subjectId: r.subject_id!,
    why: r.why!,
    by: r.by!,
    destroyedAt: r.destroyed_at!,
    recordSha256: r.jws_sha256!,
  }));
}

export function sumFigures(all: Figures[], period: Period): Figures {
  const refusals = new Map<string, RefusalCount>();
  const refused = new Map<string, number>();
  const heldBy = new Map<string, number>();
  const timeline = buckets(period).map((start) => ({ start, submitted: 0, refused: 0, escapeAttempts: 0 }));
  const jobs = noJobs();
  const outputs: Figures['outputs'] = { released: 0, held: 0, rejected: 0, cellsSuppressed: 0, heldBy: [] };
  let escapeAttempts = 0;
  let singlingOutAttempts = 0;
  let runsOutsideOsSandbox = 0;
  const spotChecks = { checked: 0, mismatches: 0, outputsWithheld: 0 };
  const feedback = { filed: 0, answered: 0, overdue: 0 };
  // pairs add up (a pair across two contracts counts in each); the worst pattern is the largest
  const trackers: Figures['trackers'] = {
    outputsCompared: 0,
    isolatingPairs: 0,
    mostIsolationsOfOnePerson: 0,
    smallPopulationOutputs: 0,
  };
  for (const f of all) {
    trackers.outputsCompared = Math.max(trackers.outputsCompared, f.trackers.outputsCompared);
    trackers.isolatingPairs += f.trackers.isolatingPairs;
    trackers.mostIsolationsOfOnePerson = Math.max(
      trackers.mostIsolationsOfOnePerson,
      f.trackers.mostIsolationsOfOnePerson,
    );
    trackers.smallPopulationOutputs = Math.max(trackers.smallPopulationOutputs, f.trackers.smallPopulationOutputs);
    for (const k of Object.keys(jobs) as (keyof Figures['jobs'])[]) jobs[k] = (jobs[k] ?? 0) + (f.jobs[k] ?? 0);
    for (const k of ['released', 'held', 'rejected', 'cellsSuppressed'] as const) outputs[k] += f.outputs[k];
    for (const r of f.refusals) {
      const key = `${r.layer}|${r.rule}`;
      const cur = refusals.get(key) ?? { ...r, count: 0 };
      cur.count += r.count;
      refusals.set(key, cur);
    }
    for (const s of f.submissionsRefused) refused.set(s.code, (refused.get(s.code) ?? 0) + s.count);
    for (const h of f.outputs.heldBy) heldBy.set(h.check, (heldBy.get(h.check) ?? 0) + h.count);
    f.timeline.forEach((b, i) => {
      const t = timeline[i]!;
      t.submitted += b.submitted;
      t.refused += b.refused;
      t.escapeAttempts += b.escapeAttempts;
    });
    escapeAttempts += f.escapeAttempts;
    singlingOutAttempts += f.singlingOutAttempts;
    runsOutsideOsSandbox += f.runsOutsideOsSandbox;
    for (const k of ['checked', 'mismatches', 'outputsWithheld'] as const) spotChecks[k] += f.spotChecks?.[k] ?? 0;
    for (const k of ['filed', 'answered', 'overdue'] as const) feedback[k] += f.feedback?.[k] ?? 0;
  }
  outputs.heldBy = [...heldBy].map(([check, count]) => ({ check, count })).sort((a, b) => b.count - a.count);
  return {
    jobs,
    outputs,
    escapeAttempts,
    singlingOutAttempts,
    runsOutsideOsSandbox,
    spotChecks,
    feedback,
    timeline,
    trackers,
    privacy: null,
    submissionsRefused: [...refused].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count),
    refusals: [...refusals.values()].sort((a, b) => b.count - a.count || a.rule.localeCompare(b.rule)),
  };
}
