import type { WorkflowPolicy } from '../policies/index.ts';
import { auditBreakText, policyWarningText, RATING, RATING_RULE, shanghaiTime, term } from '../terms/index.ts';
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
  audit?: {
    ok: boolean;
    entries: number;
    firstBad?: { seq: number; code?: string; reason: string; expectedSeq?: number };
  };
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
/** The rule's recommended action, fixed once in src/terms (docs/glossary.md, 风险评级规则). */
const action = (rule: string): string => {
  const a = RATING_RULE[rule]?.action;
  if (!a) throw new TypeError(`rating rule ${rule} has no action in src/terms`);
  return a;
};

/**
 * The rating rules, in the order a reader meets them. Thresholds come from policies/workflow.yaml
 * (`reports.rating`); the rating is the highest level any rule sets, low when none fires. Findings
 * and conditions are written in Chinese here, where they are made, so the signed JSON and the page
 * say the same (issue 33; docs/glossary.md); rule ids stay machine values.
 */
const RULES: Rule[] = [
  {
    rule: 'audit-integrity',
    sets: 'high',
    when: () => '审计哈希链或其签名检查点校验不通过 → 高',
    check: ({ audit }) =>
      audit && !audit.ok
        ? {
            level: 'high',
            finding: `审计记录校验不通过：${audit.firstBad ? auditBreakText(audit.firstBad) : '原因不明'}；本报告的数字来自可能已被改动的控制库`,
          }
        : undefined,
    recommendation: action('audit-integrity'),
    basis: 'seed 004 第四十九条 (可审计、可追溯); seed 003 第三十四条',
  },
  {
    rule: 'escape-attempts',
    sets: 'high',
    when: (t) => `被拒绝的越出快照或引擎的尝试 ≥ ${t.escapeAttemptsHigh} 次 → 高；≥ ${t.escapeAttemptsMedium} 次 → 中`,
    check: ({ f, prev, t }) => {
      if (f.escapeAttempts < t.escapeAttemptsMedium) return undefined;
      const level = f.escapeAttempts >= t.escapeAttemptsHigh ? 'high' : 'medium';
      return {
        level,
        finding: `${f.escapeAttempts} 次逃逸尝试被拒绝（上期 ${prev.escapeAttempts} 次）：查询试图读取文件、其他表、设置或执行多条语句`,
      };
    },
    recommendation: action('escape-attempts'),
    basis: 'seed 002 第三十九条 (一场景一预案); seed 003 第三十五条; seed 004 第四十三条',
  },
  {
    rule: 'singling-out-attempts',
    sets: 'high',
    when: (t) => `被拒绝的查看个体的尝试 ≥ ${t.singlingOutHigh} 次 → 高；≥ ${t.singlingOutMedium} 次 → 中`,
    check: ({ f, t }) => {
      if (f.singlingOutAttempts < t.singlingOutMedium) return undefined;
      return {
        level: f.singlingOutAttempts >= t.singlingOutHigh ? 'high' : 'medium',
        finding: `${f.singlingOutAttempts} 次读取个体值或标识符（而非统计结果）的尝试被拒绝`,
      };
    },
    recommendation: action('singling-out-attempts'),
    basis: 'seed 002 第三十二条 (原始数据不出域、数据可用不可见); seed 003 第二十条',
  },
  {
    rule: 'differencing',
    sets: 'medium',
    when: () => '有输出因差分比对检查转人工审核 → 中',
    check: ({ f }) => {
      const n = f.outputs.heldBy.find((h) => h.check === 'differencing')?.count ?? 0;
      return n > 0
        ? { level: 'medium', finding: `${n} 份输出转人工审核：与一份早先输出相差的人数少于阈值` }
        : undefined;
    },
    recommendation: action('differencing'),
    basis: 'seed 001 第三十一条 (汇集后的风险多维度评估)',
  },
  {
    rule: 'tracker-pattern',
    sets: 'high',
    when: (t) =>
      `同一人被 ≥ ${t.isolationsOfOnePersonHigh} 对单元格分离出来，或针对同一不超过 ${t.smallPopulationUnits} 人的群体有 ≥ ${t.smallPopulationOutputsHigh} 份输出 → 高；有任何分离出个人的单元格对，或针对此类群体有 ≥ ${t.smallPopulationOutputsMedium} 份输出 → 中`,
    check: ({ f, t }) => {
      const { isolatingPairs, mostIsolationsOfOnePerson: most, smallPopulationOutputs: small } = f.trackers;
      const high = most >= t.isolationsOfOnePersonHigh || small >= t.smallPopulationOutputsHigh;
      if (!high && isolatingPairs === 0 && small < t.smallPopulationOutputsMedium) return undefined;
      const parts = [
        ...(isolatingPairs > 0
          ? [`${isolatingPairs} 对单元格背后的人群只相差一两人（同一人最多被 ${most} 对分离出来）`]
          : []),
        ...(small >= t.smallPopulationOutputsMedium
          ? [`${small} 份输出针对同一个不超过 ${t.smallPopulationUnits} 人的群体`]
          : []),
      ];
      return {
        level: high ? 'high' : 'medium',
        finding: `运营单位的输出呈追踪者模式：${parts.join('；')}——每份输出单独都可能通过检查，合起来却可平均掉扰动`,
      };
    },
    recommendation: action('tracker-pattern'),
    basis: 'seed 001 第三十一条 (汇集后的风险多维度评估); seed 002 第三十二条 (数据可用不可见)',
  },
  {
    rule: 'refusal-share',
    sets: 'medium',
    when: (t) => `提交至少 ${t.refusalShareMinJobs} 个作业，被拒绝的占 ≥ ${pct(t.refusalShareMedium)} → 中`,
    check: ({ f, t }) => {
      if (f.jobs.submitted < t.refusalShareMinJobs) return undefined;
      const share = f.jobs.rejected / f.jobs.submitted;
      return share >= t.refusalShareMedium
        ? { level: 'medium', finding: `${f.jobs.submitted} 个作业中 ${f.jobs.rejected} 个被拒绝（${pct(share)}）` }
        : undefined;
    },
    recommendation: action('refusal-share'),
    basis: 'seed 001 第三十一条 (异常情况监测预警)',
  },
  {
    rule: 'report-unacknowledged',
    sets: 'medium',
    when: () => '此合约此前评级为中或高的报告未经运营单位确认 → 中',
    check: ({ facts }) => {
      const open = (facts?.acknowledgements ?? []).filter((a) => a.rating !== 'low' && !a.acknowledgedAt);
      return open.length
        ? {
            level: 'medium',
            finding: `${open.length} 份此前评级为中或高的报告未经运营单位确认：${open.map((a) => `${a.reportId}（${a.period}，${term(RATING, a.rating)}）`).join('、')}`,
          }
        : undefined;
    },
    recommendation: action('report-unacknowledged'),
    basis: 'seed 002 第三十四条(四) (报送风险评估报告)',
  },
  {
    rule: 'decision-override',
    sets: 'medium',
    when: () => '合约的风险预览不符合政策，却经越过政策提示的理由批准 → 中',
    check: ({ facts }) =>
      facts?.decisionOverride
        ? {
            level: 'medium',
            finding: `由 ${facts.decisionOverride.by} 越过政策提示批准（理由：“${facts.decisionOverride.reason}”），当时的政策提示：${facts.decisionOverride.warnings.map(policyWarningText).join('；')}`,
          }
        : undefined,
    recommendation: action('decision-override'),
    basis: 'seed 001 第三十一条 (风险评估); seed 002 第三十四条(四)',
  },
  {
    rule: 'worker-forgery',
    sets: 'high',
    when: () => '抽查发现远程工作节点的结果与平台自行重算的不同 → 高',
    check: ({ f }) =>
      f.spotChecks && f.spotChecks.mismatches > 0
        ? {
            level: 'high',
            finding: `重算抽查的 ${f.spotChecks.checked} 个远程结果中有 ${f.spotChecks.mismatches} 个为伪造（该工作节点已撤销；此合约 ${f.spotChecks.outputsWithheld} 份输出因未经核验被扣留）`,
          }
        : undefined,
    recommendation: action('worker-forgery'),
    basis: 'seed 000 第三十九条 (技术措施); seed 004 第四十九条 (可审计、可追溯)',
  },
  {
    rule: 'os-sandbox-off',
    sets: 'medium',
    when: () => '有作业的运行器外没有操作系统沙箱层 → 中',
    check: ({ f }) =>
      f.runsOutsideOsSandbox > 0
        ? { level: 'medium', finding: `${f.runsOutsideOsSandbox} 次作业运行未启用操作系统沙箱层` }
        : undefined,
    recommendation: action('os-sandbox-off'),
    basis: 'seed 000 第三十九条 (访问控制等技术措施)',
  },
  {
    rule: 'privacy-budget',
    sets: 'medium',
    when: (t) => `已用 ε ≥ 合约预算的 ${pct(t.epsilonShareMedium)} → 中`,
    check: ({ f, t }) => {
      const p = f.privacy;
      if (!p || p.share === null || p.share < t.epsilonShareMedium) return undefined;
      return {
        level: 'medium',
        finding: `预算 ε ${p.budget} 已用 ${p.spentToDate}（${pct(p.share)}），其中本期用 ${p.spentInPeriod}`,
      };
    },
    recommendation: action('privacy-budget'),
    basis: '合约条款（privacyBudget）',
  },
  {
    rule: 'snapshot-risk',
    sets: 'medium',
    when: (t) => `快照中某表小于 k 的等价类所含记录超过 ${pct(t.snapshotShareBelowKMedium)} → 中`,
    check: ({ facts, t }) => {
      const risky = (facts?.snapshot ?? []).filter((s) => s.shareBelowK > t.snapshotShareBelowKMedium);
      return risky.length > 0
        ? {
            level: 'medium',
            finding: risky
              .map(
                (s) => `${s.table}：${pct(s.shareBelowK)} 的记录所在等价类小于 k = ${s.policyK}（最小等价类 ${s.k}）`,
              )
              .join('；'),
          }
        : undefined;
    },
    recommendation: action('snapshot-risk'),
    basis: 'seed 002 第三十二条; seed 003 第三十九条 (脱敏)',
  },
  {
    rule: 'contract-interrupted',
    sets: 'medium',
    when: () => '本期内合约被暂停或撤销，或其使用的数据集被撤回 → 中',
    check: ({ facts }) => {
      // a resumption or the term's end is not an interruption
      const events = (facts?.statusEvents ?? []).filter(
        (e) => e.action === 'contract.suspended' || e.action === 'contract.revoked',
      );
      const at = (iso: string) => shanghaiTime(iso, { offset: true });
      const parts = [
        ...events.map(
          (e) =>
            `${at(e.at)} 合约${e.action === 'contract.suspended' ? '暂停' : '撤销'}${e.reason ? `：${e.reason}` : ''}`,
        ),
        ...(facts?.withdrawals ?? []).map((w) => `${at(w.at)} 数据集 ${w.dataset} 撤回：${w.reason}`),
      ];
      return parts.length > 0 ? { level: 'medium', finding: parts.join('；') } : undefined;
    },
    recommendation: action('contract-interrupted'),
    basis: 'seed 001 第二十二条 (异议: 暂停、撤回); seed 003 第二十八条',
  },
  {
    rule: 'effectiveness',
    sets: 'medium',
    when: () => '年度成效评估未通过 → 中',
    check: ({ facts }) => {
      const failed = (facts?.effectiveness ?? []).filter((e) => !e.passed);
      return failed.length > 0
        ? { level: 'medium', finding: `${failed.map((e) => e.year).join('、')} 年度成效评估未通过` }
        : undefined;
    },
    recommendation: action('effectiveness'),
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

/** What the report recommends when no rule fired (the page says the same). */
export const NONE_FIRED = '没有规则触发：继续日常监测，下一份报告在下期末生成。';

/** What to do next: the fired rules' recommendations, or routine monitoring when none fired. */
export function recommendations(rating: Rating): string[] {
  if (rating.findings.length === 0) return [NONE_FIRED];
  return [...new Set(rating.findings.map((f) => f.recommendation))];
}
