import { describe, expect, it } from 'vitest';
import { categorize, loadPolicies } from '../../src/policies/index.ts';
import { NONE_FIRED, rate, recommendations, type ContractFacts, type Figures } from '../../src/reports/index.ts';
import { RATING_RULE } from '../../src/terms/index.ts';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import path from 'node:path';

const policy = loadPolicies(path.join(PACKAGE_ROOT, 'policies')).workflow.reports;
const t = policy.rating;

function figures(over: Partial<Figures> = {}): Figures {
  return {
    jobs: { submitted: 0, run: 0, released: 0, held: 0, rejected: 0, failed: 0, cancelled: 0, unfinished: 0 },
    submissionsRefused: [],
    refusals: [],
    escapeAttempts: 0,
    singlingOutAttempts: 0,
    runsOutsideOsSandbox: 0,
    outputs: { released: 0, held: 0, rejected: 0, cellsSuppressed: 0, heldBy: [] },
    privacy: null,
    trackers: { outputsCompared: 0, isolatingPairs: 0, mostIsolationsOfOnePerson: 0, smallPopulationOutputs: 0 },
    timeline: [],
    ...over,
  };
}

const facts = (over: Partial<ContractFacts> = {}): ContractFacts => ({
  attackCost: { measures: [], membership: null, queriesOverTerm: 0 },
  snapshot: [],
  statusEvents: [],
  withdrawals: [],
  effectiveness: [],
  ...over,
});
const quiet = figures();

