import type { WorkflowPolicy } from '../policies/index.ts';
import type { ContractFacts, Figures, Finding, Rating, RiskLevel, Trend } from './schema.ts';

export type { Finding, Rating, RiskLevel, Trend } from './schema.ts';

const ORDER: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2 };

export function maxLevel(levels: RiskLevel[]): RiskLevel {
  return levels.reduce<RiskLevel>((a, b) => (ORDER[b] > ORDER[a] ? b : a), 'low');
}

export function trend(current: Figures, previous: Figures): Trend[] {
  const pairs: [string, number, number][] = [
    ['jobs submitted', current.jobs.submitted, previous.jobs.submitted],
    ['jobs refused', current.jobs.rejected, previous.jobs.rejected],
    ['escape attempts', current.escapeAttempts, previous.escapeAttempts],
    ['singling-out attempts', current.singlingOutAttempts, previous.singlingOutAttempts],
    ['outputs released', current.outputs.released, previous.outputs.released],
    ['outputs held', current.outputs.held, previous.outputs.held],
    ['cells suppressed', current.outputs.cellsSuppressed, previous.outputs.cellsSuppressed],
  ];
  return pairs.map(([metric, c, p]) => ({ metric, current: c, previous: p, change: p === 0 ? null : (c - p) / p }));
}

type Thresholds = WorkflowPolicy['reports']['rating'];

/** What the rules look at: the period's figures, the contract's facts, the period before, the trail's state. */
export interface RatingInput {
  f: Figures;
  facts?: ContractFacts;
  prev: Figures;
  t: Thresholds;
  /** The audit chain verified when the report was made. */
  audit?: { ok: boolean; entries: number; firstBad?: { seq: number; reason: string } };
}

