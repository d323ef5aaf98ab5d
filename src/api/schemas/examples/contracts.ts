/** An active contract, as GET /v1/contracts/{id} answers it; the other contract examples vary it. */
export const getContractResponse = {
  id: 'ctr_mxdv9gnn43b1af771d5c8aca',
  applicationId: 'app_mxdv9g6s18a22c52aa1c9530',
  operatorOrg: 'org-shuzhi',
  status: 'active',
  statusReason: null,
  statusChangedAt: '2026-12-07T22:53:17.438Z',
  statusChangedBy: 'wang.fang@bureau',
  notBefore: '2026-12-07T22:53:17.438Z',
  expiresAt: '2027-12-07T22:53:17.438Z',
  createdAt: '2026-12-07T22:53:17.085Z',
  claims: {
    application: 'app_mxdv9g6s18a22c52aa1c9530',
    scenario: { name: '区县居民收入结构分析', purpose: '为普惠金融产品设计提供区县级收入分布参考', paid: false },
    mode: 'aggregate',
    datasets: [
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
    disclosure: { minUnits: 10, maxRows: 10000 },
    privacyBudget: null,
    emergencyPlan: {
      contact: '数智科技 安全负责人 0851-00000000',
      triggers: ['疑似重识别', '输出异常'],
      actions: ['立即暂停合约', '通知数据局'],
    },
    securityControls: ['仅在沙箱内分析', '输出经披露控制'],
    policyHash: '26911c8750ad20f6567af17a78744347eb8b64e12df5526ded43985098e881e2',
    catalogVersion: '2026.12.2',
    decisionOverride: {
      reason: '合成数据演示：个别组合人数较少，输出经披露控制',
      warnings: [
        'population：k = 1，低于政策要求的 k = 10；2000 条记录中有 100.0% 所在的等价类小于 10',
        'population：检察官风险 1.000，高于政策上限 0.2（最小等价类只有 1 条记录）',
      ],
      by: 'wang.fang@bureau',
    },
    snapshot: {
      hash: '055cbdb663d94b20d0e6ffff1453cafe46099a296198fafd87beb72e935533e6',
      tables: {
        population: {
          rows: 2000,
          units: 2000,
          columns: ['district', 'gender', 'birth_date', 'education', 'income', 'pds_unit'],
          nonNull: ['district', 'gender', 'birth_date', 'education', 'income', 'pds_unit'],
          datasetVersion: 1,
          risk: {
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
      },
      recordKeys: false,
      unitKeys: true,
    },
  },
  build: null,
};

export const listContractsResponse = [getContractResponse];

// the claims before the snapshot is built: all but the snapshot's
const { snapshot: _snapshot, ...unsignedClaims } = getContractResponse.claims;

/** The same contract just approved: its snapshot being built, nothing signed yet. */
export const buildingContract = {
  ...getContractResponse,
  status: 'building',
  statusChangedAt: '2026-12-07T22:53:17.107Z',
  statusChangedBy: null,
  notBefore: null,
  expiresAt: null,
  claims: unsignedClaims,
  build: { phase: 'counting', table: null, done: 0, attempts: 1, error: null },
};

export const suspendContractRequest = { reason: '疑似重识别事件调查' };
export const suspendContractResponse = {
  ...getContractResponse,
  status: 'suspended',
  statusReason: '疑似重识别事件调查',
  statusChangedAt: '2026-12-07T22:53:35.623Z',
};

export const resumeContractRequest = { reason: '调查结束，未发现重识别' };
export const resumeContractResponse = {
  ...getContractResponse,
  statusReason: '调查结束，未发现重识别',
  statusChangedAt: '2026-12-07T22:53:35.798Z',
};

export const revokeContractRequest = { reason: '运营单位申请终止' };
export const revokeContractResponse = {
  ...getContractResponse,
  status: 'revoked',
  statusReason: '运营单位申请终止',
  statusChangedAt: '2026-12-07T22:53:36.359Z',
};

export const rebuildContractRequest = { reason: '快照构建时磁盘已满，空间已清理，重新构建' };
/** A failed build started again: building, its second attempt waiting for the builder. */
export const rebuildContractResponse = {
  ...buildingContract,
  build: { phase: 'waiting', table: null, done: 0, attempts: 2, error: null },
};

export const getContractBudgetResponse = {
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  mode: 'aggregate',
  epsilon: null,
  spent: null,
  remaining: null,
  epsilonPerQuery: null,
  queriesLeft: null,
  charges: [],
};
/** A dp contract's ε account, before its first query is charged. */
export const getContractBudgetDpResponse = {
  contractId: 'ctr_mxdv9sy87dd64b803aaca375',
  mode: 'dp',
  epsilon: 10,
  spent: 0,
  remaining: 10,
  epsilonPerQuery: 1,
  queriesLeft: 10,
  charges: [],
};

export const getContractJwsResponse =
  'eyJhbGciOiJFZERTQSIsInR5cCI6InBkcy1jb250cmFjdCtqd3QiLCJraWQiOiI5X3NhamZmaDZlZUtGSGM5Z3ZSTFBnN2c4cHB5YV9QSXhzQVhsVmhYU21nIn0.eyJhcHBsaWNhdGlvbiI6ImFwcF9teGR2OWc2czE4YTIyYzUyYWExYzk1MzAiLCJzY2VuYXJpbyI6eyJuYW1lIjoi5Yy65Y6_5bGF5rCR5pS25YWl57uT5p6E5YiG5p6QIiwicHVycG9zZSI6IuS4uuaZruaDoOmHkeiejeS6p-WTgeiuvuiuoeaPkOS-m-WMuuWOv-e6p-aUtuWFpeWIhuW4g-WPguiAgyIsInBhaWQiOmZhbHNlfSwibW9kZSI6ImFnZ3JlZ2F0ZSIsImRhdGFzZXRzIjpbeyJkYXRhc2V0IjoicG9wdWxhdGlvbiIsInByb3ZpZGVyIjoib3JnLXBzYiIsInByb3ZpZGVyTmFtZSI6IuW4guWFrOWuieWxgCIsInByaXZhY3lVbml0IjoiaWRfbnVtYmVyIiwiY29sdW1ucyI6W3siY29sdW1uIjoiZGlzdHJpY3QiLCJydWxlIjoia2VlcCJ9LHsiY29sdW1uIjoiZ2VuZGVyIiwicnVsZSI6ImtlZXAifSx7ImNvbHVtbiI6ImJpcnRoX2RhdGUiLCJydWxlIjoiZ2VuZXJhbGl6ZTp5ZWFyIn0seyJjb2x1bW4iOiJlZHVjYXRpb24iLCJydWxlIjoia2VlcCJ9LHsiY29sdW1uIjoiaW5jb21lIiwicnVsZSI6Im5vaXNlOjAuMTUifV19XSwiZGlzY2xvc3VyZSI6eyJtaW5Vbml0cyI6MTAsIm1heFJvd3MiOjEwMDAwfSwicHJpdmFjeUJ1ZGdldCI6bnVsbCwiZW1lcmdlbmN5UGxhbiI6eyJjb250YWN0Ijoi5pWw5pm656eR5oqAIOWuieWFqOi0n-i0o-S6uiAwODUxLTAwMDAwMDAwIiwidHJpZ2dlcnMiOlsi55aR5Ly86YeN6K-G5YirIiwi6L6T5Ye65byC5bi4Il0sImFjdGlvbnMiOlsi56uL5Y2z5pqC5YGc5ZCI57qmIiwi6YCa55-l5pWw5o2u5bGAIl19LCJzZWN1cml0eUNvbnRyb2xzIjpbIuS7heWcqOaymeeuseWGheWIhuaekCIsIui-k-WHuue7j-aKq-mcsuaOp-WItiJdLCJwb2xpY3lIYXNoIjoiMjY5MTFjODc1MGFkMjBmNjU2N2FmMTdhNzg3NDQzNDdlYjhiNjRlMTJkZjU1MjZkZWQ0Mzk4NTA5OGU4ODFlMiIsImNhdGFsb2dWZXJzaW9uIjoiMjAyNi4xMi4yIiwiZGVjaXNpb25PdmVycmlkZSI6eyJyZWFzb24iOiLlkIjmiJDmlbDmja7mvJTnpLrvvJrkuKrliKvnu4TlkIjkurrmlbDovoPlsJHvvIzovpPlh7rnu4_miqvpnLLmjqfliLYiLCJ3YXJuaW5ncyI6WyJwb3B1bGF0aW9uOiBrID0gMSBpcyBiZWxvdyB0aGUgcG9saWN5J3MgayA9IDEwOyAxMDAuMCAlIG9mIDIwMDAgcmVjb3JkcyBhcmUgaW4gY2xhc3NlcyBzbWFsbGVyIHRoYW4gMTAiLCJwb3B1bGF0aW9uOiBwcm9zZWN1dG9yIHJpc2sgMS4wMDAgaXMgYWJvdmUgdGhlIHBvbGljeSdzIDAuMiAodGhlIHNtYWxsZXN0IGNsYXNzIGhhcyAxIHJlY29yZChzKSkiXSwiYnkiOiJ3YW5nLmZhbmdAYnVyZWF1In0sInNuYXBzaG90Ijp7Imhhc2giOiIwNTVjYmRiNjYzZDk0YjIwZDBlNmZmZmYxNDUzY2FmZTQ2MDk5YTI5NjE5OGZhZmQ4N2JlYjcyZTkzNTUzM2U2IiwidGFibGVzIjp7InBvcHVsYXRpb24iOnsicm93cyI6MjAwMCwidW5pdHMiOjIwMDAsImNvbHVtbnMiOlsiZGlzdHJpY3QiLCJnZW5kZXIiLCJiaXJ0aF9kYXRlIiwiZWR1Y2F0aW9uIiwiaW5jb21lIiwicGRzX3VuaXQiXSwibm9uTnVsbCI6WyJkaXN0cmljdCIsImdlbmRlciIsImJpcnRoX2RhdGUiLCJlZHVjYXRpb24iLCJpbmNvbWUiLCJwZHNfdW5pdCJdLCJkYXRhc2V0VmVyc2lvbiI6MSwicmlzayI6eyJxdWFzaUlkZW50aWZpZXJzIjpbImRpc3RyaWN0IiwiZ2VuZGVyIiwiYmlydGhfZGF0ZSIsImVkdWNhdGlvbiJdLCJzZW5zaXRpdmUiOlsiaW5jb21lIl0sInJlY29yZHMiOjIwMDAsImNsYXNzZXMiOjE2NzMsImsiOjEsInBvbGljeUsiOjEwLCJyZWNvcmRzQmVsb3dLIjoyMDAwLCJzaGFyZUJlbG93SyI6MSwicHJvc2VjdXRvclJpc2siOjEsImF2ZXJhZ2VSaXNrIjowLjgzNjUsImNsYXNzU2l6ZXMiOlt7InNpemUiOiIxIiwiY2xhc3NlcyI6MTQwNiwicmVjb3JkcyI6MTQwNn0seyJzaXplIjoiMiIsImNsYXNzZXMiOjIxMiwicmVjb3JkcyI6NDI0fSx7InNpemUiOiIzLTQiLCJjbGFzc2VzIjo1NSwicmVjb3JkcyI6MTcwfV0sImxEaXZlcnNpdHkiOnsiaW5jb21lIjoxfX19fSwicmVjb3JkS2V5cyI6ZmFsc2UsInVuaXRLZXlzIjp0cnVlfSwiaXNzIjoidXJuOnBkczpidXJlYXUiLCJpYXQiOjE3OTY2ODM5OTcsInN1YiI6Im9yZy1zaHV6aGkiLCJhdWQiOiJ1cm46cGRzOnNhbmRib3giLCJqdGkiOiJjdHJfbXhkdjlnbm40M2IxYWY3NzFkNWM4YWNhIiwibmJmIjoxNzk2NjgzOTk3LCJleHAiOjE4MjgyMTk5OTd9.NoRuUhbj-fx3-pShzFYl9QKtNVx2IS9fx9RDerxnKPnMIvT9gHG4j7fhWesHsoc4f6D_fHvrCz_9-hQ-7Hr5Dw';

export const getDummyDataResponse = {
  population: {
    columns: [
      { name: 'district', type: 'VARCHAR' },
      { name: 'gender', type: 'VARCHAR' },
      { name: 'birth_date', type: 'VARCHAR' },
      { name: 'education', type: 'VARCHAR' },
      { name: 'income', type: 'DOUBLE' },
      { name: 'pds_unit', type: 'VARCHAR' },
    ],
    rows: [
      ['清镇市', '男', '1987', '小学', 57734.96, '5516c8a27e9307fb5e628b745c0892e9'],
      ['开阳县', '男', '1999', '本科', 198914.87, 'efc4e28fc0ce18b22f8ba4a417780b01'],
      ['云岩区', '男', '2015', '小学', 86249.48, '7798d9e3c8e5d0ef390d69b1b87698e7'],
    ],
  },
};

export const recordAssessmentRequest = {
  year: 2026,
  passed: true,
  indicators: [
    { name: '按期提交风险报告', value: 4, target: 4, met: true },
    { name: '数据安全事件', value: 0, target: 0, met: true },
  ],
  assessor: '市数据局 评估组',
  notes: '年度评估通过',
};
export const recordAssessmentResponse = {
  assessment: {
    year: 2026,
    passed: true,
    indicators: [
      { name: '按期提交风险报告', value: 4, met: true, target: 4 },
      { name: '数据安全事件', value: 0, met: true, target: 0 },
    ],
    assessor: '市数据局 评估组',
    contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
    recordedBy: 'wang.fang@bureau',
    recordedAt: '2026-12-07T22:53:19.250Z',
    notes: '年度评估通过',
  },
  revoked: false,
  contract: getContractResponse,
};

export const listAssessmentsResponse = [recordAssessmentResponse.assessment];
