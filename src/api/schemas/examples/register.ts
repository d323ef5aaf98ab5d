/** Examples of the public register's routes (GET /v1/register, POST /v1/register/violations). */

const entry = {
  seq: 1,
  prev: '0000000000000000000000000000000000000000000000000000000000000000',
  kind: 'suspension',
  recordedAt: '2026-12-07T22:53:35.623Z',
  publishedAt: '2026-12-07T22:53:35.623Z',
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  operatorOrg: 'org-shuzhi',
  scenarioTitle: '区县收入结构',
  datasets: ['population'],
  action: 'suspend',
  effectiveAt: '2026-12-07T22:53:35.623Z',
  reasonCategory: 'under-investigation',
  statement: '该合约涉嫌超出授权范围使用数据，已暂停授权，调查核实中。',
  hash: '6f1c0a1f1d4b2f6a3c9e0b7d8e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f',
  jws: 'eyJhbGciOiJFZERTQSIsInR5cCI6InBkcy1yZWdpc3Rlci1lbnRyeStqd3QiLCJraWQiOiJidXJlYXUtMSJ9.eyJzZXEiOjF9.c2lnbmF0dXJl',
};

const head = {
  seq: 1,
  hash: entry.hash,
  signedAt: '2026-12-07T23:00:00.000Z',
  jws: 'eyJhbGciOiJFZERTQSIsInR5cCI6InBkcy1yZWdpc3Rlci1oZWFkK2p3dCIsImtpZCI6ImJ1cmVhdS0xIn0.eyJzZXEiOjF9.c2lnbmF0dXJl',
};

export const getRegisterResponse = { format: 'pds-register/1', head, entries: [entry], next: null };
export const getRegisterHeadResponse = head;

export const recordViolationRequest = {
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  kind: 'violation',
  reasonCategory: 'unauthorised-use',
  statement: '该运营单位将输出结果用于授权场景之外，已责令整改。',
  reason: 'output shared with a third party, see case 2026-114',
};

export const recordViolationResponse = {
  entry: {
    ...entry,
    seq: 2,
    prev: entry.hash,
    kind: 'violation',
    action: 'record-violation',
    reasonCategory: 'unauthorised-use',
    statement: recordViolationRequest.statement,
    hash: '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9',
  },
};