describe('rating rules', () => {
  it('a run without the OS sandbox layer rates the period medium, saying how many', () => {
    const r = rate({ f: figures({ runsOutsideOsSandbox: 3 }), facts: facts(), prev: quiet, t });
    expect(r.level).toBe('medium');
    expect(r.findings).toEqual([
      expect.objectContaining({ rule: 'os-sandbox-off', finding: '3 次作业运行未启用操作系统沙箱层' }),
    ]);
  });

  it('a forgery caught by a spot check rates the period high, saying what was withheld; checks that matched rate nothing', () => {
    const caught = rate({
      f: figures({ spotChecks: { checked: 12, mismatches: 1, outputsWithheld: 3 } }),
      facts: facts(),
      prev: quiet,
      t,
    });
    expect(caught.level).toBe('high');
    expect(caught.findings).toEqual([
      expect.objectContaining({
        rule: 'worker-forgery',
        finding: '重算抽查的 12 个远程结果中有 1 个为伪造（该工作节点已撤销；此合约 3 份输出因未经核验被扣留）',
      }),
    ]);
    const matched = rate({
      f: figures({ spotChecks: { checked: 12, mismatches: 0, outputsWithheld: 0 } }),
      prev: quiet,
      t,
    });
    expect(matched).toMatchObject({ level: 'low', findings: [] });
  });

  it('nothing fired is low, with every rule listed as applied', () => {
    const r = rate({ f: quiet, facts: facts(), prev: quiet, t });
    expect(r).toMatchObject({ level: 'low', findings: [] });
    expect(r.rulesApplied).toHaveLength(14);
  });

  it("each rule's condition is a Chinese sentence with the policy's thresholds, and the rule is in the glossary (issue 33)", () => {
    const r = rate({ f: quiet, facts: facts(), prev: quiet, t });
    for (const x of r.rulesApplied) {
      expect(RATING_RULE[x.rule], x.rule).toBeDefined();
      expect(x.when, x.rule).toMatch(/\p{Script=Han}.*→ [高中]$/u);
      expect(x.when, x.rule).not.toMatch(/[a-z]{3,} [a-z]{3,}/);
    }
    const when = Object.fromEntries(r.rulesApplied.map((x) => [x.rule, x.when]));
    expect(when['escape-attempts']).toBe(
      `被拒绝的越出快照或引擎的尝试 ≥ ${t.escapeAttemptsHigh} 次 → 高；≥ ${t.escapeAttemptsMedium} 次 → 中`,
    );
    expect(when['privacy-budget']).toContain(`${(t.epsilonShareMedium * 100).toFixed(1)}%`);
    expect(recommendations(r)).toEqual([NONE_FIRED]);
  });

  it('tracker patterns: an isolating pair or a repeated small population is medium; one person isolated again, or many outputs, high', () => {
    const tr = (o: Partial<Figures['trackers']>) =>
      figures({
        trackers: {
          outputsCompared: 40,
          isolatingPairs: 0,
          mostIsolationsOfOnePerson: 0,
          smallPopulationOutputs: 0,
          ...o,
        },
      });
    const level = (f: Figures) => rate({ f, facts: facts(), prev: quiet, t }).level;
    expect(level(tr({ smallPopulationOutputs: t.smallPopulationOutputsMedium - 1 }))).toBe('low');
    expect(level(tr({ smallPopulationOutputs: t.smallPopulationOutputsMedium }))).toBe('medium');
    expect(level(tr({ smallPopulationOutputs: t.smallPopulationOutputsHigh }))).toBe('high');
    expect(level(tr({ isolatingPairs: 1, mostIsolationsOfOnePerson: 1 }))).toBe('medium');
    const r = rate({
      f: tr({ isolatingPairs: 3, mostIsolationsOfOnePerson: t.isolationsOfOnePersonHigh }),
      facts: facts(),
      prev: quiet,
      t,
    });
    expect(r.level).toBe('high');
    expect(r.findings[0]).toMatchObject({ rule: 'tracker-pattern' });
  });

  it('escape attempts: medium from the medium threshold, high from the high one, nothing below', () => {
    const at = (n: number) => rate({ f: figures({ escapeAttempts: n }), facts: facts(), prev: quiet, t }).level;
    expect(at(t.escapeAttemptsMedium - 1)).toBe('low');
    expect(at(t.escapeAttemptsMedium)).toBe('medium');
    expect(at(t.escapeAttemptsHigh - 1)).toBe('medium');
    expect(at(t.escapeAttemptsHigh)).toBe('high');
  });

  it('singling-out attempts follow their own thresholds', () => {
    const at = (n: number) => rate({ f: figures({ singlingOutAttempts: n }), facts: facts(), prev: quiet, t }).level;
    expect([at(t.singlingOutMedium - 1), at(t.singlingOutMedium), at(t.singlingOutHigh)]).toEqual([
      'low',
      'medium',
      'high',
    ]);
  });

  it('the refusal share counts only from enough jobs', () => {
    const jobs = (submitted: number, rejected: number) => figures({ jobs: { ...quiet.jobs, submitted, rejected } });
    expect(
      rate({ f: jobs(t.refusalShareMinJobs - 1, t.refusalShareMinJobs - 1), facts: facts(), prev: quiet, t }).level,
    ).toBe('low');
    const n = 100;
    expect(
      rate({ f: jobs(n, Math.ceil(n * t.refusalShareMedium)), facts: facts(), prev: quiet, t }).findings.map(
        (f) => f.rule,
      ),
    ).toEqual(['refusal-share']);
    expect(rate({ f: jobs(n, Math.ceil(n * t.refusalShareMedium) - 1), facts: facts(), prev: quiet, t }).level).toBe(
      'low',
    );
  });

  it('ε, snapshot risk, differencing, interruptions and effectiveness each set medium', () => {
    const cases: [string, Figures, ContractFacts][] = [
      [
        'privacy-budget',
        figures({
          privacy: {
            budget: 10,
            spentInPeriod: 2,
            spentToDate: 10 * t.epsilonShareMedium,
            share: t.epsilonShareMedium,
          },
        }),
        facts(),
      ],
      [
        'snapshot-risk',
        quiet,
        facts({
          snapshot: [
            {
              table: 'p',
              rows: 100,
              k: 1,
              policyK: 10,
              shareBelowK: t.snapshotShareBelowKMedium + 0.01,
              prosecutorRisk: 1,
              averageRisk: 0.2,
            },
          ],
        }),
      ],
      [
        'differencing',
        figures({ outputs: { ...quiet.outputs, held: 1, heldBy: [{ check: 'differencing', count: 1 }] } }),
        facts(),
      ],
      [
        'contract-interrupted',
        quiet,
        facts({ withdrawals: [{ dataset: 'population', at: 'x', reason: 'objection', by: 'p', reinstatedAt: null }] }),
      ],
      [
        'contract-interrupted',
        quiet,
        facts({ statusEvents: [{ at: 'x', action: 'contract.suspended', actor: 'r', reason: 'check' }] }),
      ],
      ['effectiveness', quiet, facts({ effectiveness: [{ year: 2026, passed: false, indicators: [] }] })],
    ];
    for (const [rule, f, x] of cases) {
      const r = rate({ f: f, facts: x, prev: quiet, t });
      expect(r.level, rule).toBe('medium');
      expect(
        r.findings.map((y) => y.rule),
        rule,
      ).toEqual([rule]);
      expect(r.findings[0]!.recommendation.length, rule).toBeGreaterThan(20);
      // written in Chinese where it is made (issue 33): the finding, and the action docs/glossary.md's rule has
      expect(r.findings[0]!.finding, rule).toMatch(/\p{Script=Han}/u);
      expect(r.findings[0]!.finding, rule).not.toMatch(/[a-z]{3,} [a-z]{3,}/);
      expect(r.findings[0]!.recommendation, rule).toBe(RATING_RULE[rule]!.action);
      expect(r.findings[0]!.basis, rule).toMatch(/seed|合约条款/);
    }
    // a resumption alone is not an interruption; a snapshot at the threshold is not above it
    expect(
      rate({
        f: quiet,
        facts: facts({ statusEvents: [{ at: 'x', action: 'contract.resumed', actor: 'b', reason: null }] }),
        prev: quiet,
        t,
      }).level,
    ).toBe('low');
    expect(
      rate({
        f: quiet,
        facts: facts({
          snapshot: [
            {
              table: 'p',
              rows: 1,
              k: 10,
              policyK: 10,
              shareBelowK: t.snapshotShareBelowKMedium,
              prosecutorRisk: 0.1,
              averageRisk: 0.1,
            },
          ],
        }),
        prev: quiet,
        t,
      }).level,
    ).toBe('low');
  });

  it('an audit trail that does not verify rates any report high, naming the entry', () => {
    const r = rate({
      f: quiet,
      facts: facts(),
      prev: quiet,
      t,
      audit: {
        ok: false,
        entries: 40,
        firstBad: { seq: 17, code: 'entry-hash', reason: 'hash does not match the entry content' },
      },
    });
    expect(r.level).toBe('high');
    expect(r.findings[0]).toMatchObject({
      rule: 'audit-integrity',
      finding: '审计记录校验不通过：第 17 条记录的内容与其哈希不符：记录被改动；本报告的数字来自可能已被改动的控制库',
    });
    expect(rate({ f: quiet, facts: facts(), prev: quiet, t, audit: { ok: true, entries: 40 } }).level).toBe('low');
  });

  it('the highest level wins and findings come highest first', () => {
    const r = rate({
      f: figures({
        escapeAttempts: t.escapeAttemptsHigh,
        outputs: { ...quiet.outputs, heldBy: [{ check: 'differencing', count: 2 }] },
      }),
      facts: facts(),
      prev: quiet,
      t,
    });
    expect(r.level).toBe('high');
    expect(r.findings.map((f) => [f.rule, f.level])).toEqual([
      ['escape-attempts', 'high'],
      ['differencing', 'medium'],
    ]);
  });
});

