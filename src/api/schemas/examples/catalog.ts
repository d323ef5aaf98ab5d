export const getCatalogResponse = {
  version: '2026.12.2',
  policyHash: '26911c8750ad20f6567af17a78744347eb8b64e12df5526ded43985098e881e2',
  datasets: [
    {
      name: 'population',
      title: '居民基础信息',
      description: 'Registered residents of the city, one row per person.',
      provider: 'org-psb',
      providerName: '市公安局',
      updateCycle: 'daily',
      attributes: { sharing: 'conditional', open: 'none', operation: 'conditional' },
      privacyUnit: 'id_number',
      sensitiveFacts: false,
      version: {
        version: 1,
        rows: 2000,
        contentHash: 'b1bbc8be662e57f792595c0c79642d87637913bb2f2cb55bd96504267e99fad1',
        loadedAt: '2026-12-07T22:53:10.900Z',
        source: 'synthetic: pds seed --rows 2000 --seed 7',
      },
      columns: [
        {
          name: 'gender',
          type: 'VARCHAR',
          title: '性别',
          classification: 'general-L2',
          role: 'quasi',
          format: null,
          negativeList: false,
          dpOnly: false,
          masking: { default: 'keep', allowed: ['keep', 'drop'] },
        },
        {
          name: 'income',
          type: 'DOUBLE',
          title: '年收入（元）',
          classification: 'general-L3',
          role: 'sensitive',
          format: null,
          negativeList: false,
          dpOnly: false,
          masking: { default: 'noise:0.15', allowed: ['noise', 'generalize:range'] },
        },
      ],
    },
  ],
};

export const withdrawDatasetRequest = { reason: '源系统数据质量问题，暂停供数' };

export const withdrawDatasetResponse = {
  dataset: 'population',
  reason: '源系统数据质量问题，暂停供数',
  withdrawnBy: 'li.na@psb',
  withdrawnAt: '2026-12-07T22:53:35.885Z',
  suspended: ['ctr_mxdv9gnn43b1af771d5c8aca', 'ctr_mxdv9odd107990bd9cddacea'],
  reinstatedAt: null,
  reinstatedBy: null,
  reinstateReason: null,
};

export const reinstateDatasetRequest = { reason: '数据质量问题已修复' };

export const reinstateDatasetResponse = {
  dataset: 'population',
  reason: '源系统数据质量问题，暂停供数',
  withdrawnBy: 'li.na@psb',
  withdrawnAt: '2026-12-07T22:53:35.885Z',
  suspended: ['ctr_mxdv9gnn43b1af771d5c8aca', 'ctr_mxdv9odd107990bd9cddacea'],
  reinstatedAt: '2026-12-07T22:53:36.107Z',
  reinstatedBy: 'li.na@psb',
  reinstateReason: '数据质量问题已修复',
  stillSuspended: ['ctr_mxdv9gnn43b1af771d5c8aca', 'ctr_mxdv9odd107990bd9cddacea'],
};

export const listDatasetWithdrawalsResponse = [
  {
    dataset: 'population',
    reason: '源系统数据质量问题，暂停供数',
    withdrawnBy: 'li.na@psb',
    withdrawnAt: '2026-12-07T22:53:35.885Z',
    suspended: ['ctr_mxdv9gnn43b1af771d5c8aca', 'ctr_mxdv9odd107990bd9cddacea'],
    reinstatedAt: '2026-12-07T22:53:36.107Z',
    reinstatedBy: 'li.na@psb',
    reinstateReason: '数据质量问题已修复',
  },
];

export const fileFeedbackRequest = {
  kind: 'data-quality',
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  subject: '文化程度字段存在空值',
  body: '2026年12月快照中约0.5%的记录文化程度为空，请核实',
};

export const fileFeedbackResponse = {
  id: 'fbk_mxdv9us0f407677dfd85316b',
  dataset: 'population',
  provider: 'org-psb',
  operatorOrg: 'org-shuzhi',
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  kind: 'data-quality',
  subject: '文化程度字段存在空值',
  body: '2026年12月快照中约0.5%的记录文化程度为空，请核实',
  createdBy: 'zhang.wei@shuzhi',
  createdAt: '2026-12-07T22:53:35.376Z',
  dueAt: '2026-12-15T16:00:00.000Z',
  overdue: false,
  answer: null,
};

export const listFeedbackResponse = [fileFeedbackResponse];

export const answerFeedbackRequest = { body: '已核实：空值为未登记文化程度的学龄前儿童，下一版本标注为“学龄前”' };

export const answerFeedbackResponse = {
  ...fileFeedbackResponse,
  answer: {
    body: answerFeedbackRequest.body,
    by: 'li.na@psb',
    at: '2026-12-07T22:53:35.548Z',
  },
};
