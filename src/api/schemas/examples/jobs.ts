export const validateJobRequest = {
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  sql: 'SELECT district, education, count(*) AS residents, avg(income) AS avg_income FROM population GROUP BY district, education',
};

export const validateJobResponse = {
  valid: true,
  mode: 'aggregate',
  reasons: [],
  tables: ['population'],
  columns: [
    { name: 'district', type: 'VARCHAR' },
    { name: 'education', type: 'VARCHAR' },
  ],
};

export const previewJobRequest = validateJobRequest;

export const previewJobResponse = {
  validation: validateJobResponse,
  budget: {
    contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
    mode: 'aggregate',
    epsilon: null,
    spent: null,
    remaining: null,
    epsilonPerQuery: null,
    queriesLeft: null,
    charges: [],
  },
  dp: null,
};

export const previewJobDpRequest = {
  contractId: 'ctr_mxdv9sy87dd64b803aaca375',
  sql: 'SELECT hospital, count(*) AS visits, sum(cost) AS total_cost FROM medical_visit GROUP BY hospital',
  dp: { bounds: { cost: [0, 5000] } },
};

export const previewJobDpResponse = {
  validation: {
    valid: true,
    mode: 'dp',
    reasons: [],
    tables: ['medical_visit'],
    columns: [
      { name: 'hospital', type: 'VARCHAR' },
      { name: '__dp_n', type: 'BIGINT' },
    ],
  },
  budget: {
    contractId: 'ctr_mxdv9sy87dd64b803aaca375',
    mode: 'dp',
    epsilon: 10,
    spent: 0,
    remaining: 10,
    epsilonPerQuery: 1,
    queriesLeft: 10,
    charges: [],
  },
  dp: {
    epsilon: 1,
    delta: 0,
    threshold: 0,
    remainingAfter: 9,
    affordable: true,
    measures: [
      { name: 'visits', kind: 'count', column: null, noiseScale: 10, variance: 199.8334166336092, error95: 30 },
      {
        name: 'total_cost',
        kind: 'sum',
        column: 'cost',
        noiseScale: 50000,
        variance: 4999999999.832136,
        error95: 149787,
      },
    ],
  },
};

export const runOnDummyDataRequest = {
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  sql: 'SELECT district, education, count(*) AS residents, avg(income) AS avg_income FROM population GROUP BY district, education ORDER BY residents DESC LIMIT 3',
};

export const runOnDummyDataResponse = {
  validation: validateJobResponse,
  dummy: {
    ok: true,
    columns: [
      { name: 'district', type: 'VARCHAR' },
      { name: 'education', type: 'VARCHAR' },
    ],
    rows: [
      ['南明区', '初中'],
      ['云岩区', '初中'],
    ],
    dummyRows: 500,
  },
};

export const submitJobRequest = {
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  sql: 'SELECT district, education, count(*) AS residents, avg(income) AS avg_income FROM population GROUP BY district, education',
  name: '各区县按文化程度的居民人数与平均收入',
};

export const submitJobResponse = {
  id: 'job_mxdv9mfp08d2fc999b05bca7',
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  name: '各区县按文化程度的居民人数与平均收入',
  status: 'queued',
  reasons: [],
  outputId: null,
  attempts: 0,
  submittedBy: 'zhang.wei@shuzhi',
  createdAt: '2026-12-07T22:53:24.581Z',
  startedAt: null,
  finishedAt: null,
  revisionOf: null,
};

export const submitJobDpRequest = {
  contractId: 'ctr_mxdv9sy87dd64b803aaca375',
  sql: 'SELECT hospital, count(*) AS visits, sum(cost) AS total_cost FROM medical_visit GROUP BY hospital',
  name: '各医疗机构就诊人次与费用（差分隐私）',
  dp: { bounds: { cost: [0, 5000] } },
};

export const submitJobDpResponse = {
  id: 'job_mxdv9tfa1d5ed2c6158745a5',
  contractId: 'ctr_mxdv9sy87dd64b803aaca375',
  name: '各医疗机构就诊人次与费用（差分隐私）',
  status: 'queued',
  reasons: [],
  outputId: null,
  attempts: 0,
  submittedBy: 'zhang.wei@shuzhi',
  createdAt: '2026-12-07T22:53:33.623Z',
  startedAt: null,
  finishedAt: null,
  revisionOf: null,
};

export const getJobResponse = {
  id: 'job_mxdv9mfp08d2fc999b05bca7',
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  name: '各区县按文化程度的居民人数与平均收入',
  status: 'released',
  reasons: [],
  outputId: 'out_mxdv9mfp08d2fc999b05bca7',
  attempts: 1,
  submittedBy: 'zhang.wei@shuzhi',
  createdAt: '2026-12-07T22:53:24.581Z',
  startedAt: '2026-12-07T22:53:24.724Z',
  finishedAt: '2026-12-07T22:53:26.161Z',
  revisionOf: null,
};

export const listJobsResponse = {
  jobs: [getJobResponse],
  next: 'job_mxdv9mfp08d2fc999b05bca7',
};

export const cancelJobResponse = {
  id: 'job_mxdv9o5pd4997f078d6154d8',
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  name: null,
  status: 'cancelled',
  reasons: [],
  outputId: null,
  attempts: 0,
  submittedBy: 'zhang.wei@shuzhi',
  createdAt: '2026-12-07T22:53:26.798Z',
  startedAt: null,
  finishedAt: '2026-12-07T22:53:26.824Z',
  revisionOf: null,
};

export const commentOnJobRequest = { body: '已改为按区县汇总，见修订后的作业' };

export const commentOnJobResponse = {
  seq: 3,
  author: 'zhang.wei@shuzhi',
  org: 'org-shuzhi',
  role: 'operator',
  body: '已改为按区县汇总，见修订后的作业',
  createdAt: '2026-12-07T22:53:32.408Z',
};

export const getJobThreadResponse = [
  {
    seq: 1,
    author: 'wang.fang@bureau',
    org: 'org-bureau',
    role: 'bureau',
    body: 'changes requested: 收入明细到个人：请改为按区县汇总',
    createdAt: '2026-12-07T22:53:32.256Z',
  },
  {
    seq: 2,
    author: 'chen.jie@bureau',
    org: 'org-bureau',
    role: 'bureau',
    body: 'changes requested: 同意前一位意见：请按区县汇总',
    createdAt: '2026-12-07T22:53:32.256Z',
  },
];
