export const createReportRequest = { contractId: 'ctr_mxdv9gnn43b1af771d5c8aca', period: '2026-Q4' };

export const createReportResponse = {
  report: {
    id: 'rpt_mxdv9tsbc025290ccb2cad44',
    kind: 'contract',
    subject: 'ctr_mxdv9gnn43b1af771d5c8aca',
    operatorOrg: 'org-shuzhi',
    period: { label: '2026-Q4', kind: 'quarter', start: '2026-09-30T16:00:00.000Z', end: '2026-12-31T16:00:00.000Z' },
    previousPeriod: {
      label: '2026-Q3',
      kind: 'quarter',
      start: '2026-06-30T16:00:00.000Z',
      end: '2026-09-30T16:00:00.000Z',
    },
    partial: true,
    generatedAt: '2026-12-07T22:53:34.091Z',
    generatedBy: 'zhao.lei@risk',
    trigger: 'demand',
    auditTrail: { ok: true, entries: 41, checkpoints: 1 },
    sandbox: { os: 'bubblewrap 0.8.0, seccomp on' },
    figures: {
      jobs: {
        submitted: 2,
        run: 1,
        released: 1,
        held: 0,
        rejected: 0,
        failed: 0,
        cancelled: 1,
        unfinished: 0,
        changesRequested: 0,
      },
      submissionsRefused: [],
      refusals: [],
      escapeAttempts: 0,
      singlingOutAttempts: 0,
      runsOutsideOsSandbox: 0,
      outputs: { released: 1, held: 0, rejected: 0, cellsSuppressed: 72, heldBy: [] },
      privacy: null,
      trackers: { outputsCompared: 1, isolatingPairs: 0, mostIsolationsOfOnePerson: 0, smallPopulationOutputs: 1 },
      timeline: [
        { start: '2026-09-30T16:00:00.000Z', submitted: 0, refused: 0, escapeAttempts: 0 },
        { start: '2026-10-07T16:00:00.000Z', submitted: 0, refused: 0, escapeAttempts: 0 },
      ],
      feedback: { filed: 0, answered: 0, overdue: 0 },
      spotChecks: { checked: 0, mismatches: 0, outputsWithheld: 0 },
    },
    previousFigures: {
      jobs: {
        submitted: 0,
        run: 0,
        released: 0,
        held: 0,
        rejected: 0,
        failed: 0,
        cancelled: 0,
        unfinished: 0,
        changesRequested: 0,
      },
      submissionsRefused: [],
      refusals: [],
      escapeAttempts: 0,
      singlingOutAttempts: 0,
      runsOutsideOsSandbox: 0,
      outputs: { released: 0, held: 0, rejected: 0, cellsSuppressed: 0, heldBy: [] },
      privacy: null,
      trackers: { outputsCompared: 0, isolatingPairs: 0, mostIsolationsOfOnePerson: 0, smallPopulationOutputs: 0 },
      timeline: [
        { start: '2026-06-30T16:00:00.000Z', submitted: 0, refused: 0, escapeAttempts: 0 },
        { start: '2026-07-07T16:00:00.000Z', submitted: 0, refused: 0, escapeAttempts: 0 },
      ],
      feedback: { filed: 0, answered: 0, overdue: 0 },
      spotChecks: { checked: 0, mismatches: 0, outputsWithheld: 0 },
    },
    trend: [
      { metric: 'jobs submitted', current: 2, previous: 0, change: null },
      { metric: 'jobs refused', current: 0, previous: 0, change: null },
    ],
    rating: {
      level: 'medium',
      findings: [
        {
          rule: 'decision-override',
          level: 'medium',
          finding:
            '由 wang.fang@bureau 越过政策提示批准（理由：“合成数据演示：个别组合人数较少，输出经披露控制”），当时的政策提示：population：k = 1，低于政策要求的 k = 10；2000 条记录中有 100.0% 所在的等价类小于 10；population：检察官风险 1.000，高于政策上限 0.2（最小等价类只有 1 条记录）',
          recommendation:
            '复核该合约快照的脱敏（更粗的泛化、更少的准标识符），以及越过理由是否仍成立；不成立则收紧条款或撤销。',
          basis: 'seed 001 第三十一条 (风险评估); seed 002 第三十四条(四)',
        },
        {
          rule: 'snapshot-risk',
          level: 'medium',
          finding: 'population：100.0% 的记录所在等价类小于 k = 10（最小等价类 1）',
          recommendation: '下次生成快照时加粗准标识符的脱敏（更宽的年龄段、更短的邮编），减少小等价类中的记录。',
          basis: 'seed 002 第三十二条; seed 003 第三十九条 (脱敏)',
        },
      ],
      rulesApplied: [
        {
          rule: 'audit-integrity',
          sets: 'high',
          when: '审计哈希链或其签名检查点校验不通过 → 高',
        },
        {
          rule: 'escape-attempts',
          sets: 'high',
          when: '被拒绝的越出快照或引擎的尝试 ≥ 5 次 → 高；≥ 1 次 → 中',
        },
      ],
    },
    recommendations: [
      '复核该合约快照的脱敏（更粗的泛化、更少的准标识符），以及越过理由是否仍成立；不成立则收紧条款或撤销。',
      '下次生成快照时加粗准标识符的脱敏（更宽的年龄段、更短的邮编），减少小等价类中的记录。',
    ],
    thresholds: {
      escapeAttemptsHigh: 5,
      escapeAttemptsMedium: 1,
      singlingOutHigh: 20,
      singlingOutMedium: 3,
      refusalShareMedium: 0.25,
      refusalShareMinJobs: 8,
      epsilonShareMedium: 0.8,
      snapshotShareBelowKMedium: 0.05,
      smallPopulationUnits: 50,
      smallPopulationOutputsMedium: 10,
      smallPopulationOutputsHigh: 25,
      isolationsOfOnePersonHigh: 2,
    },
    basis: [
      'seed 002 第三十四条(四): 定期开展风险评估，并向大数据部门报送风险评估报告',
      'seed 001 第三十一条: 多维度评估, 异常情况监测预警',
    ],
    scenario: { name: '区县居民收入结构分析', purpose: '为普惠金融产品设计提供区县级收入分布参考' },
    facts: {
      attackCost: {
        measures: [
          {
            dataset: 'population',
            column: 'income',
            rule: 'noise:0.15',
            persistentErrorAtLeast: 0.075,
            within5PercentReachable: false,
          },
        ],
        membership: { countNoiseVariance: 1, countsRoundedTo: 5, pairsToTellAt95: 95, pairsWithin5PercentAt95: 9476 },
        queriesOverTerm: 365280,
      },
      snapshot: [
        { table: 'population', rows: 2000, k: 1, policyK: 10, shareBelowK: 1, prosecutorRisk: 1, averageRisk: 0.8365 },
      ],
      statusEvents: [],
      withdrawals: [],
      effectiveness: [
        {
          year: 2026,
          passed: true,
          indicators: [
            { name: '按期提交风险报告', value: 4, met: true, target: 4 },
            { name: '数据安全事件', value: 0, met: true, target: 0 },
          ],
        },
      ],
      acknowledgements: [],
      decisionOverride: {
        reason: '合成数据演示：个别组合人数较少，输出经披露控制',
        warnings: [
          'population：k = 1，低于政策要求的 k = 10；2000 条记录中有 100.0% 所在的等价类小于 10',
          'population：检察官风险 1.000，高于政策上限 0.2（最小等价类只有 1 条记录）',
        ],
        by: 'wang.fang@bureau',
      },
    },
  },
  jws: 'eyJhbGciOiJFZERTQSIsInR5cCI6InBkcy1yaXNrLXJlcG9ydCtqd3QiLCJraWQiOiI5X3NhamZmaDZlZUtGSGM5Z3ZSTFBnN2c4cHB5YV9QSXhzQVhsVmhYU21nIn0.eyJraW5kIjoiY29udHJhY3QiLCJwZXJpb2QiOiIyMDI2LVE0IiwicmF0aW5nIjoibWVkaXVtIiwic2hhMjU2IjoiY2JkYWRiM2UwNTEzYjdiMWI4OTNmODVmYmM1NzFmMjZlNjFkMjc4ZDlkNWZhZmU3NTMzZTcyYmExZTc0NDYxMCIsImh0bWxTaGEyNTYiOiJkODQxMDQ1NWZmMjhjYTM2YWU1YTM2ZWQxMjMwYmUwZjRkODFkMDc1MTIzYmJkZjBhMTFjMjUxZDEyNzg4MmQwIiwiaXNzIjoidXJuOnBkczpidXJlYXUiLCJpYXQiOjE3OTY2ODQwMTQsInN1YiI6ImN0cl9teGR2OWdubjQzYjFhZjc3MWQ1YzhhY2EiLCJqdGkiOiJycHRfbXhkdjl0c2JjMDI1MjkwY2NiMmNhZDQ0In0.HymafoXhD3ACvhxV3hOCQE6DoFeOj4WliGx8F01vlDOo83ma7nqCVKUirUO0-JcZ_klvz72hMNaPSQlMkGzBDQ',
  html: '/v1/reports/rpt_mxdv9tsbc025290ccb2cad44.html',
};

