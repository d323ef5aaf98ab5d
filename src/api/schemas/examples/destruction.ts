export const getDestructionRecordResponse = {
  id: 'dst_mig2k3x4a1b2c3d4e5f6a7b8',
  kind: 'snapshot',
  subjectId: 'ctr_mif9q2k81c2d3e4f5a6b7c8d',
  contractId: 'ctr_mif9q2k81c2d3e4f5a6b7c8d',
  why: 'revoked',
  by: { sub: 'chen@bureau', role: 'bureau', org: 'org-bureau' },
  status: 'done',
  requestedAt: '2026-12-07T08:15:02.114Z',
  destroyedAt: '2026-12-07T08:15:02.187Z',
  files: [
    {
      path: 'snapshots/ctr_mif9q2k81c2d3e4f5a6b7c8d.duckdb',
      sha256: '9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8',
      bytes: 1323008,
      removal: 'unlinked',
    },
  ],
  method: 'unlinked',
  jws: 'eyJhbGciOiJFZERTQSIsInR5cCI6InBkcy1kZXN0cnVjdGlvbitqd3QiLCJraWQiOiJiLTFhMmIzYyJ9.eyJraW5kIjoic25hcHNob3QifQ.c2lnbmF0dXJl',
  jwsSha256: '3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a',
};

export const listDestructionRecordsResponse = { records: [getDestructionRecordResponse] };