describe('refusal categories', () => {
  it('classes refusals by code and rule as workflow.yaml says', () => {
    expect(
      categorize({ code: 'ERR_SQL_FUNCTION_NOT_ALLOWED', layer: 'analysis', rule: 'no-table-functions' }, policy),
    ).toBe('escape');
    expect(categorize({ code: 'ERR_SANDBOX_DENIED', layer: 'engine' }, policy)).toBe('escape');
    expect(
      categorize({ code: 'ERR_SQL_SHAPE_NOT_ALLOWED', layer: 'analysis', rule: 'identifier-only-counted' }, policy),
    ).toBe('singling-out');
    expect(categorize({ code: 'ERR_DISCLOSURE_REFUSED', layer: 'disclosure', rule: 'identifier-scan' }, policy)).toBe(
      'singling-out',
    );
    expect(categorize({ code: 'ERR_LIMIT_EXCEEDED', layer: 'process' }, policy)).toBe('limit');
    expect(categorize({ code: 'ERR_SQL_SYNTAX', layer: 'analysis' }, policy)).toBe('error');
    expect(
      categorize({ code: 'ERR_SQL_FUNCTION_NOT_ALLOWED', layer: 'analysis', rule: 'function-allowlist' }, policy),
    ).toBe('other');
  });
});