export const listReportsResponse = {
  reports: [
    {
      id: 'rpt_mxdv9tsbc025290ccb2cad44',
      kind: 'contract',
      subject: 'ctr_mxdv9gnn43b1af771d5c8aca',
      operatorOrg: 'org-shuzhi',
      period: '2026-Q4',
      trigger: 'demand',
      rating: 'medium',
      generatedAt: '2026-12-07T22:53:34.091Z',
    },
  ],
};

/** A report as read: what generating it answered, and who acknowledged it (no one yet). */
export const getReportResponse = { ...createReportResponse, acknowledgements: [] };

export const getReportHtmlResponse =
  '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\n<title>风险评估报告 Risk assessment — Contract ctr_mxdv9gnn43b1af771d5c8aca — 2026-Q4</title>\n<style>…</style></head><body>…</body></html>';

export const acknowledgeReportRequest = { statement: '已阅报告，按建议调整了输出的汇总粒度' };

export const acknowledgeReportResponse = {
  reportId: 'rpt_mxdv9tsbc025290ccb2cad44',
  org: 'org-shuzhi',
  by: 'zhang.wei@shuzhi',
  statement: '已阅报告，按建议调整了输出的汇总粒度',
  at: '2026-12-07T22:53:35.355Z',
  jws: 'eyJhbGciOiJFZERTQSIsInR5cCI6InBkcy1yZXBvcnQtYWNrK2p3dCIsImtpZCI6Ijlfc2FqZmZoNmVlS0ZIYzlndlJMUGc3ZzhwcHlhX1BJeHNBWGxWaFhTbWcifQ.eyJyZXBvcnRKd3NTaGEyNTYiOiI2ODdiMzVhMWI2YmYyYWFiMzkxNmVhODdlN2EwNGYzYWE2NjU0NDBmN2ZkNTgxMmIzZTc5MDA2NWFiMGY4ODQ0Iiwic3RhdGVtZW50Ijoi5bey6ZiF5oql5ZGK77yM5oyJ5bu66K6u6LCD5pW05LqG6L6T5Ye655qE5rGH5oC757KS5bqmIiwiYnkiOiJ6aGFuZy53ZWlAc2h1emhpIiwib3JnIjoib3JnLXNodXpoaSIsImlzcyI6InVybjpwZHM6YnVyZWF1IiwiaWF0IjoxNzk2Njg0MDE1LCJzdWIiOiJycHRfbXhkdjl0c2JjMDI1MjkwY2NiMmNhZDQ0IiwianRpIjoicnB0X214ZHY5dHNiYzAyNTI5MGNjYjJjYWQ0NDpvcmctc2h1emhpIn0.SWjOfZFwSHX0q2T5nvCJwjS8dJhygXc8e8alN6W9HJCitCwgEgia7jExMuVmimEP42_PCs4xLgTcUjpKSFQSDA',
};
