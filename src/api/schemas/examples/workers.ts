export const registerWorkerRequest = { name: '政务云计算节点 1', ttlDays: 30 };

export const registerWorkerResponse = {
  worker: {
    id: 'wrk_mxdv9vq9c2e79273ed566f66',
    name: '政务云计算节点 1',
    status: 'active',
    createdBy: 'wang.fang@bureau',
    createdAt: '2026-12-07T22:53:36.609Z',
    expiresAt: '2027-01-06T22:53:36.609Z',
    rotatedAt: null,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
  },
  credential: 'pdsw.wrk_mxdv9vq9c2e79273ed566f66.Cuq6tjR7WpO5ZSfJuAFcG_v__i3vHywQnCGuqcrbeug',
};

export const listWorkersResponse = [
  {
    id: 'wrk_mxdv9vq9c2e79273ed566f66',
    name: '政务云计算节点 1',
    status: 'active',
    createdBy: 'wang.fang@bureau',
    createdAt: '2026-12-07T22:53:36.609Z',
    expiresAt: '2027-01-06T22:53:36.609Z',
    rotatedAt: null,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
  },
];

export const rotateWorkerCredentialRequest = { ttlDays: 30 };

export const rotateWorkerCredentialResponse = {
  worker: {
    id: 'wrk_mxdv9vq9c2e79273ed566f66',
    name: '政务云计算节点 1',
    status: 'active',
    createdBy: 'wang.fang@bureau',
    createdAt: '2026-12-07T22:53:36.609Z',
    expiresAt: '2027-01-06T22:53:36.954Z',
    rotatedAt: '2026-12-07T22:53:36.954Z',
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
  },
  credential: 'pdsw.wrk_mxdv9vq9c2e79273ed566f66.1OvQp2zc3h1aTBEXU2CxpBuy2qmtoN4XDJ7v-O_evwU',
};

export const revokeWorkerRequest = { reason: '节点下线' };

export const revokeWorkerResponse = {
  id: 'wrk_mxdv9vq9c2e79273ed566f66',
  name: '政务云计算节点 1',
  status: 'revoked',
  createdBy: 'wang.fang@bureau',
  createdAt: '2026-12-07T22:53:36.609Z',
  expiresAt: '2027-01-06T22:53:36.954Z',
  rotatedAt: '2026-12-07T22:53:36.954Z',
  revokedAt: '2026-12-07T22:53:37.372Z',
  revokedBy: 'wang.fang@bureau',
  revokeReason: '节点下线',
};

// The run protocol, as a registered worker speaks it (the ticket came with the job on the queue)
export const claimRunRequest = {
  jobId: 'job_mxdv9ojs457337992c9052d1',
  ticket: 'q3N8vJ2kR0xY7bWm5tLc9ZpA1sHd4gFe6uKi8oTn2Vw',
  osSandbox: 'bubblewrap',
};

export const claimRunResponse = {
  jobId: 'job_mxdv9ojs457337992c9052d1',
  attempt: 1,
  sql: 'SELECT district, education, income FROM population WHERE (income > 300000) ORDER BY income DESC LIMIT 10',
  snapshot: {
    contractId: 'ctr_mxdv9odd107990bd9cddacea',
    file: 'ctr_mxdv9odd107990bd9cddacea.duckdb',
    sha256: '7b0e5c3d9f1a2468ace0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3',
  },
  limits: {
    threads: 1,
    memoryLimit: '1GB',
    tempDirectorySize: '1GB',
    timeoutMs: 60000,
    maxResultRows: 100000,
    maxResultBytes: 67108864,
  },
  lease: { expiresAt: '2026-12-07T22:53:57.304Z', renewEveryMs: 10000 },
};

export const renewLeaseRequest = { jobId: 'job_mxdv9ojs457337992c9052d1', attempt: 1 };
export const renewLeaseResponse = { expiresAt: '2026-12-07T22:54:07.311Z' };

export const submitOutcomeRequest = {
  jobId: 'job_mxdv9ojs457337992c9052d1',
  attempt: 1,
  outcome: {
    ok: true,
    columns: [
      { name: 'district', type: 'VARCHAR' },
      { name: 'education', type: 'VARCHAR' },
      { name: 'income', type: 'DOUBLE' },
    ],
    rows: [
      ['清镇市', '初中', 557956.4],
      ['清镇市', '本科', 555067.76],
    ],
    elapsedMs: 84.2,
  },
};
