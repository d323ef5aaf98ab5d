import { buildingContract } from './contracts.ts';

export const previewApplicationRequest = {
  mode: 'aggregate',
  datasets: [
    {
      dataset: 'population',
      columns: ['district', 'gender', 'birth_date', 'education', 'income'],
      masking: { birth_date: 'generalize:year' },
    },
  ],
};
export const previewApplicationResponse = {
  grants: [
    {
      dataset: 'population',
      provider: 'org-psb',
      providerName: '市公安局',
      privacyUnit: 'id_number',
      columns: [
        { column: 'district', rule: 'keep' },
        { column: 'gender', rule: 'keep' },
        { column: 'birth_date', rule: 'generalize:year' },
        { column: 'education', rule: 'keep' },
        { column: 'income', rule: 'noise:0.15' },
      ],
    },
  ],
  risk: {
    population: {
      quasiIdentifiers: ['district', 'gender', 'birth_date', 'education'],
      sensitive: ['income'],
      records: 2000,
      classes: 1673,
      k: 1,
      policyK: 10,
      recordsBelowK: 2000,
      shareBelowK: 1,
      prosecutorRisk: 1,
      averageRisk: 0.8365,
      classSizes: [
        { size: '1', classes: 1406, records: 1406 },
        { size: '2', classes: 212, records: 424 },
        { size: '3-4', classes: 55, records: 170 },
      ],
      lDiversity: { income: 1 },
    },
  },
  warnings: [
    'population：k = 1，低于政策要求的 k = 10；2000 条记录中有 100.0% 所在的等价类小于 10',
    'population：检察官风险 1.000，高于政策上限 0.2（最小等价类只有 1 条记录）',
  ],
  notices: [],
};

export const createApplicationRequest = {
  scenario: { name: '区县居民收入结构分析', purpose: '为普惠金融产品设计提供区县级收入分布参考', paid: false },
  mode: 'aggregate',
  termMonths: 12,
  datasets: [
    {
      dataset: 'population',
      columns: ['district', 'gender', 'birth_date', 'education', 'income'],
      masking: { birth_date: 'generalize:year' },
    },
  ],
  emergencyPlan: {
    contact: '数智科技 安全负责人 0851-00000000',
    triggers: ['疑似重识别', '输出异常'],
    actions: ['立即暂停合约', '通知数据局'],
  },
  securityControls: ['仅在沙箱内分析', '输出经披露控制'],
};
/** Filed: waiting for its provider's review; the risk preview breaks the policy (warnings). */
export const createApplicationResponse = {
  id: 'app_mxdv9g6s18a22c52aa1c9530',
  status: 'pending',
  operatorOrg: 'org-shuzhi',
  createdBy: 'zhang.wei@shuzhi',
  createdAt: '2026-12-07T22:53:16.468Z',
  scenario: { name: '区县居民收入结构分析', purpose: '为普惠金融产品设计提供区县级收入分布参考', paid: false },
  mode: 'aggregate',
  termMonths: 12,
  datasets: [
    {
      dataset: 'population',
      columns: ['district', 'gender', 'birth_date', 'education', 'income'],
      masking: { birth_date: 'generalize:year' },
    },
  ],
  emergencyPlan: {
    contact: '数智科技 安全负责人 0851-00000000',
    triggers: ['疑似重识别', '输出异常'],
    actions: ['立即暂停合约', '通知数据局'],
  },
  ...previewApplicationResponse,
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
  reviews: [
    {
      dataset: 'population',
      provider: 'org-psb',
      status: 'pending',
      reviewer: null,
      reason: null,
      reviewedAt: null,
      dueAt: '2026-12-15T16:00:00.000Z',
      overdue: false,
    },
  ],
  decision: null,
  contractId: null,
  securityControls: ['仅在沙箱内分析', '输出经披露控制'],
};

export const getApplicationResponse = createApplicationResponse;
export const listApplicationsResponse = [createApplicationResponse];

export const listReviewQueueResponse = [
  {
    dataset: 'population',
    provider: 'org-psb',
    status: 'pending',
    reviewer: null,
    reason: null,
    reviewedAt: null,
    dueAt: '2026-12-15T16:00:00.000Z',
    overdue: false,
    applicationId: 'app_mxdv9g6s18a22c52aa1c9530',
    operatorOrg: 'org-shuzhi',
    scenario: '区县居民收入结构分析',
    submittedAt: '2026-12-07T22:53:16.468Z',
  },
];

export const reviewApplicationRequest = {
  dataset: 'population',
  decision: 'approve',
  reason: '字段已按最小必要原则脱敏，同意',
};
export const reviewApplicationResponse = {
  ...createApplicationResponse,
  reviews: [
    {
      dataset: 'population',
      provider: 'org-psb',
      status: 'approved',
      reviewer: 'li.na@psb',
      reason: '字段已按最小必要原则脱敏，同意',
      reviewedAt: '2026-12-07T22:53:16.945Z',
      dueAt: '2026-12-15T16:00:00.000Z',
      overdue: false,
    },
  ],
};

export const decideApplicationRequest = {
  decision: 'approve',
  reason: '场景明确，预案完备',
  override: { reason: '合成数据演示：个别组合人数较少，输出经披露控制' },
  terms: { termMonths: 12 },
};
export const decideApplicationResponse = {
  application: {
    ...reviewApplicationResponse,
    status: 'approved',
    decision: {
      by: 'wang.fang@bureau',
      at: '2026-12-07T22:53:17.087Z',
      reason: '场景明确，预案完备',
      terms: { termMonths: 12, minUnits: 10, maxRows: 10000, epsilon: null, epsilonPerQuery: null },
      override: {
        reason: '合成数据演示：个别组合人数较少，输出经披露控制',
        warnings: [
          'population：k = 1，低于政策要求的 k = 10；2000 条记录中有 100.0% 所在的等价类小于 10',
          'population：检察官风险 1.000，高于政策上限 0.2（最小等价类只有 1 条记录）',
        ],
        by: 'wang.fang@bureau',
      },
    },
    contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  },
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  contract: buildingContract,
};

/** A rejection answers 200: the application rejected, no contract. */
export const rejectApplicationResponse = {
  application: {
    ...reviewApplicationResponse,
    status: 'rejected',
    decision: {
      by: 'wang.fang@bureau',
      at: '2026-12-07T22:53:17.087Z',
      reason: '应急预案未明确数据泄露时的通知时限，请补充后重新申请',
      terms: null,
      override: null,
    },
  },
  contractId: null,
  contract: null,
};