interface Rule {
  rule: string;
  /** The highest level the rule can set. */
  sets: RiskLevel;
  when: (t: Thresholds) => string;
  /** Answers the level and the finding when the rule fires. */
  check: (c: RatingInput) => { level: RiskLevel; finding: string } | undefined;
  recommendation: string;
  basis: string;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * The rating rules, in the order a reader meets them. Thresholds come from policies/workflow.yaml
 * (`reports.rating`); the rating is the highest level any rule sets, low when none fires.
 */
const RULES: Rule[] = [
  {
    rule: 'audit-integrity',
    sets: 'high',
    when: () => 'the audit chain or its signed checkpoints do not verify → high',
    check: ({ audit }) =>
      audit && !audit.ok
        ? {
            level: 'high',
            finding: `the audit trail does not verify: entry ${audit.firstBad?.seq ?? '?'}: ${audit.firstBad?.reason ?? 'unknown'}; the figures of this report come from a store that may have been altered`,
          }
        : undefined,
    recommendation:
      'Treat the control store as tampered: secure it, compare it with the last audit export and the signed checkpoints, and investigate before relying on any figure.',
    basis: 'seed 004 第四十九条 (可审计、可追溯); seed 003 第三十四条',
  },
  {
    rule: 'escape-attempts',
    sets: 'high',
    when: (t) =>
      `refused attempts to reach beyond the snapshot or the engine ≥ ${t.escapeAttemptsHigh} → high; ≥ ${t.escapeAttemptsMedium} → medium`,
    check: ({ f, prev, t }) => {
      if (f.escapeAttempts < t.escapeAttemptsMedium) return undefined;
      const level = f.escapeAttempts >= t.escapeAttemptsHigh ? 'high' : 'medium';
      return {
        level,
        finding: `${f.escapeAttempts} refused escape attempt(s) (previous period ${prev.escapeAttempts}): queries reaching for files, other tables, settings or more than one statement`,
      };
    },
    recommendation:
      'Review the refused queries with the operator and its staff access; where the attempts were deliberate, suspend the contract under its emergency plan and consider restricting or closing access.',
    basis: 'seed 002 第三十九条 (一场景一预案); seed 003 第三十五条; seed 004 第四十三条',
  },
  {
    rule: 'singling-out-attempts',
    sets: 'high',
    when: (t) => `refused attempts to see individuals ≥ ${t.singlingOutHigh} → high; ≥ ${t.singlingOutMedium} → medium`,
    check: ({ f, t }) => {
      if (f.singlingOutAttempts < t.singlingOutMedium) return undefined;
      return {
        level: f.singlingOutAttempts >= t.singlingOutHigh ? 'high' : 'medium',
        finding: `${f.singlingOutAttempts} refused attempt(s) to read individual values or identifiers instead of statistics`,
      };
    },
    recommendation:
      'Remind the operator that outputs are statistics only; look for a pattern of probing one person or group across the refused and released queries.',
    basis: 'seed 002 第三十二条 (原始数据不出域、数据可用不可见); seed 003 第二十条',
  },
  {
    rule: 'differencing',
    sets: 'medium',
    when: () => 'any output held by the differencing check → medium',
    check: ({ f }) => {
      const n = f.outputs.heldBy.find((h) => h.check === 'differencing')?.count ?? 0;
      return n > 0
        ? {
            level: 'medium',
            finding: `${n} output(s) held because they differ from an earlier output by fewer people than the threshold`,
          }
        : undefined;
    },
    recommendation:
      'Reviewers compare each held output with the earlier output it is paired with before deciding; reject pairs that isolate a small group.',
    basis: 'seed 001 第三十一条 (汇集后的风险多维度评估)',
  },
  {
    rule: 'tracker-pattern',
    sets: 'high',
    when: (t) =>
      `one person isolated by ≥ ${t.isolationsOfOnePersonHigh} pairs of cells, or ≥ ${t.smallPopulationOutputsHigh} outputs over one population of ≤ ${t.smallPopulationUnits} people → high; any isolating pair, or ≥ ${t.smallPopulationOutputsMedium} outputs over one such population → medium`,
    check: ({ f, t }) => {
      const { isolatingPairs, mostIsolationsOfOnePerson: most, smallPopulationOutputs: small } = f.trackers;
      const high = most >= t.isolationsOfOnePersonHigh || small >= t.smallPopulationOutputsHigh;
      if (!high && isolatingPairs === 0 && small < t.smallPopulationOutputsMedium) return undefined;
      const parts = [
        ...(isolatingPairs > 0
          ? [
              `${isolatingPairs} pair(s) of cells whose sets of people differ by one or two (one person isolated by up to ${most} pair(s))`,
            ]
          : []),
        ...(small >= t.smallPopulationOutputsMedium
          ? [`${small} outputs over one population of at most ${t.smallPopulationUnits} people`]
          : []),
      ];
      return {
        level: high ? 'high' : 'medium',
        finding: `a tracker pattern across the operator's outputs: ${parts.join('; ')} — each output may have passed alone, but together they average the perturbation away`,
      };
    },
    recommendation:
      'Review the outputs behind the pattern with the operator (the held-output queue names the pairs); where the pattern is deliberate, suspend the contract under its emergency plan and lower the daily quota.',
    basis: 'seed 001 第三十一条 (汇集后的风险多维度评估); seed 002 第三十二条 (数据可用不可见)',
  },
  {
    rule: 'refusal-share',
    sets: 'medium',
    when: (t) => `refused jobs ≥ ${pct(t.refusalShareMedium)} of at least ${t.refusalShareMinJobs} submitted → medium`,
    check: ({ f, t }) => {
      if (f.jobs.submitted < t.refusalShareMinJobs) return undefined;
      const share = f.jobs.rejected / f.jobs.submitted;
      return share >= t.refusalShareMedium
        ? { level: 'medium', finding: `${f.jobs.rejected} of ${f.jobs.submitted} jobs refused (${pct(share)})` }
        : undefined;
    },
    recommendation:
      'Offer the operator guidance on the allowed query shapes (dummy data, the SQL allowlist); a rising share without explanation is worth a conversation.',
    basis: 'seed 001 第三十一条 (异常情况监测预警)',
  },
  {
    rule: 'report-unacknowledged',
    sets: 'medium',
    when: () =>
      'an earlier report on the contract rated medium or high that its operator has not acknowledged → medium',
    check: ({ facts }) => {
      const open = (facts?.acknowledgements ?? []).filter((a) => a.rating !== 'low' && !a.acknowledgedAt);
      return open.length
        ? {
            level: 'medium',
            finding: `${open.length} earlier report(s) rated medium or high not acknowledged by the operator: ${open.map((a) => `${a.reportId} (${a.period}, ${a.rating})`).join(', ')}`,
          }
        : undefined;
    },
    recommendation:
      'Ask the operator to acknowledge the reports with a statement of what it did (POST /v1/reports/:id/acknowledgement); suspend the contract if the findings stand unanswered.',
    basis: 'seed 002 第三十四条(四) (报送风险评估报告)',
  },
  {
    rule: 'decision-override',
    sets: 'medium',
    when: () => 'the contract was approved by override although its risk preview broke the policy → medium',
    check: ({ facts }) =>
      facts?.decisionOverride
        ? {
            level: 'medium',
            finding: `approved by ${facts.decisionOverride.by} by override (“${facts.decisionOverride.reason}”) despite: ${facts.decisionOverride.warnings.join('; ')}`,
          }
        : undefined,
    recommendation:
      'Re-examine the masking of this contract’s snapshot (coarser generalization, fewer quasi-identifiers) and whether the reason for the override still holds; tighten the terms or revoke if it does not.',
    basis: 'seed 001 第三十一条 (风险评估); seed 002 第三十四条(四)',
  },
  {
    rule: 'worker-forgery',
    sets: 'high',
    when: () => "a spot check found a remote worker's result different from the API's own run of it → high",
    check: ({ f }) =>
      f.spotChecks && f.spotChecks.mismatches > 0
        ? {
            level: 'high',
            finding: `${f.spotChecks.mismatches} forged result(s) caught by re-execution (the worker revoked; ${f.spotChecks.outputsWithheld} output(s) of this contract withheld as unverified), of ${f.spotChecks.checked} remote result(s) checked`,
          }
        : undefined,
    recommendation:
      'Treat the caught worker’s host as compromised: re-image it before registering a new worker there; reject the withheld outputs or have their jobs run again; tell the operator that copies of withdrawn outputs it downloaded are void.',
    basis: 'seed 000 第三十九条 (技术措施); seed 004 第四十九条 (可审计、可追溯)',
  },
  {
    rule: 'os-sandbox-off',
    sets: 'medium',
    when: () => 'any job run without the OS sandbox layer around its runner → medium',
    check: ({ f }) =>
      f.runsOutsideOsSandbox > 0
        ? { level: 'medium', finding: `${f.runsOutsideOsSandbox} job run(s) started without the OS sandbox layer` }
        : undefined,
    recommendation:
      'Install bubblewrap where the runners start (the API, every pds worker) and restart without SANDBOX_OS=off: until then a query that gets past the engine meets no file, network or process boundary.',
    basis: 'seed 000 第三十九条 (访问控制等技术措施)',
  },
  {
    rule: 'privacy-budget',
    sets: 'medium',
    when: (t) => `ε spent ≥ ${pct(t.epsilonShareMedium)} of the contract's budget → medium`,
    check: ({ f, t }) => {
      const p = f.privacy;
      if (!p || p.share === null || p.share < t.epsilonShareMedium) return undefined;
      return {
        level: 'medium',
        finding: `ε ${p.spentToDate} of ${p.budget} spent (${pct(p.share)}), ${p.spentInPeriod} of it in this period`,
      };
    },
    recommendation:
      'Plan the remaining queries with the operator; once the budget is spent no further dp query runs until a new contract with a new budget is signed.',
    basis: '合约条款（privacyBudget）',
  },
  {
    rule: 'snapshot-risk',
    sets: 'medium',
    when: (t) =>
      `a snapshot table with more than ${pct(t.snapshotShareBelowKMedium)} of records in classes smaller than k → medium`,
    check: ({ facts, t }) => {
      const risky = (facts?.snapshot ?? []).filter((s) => s.shareBelowK > t.snapshotShareBelowKMedium);
      return risky.length > 0
        ? {
            level: 'medium',
            finding: risky
              .map((s) => `${s.table}: ${pct(s.shareBelowK)} of records below k = ${s.policyK} (smallest class ${s.k})`)
              .join('; '),
          }
        : undefined;
    },
    recommendation:
      'Coarsen the masking of the quasi-identifiers at the next snapshot (wider age bands, shorter postcodes) so fewer records sit in small classes.',
    basis: 'seed 002 第三十二条; seed 003 第三十九条 (脱敏)',
  },
  {
    rule: 'contract-interrupted',
    sets: 'medium',
    when: () => 'the contract was suspended or revoked, or a dataset it uses was withdrawn, in the period → medium',
    check: ({ facts }) => {
      // a resumption or the term's end is not an interruption
      const events = (facts?.statusEvents ?? []).filter(
        (e) => e.action === 'contract.suspended' || e.action === 'contract.revoked',
      );
      const parts = [
        ...events.map((e) => `${e.action.replace('contract.', '')} at ${e.at}${e.reason ? `: ${e.reason}` : ''}`),
        ...(facts?.withdrawals ?? []).map((w) => `dataset ${w.dataset} withdrawn at ${w.at}: ${w.reason}`),
      ];
      return parts.length > 0 ? { level: 'medium', finding: parts.join('; ') } : undefined;
    },
    recommendation:
      'Confirm the cause is settled before resuming; an objection to a dataset is answered by its provider before the data returns.',
    basis: 'seed 001 第二十二条 (异议: 暂停、撤回); seed 003 第二十八条',
  },
  {
    rule: 'effectiveness',
    sets: 'medium',
    when: () => 'a failed yearly effectiveness assessment → medium',
    check: ({ facts }) => {
      const failed = (facts?.effectiveness ?? []).filter((e) => !e.passed);
      return failed.length > 0
        ? { level: 'medium', finding: `effectiveness assessment failed for ${failed.map((e) => e.year).join(', ')}` }
        : undefined;
    },
    recommendation:
      'Agree an improvement plan with the operator; a second consecutive failing year cancels the authorization.',
    basis: 'seed 002 第三十五条',
  },
];

export function rate(input: RatingInput): Rating {
  const { t } = input;
  const findings: Finding[] = [];
  for (const r of RULES) {
    const hit = r.check(input);
    if (hit)
      findings.push({
        rule: r.rule,
        level: hit.level,
        finding: hit.finding,
        recommendation: r.recommendation,
        basis: r.basis,
      });
  }
  return {
    level: maxLevel(findings.map((x) => x.level)),
    findings: findings.sort((a, b) => ORDER[b.level] - ORDER[a.level]),
    rulesApplied: RULES.map((r) => ({ rule: r.rule, sets: r.sets, when: r.when(t) })),
  };
}

/** What to do next: the fired rules' recommendations, or routine monitoring when none fired. */
export function recommendations(rating: Rating): string[] {
  if (rating.findings.length === 0)
    return ['No rule fired: continue routine monitoring; the next report follows at the end of the next period.'];
  return [...new Set(rating.findings.map((f) => f.recommendation))];
}
