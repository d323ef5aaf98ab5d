export const getOutputResponse = {
  id: 'out_mxdv9mfp08d2fc999b05bca7',
  jobId: 'job_mxdv9mfp08d2fc999b05bca7',
  contractId: 'ctr_mxdv9gnn43b1af771d5c8aca',
  status: 'released',
  columns: [
    { name: 'district', type: 'VARCHAR' },
    { name: 'education', type: 'VARCHAR' },
  ],
  rowCount: 51,
  cellsSuppressed: 72,
  checks: [
    {
      check: 'perturbation',
      params: {
        countMaxNoise: 3,
        countVariance: 1,
        magnitudeFraction: 0,
        magnitudeFloor: 2,
        topN: 2,
        quantileIqrFraction: 0.1,
        cellKey: "sum of the contributing units' keyed hashes mod 2^32",
      },
      passed: true,
      effect:
        "51 count cell(s) carry p-table noise (unbiased, |noise| ≤ 3, variance 1); 51 sum/mean/variance cell(s) carry uniform noise within ±max(0 × the 2 largest contributions, 2) (variance: bound²/3; a mean's is its sum's over the count squared; a variance or standard deviation is computed from the perturbed count, sum and sum of squares); 0 quantile cell(s) carry uniform noise within ±0.1 × the cell's interquartile range; the same people always get the same noise",
    },
    {
      check: 'min-units',
      params: { k: 10 },
      passed: true,
      effect:
        "18 row(s) not shown: describing fewer than 10 distinct units, protecting such a row's total, or as an earlier cell of the same people was",
      rowsSuppressed: 18,
      cellsSuppressed: 72,
    },
  ],
  sha256: '3964de1d2b68ed743ca4548107475dc767bef9d42f211c706192fef365696894',
  heldBecause: [],
  reviews: [],
  votes: { recorded: 0, needed: 2 },
  releasedAt: '2026-12-07T22:53:26.161Z',
  releasedBy: 'auto',
  createdAt: '2026-12-07T22:53:26.161Z',
};

export const listOutputsResponse = [getOutputResponse];

/** A held output before any vote (custom mode: every output waits for two reviewers). */
const heldOutput = {
  id: 'out_mxdv9ojs457337992c9052d1',
  jobId: 'job_mxdv9ojs457337992c9052d1',
  contractId: 'ctr_mxdv9odd107990bd9cddacea',
  status: 'held',
  columns: [
    { name: 'district', type: 'VARCHAR' },
    { name: 'education', type: 'VARCHAR' },
  ],
  rowCount: 10,
  cellsSuppressed: 0,
  checks: [
    {
      check: 'identifier-scan',
      params: { kinds: 'id-number,uscc,mobile,bank-card,email' },
      passed: true,
      effect: 'no identifier in any of 10 row(s)',
      onFail: 'refuse',
    },
    {
      check: 'review',
      params: {},
      passed: true,
      effect: 'custom-mode outputs are held until bureau reviewers release them',
    },
  ],
  sha256: '74fb761ac2bb18474e81561b216009cbeb47c6fb16a219039b57a66cf72599ff',
  heldBecause: ['custom-mode outputs are held until bureau reviewers release them'],
  reviews: [],
  votes: { recorded: 0, needed: 2 },
  releasedAt: null,
  releasedBy: null,
  createdAt: '2026-12-07T22:53:27.459Z',
};

export const getReviewPacketResponse = {
  output: heldOutput,
  job: {
    id: 'job_mxdv9ojs457337992c9052d1',
    name: null,
    sql: 'SELECT district, education, income FROM population WHERE income > 300000 ORDER BY income DESC LIMIT 10',
    submittedBy: 'zhang.wei@shuzhi',
    createdAt: '2026-12-07T22:53:27.304Z',
    dp: null,
    revisionOf: null,
  },
  analysis: {
    mode: 'custom',
    tables: ['population'],
    readsColumns: [],
    ranSql: 'SELECT district, education, income FROM population WHERE (income > 300000) ORDER BY income DESC LIMIT 10',
    resultColumns: [
      { name: 'district', type: 'VARCHAR' },
      { name: 'education', type: 'VARCHAR' },
    ],
  },
  preview: {
    columns: [
      { name: 'district', type: 'VARCHAR' },
      { name: 'education', type: 'VARCHAR' },
    ],
    rows: [
      ['清镇市', '初中'],
      ['清镇市', '本科'],
    ],
    totalRows: 10,
  },
  dummy: {
    ok: true,
    columns: [
      { name: 'district', type: 'VARCHAR' },
      { name: 'education', type: 'VARCHAR' },
    ],
    rows: [['云岩区', '本科']],
    dummyRows: 500,
  },
  thread: [],
};

export const reviewOutputRequest = { decision: 'request-changes', reason: '收入明细到个人：请改为按区县汇总' };

export const reviewOutputResponse = {
  ...heldOutput,
  reviews: [
    {
      reviewer: 'wang.fang@bureau',
      decision: 'request-changes',
      reason: reviewOutputRequest.reason,
      reviewedAt: '2026-12-07T22:53:31.978Z',
    },
  ],
  votes: { recorded: 1, needed: 2 },
};

/** The default format, CSV (?format=json answers the same rows as an array of objects). */
export const downloadOutputResponse =
  'district,education,residents,avg_income\n云岩区,小学,95,48579.26604042792\n云岩区,初中,105,49196.93783595106\n云岩区,大专,35,42444.759615573224\n';

export const getOutputManifestResponse =
  'eyJhbGciOiJFZERTQSIsInR5cCI6InBkcy1tYW5pZmVzdCtqd3QiLCJraWQiOiI5X3NhamZmaDZlZUtGSGM5Z3ZSTFBnN2c4cHB5YV9QSXhzQVhsVmhYU21nIn0.eyJvdXRwdXQiOnsiaWQiOiJvdXRfbXhkdjltZnAwOGQyZmM5OTliMDViY2E3Iiwic2hhMjU2IjoiMzk2NGRlMWQyYjY4ZWQ3NDNjYTQ1NDgxMDc0NzVkYzc2N2JlZjlkNDJmMjExYzcwNjE5MmZlZjM2NTY5Njg5NCIsImZvcm1hdCI6InRleHQvY3N2Iiwicm93cyI6NTEsImNvbHVtbnMiOlsiZGlzdHJpY3QiLCJlZHVjYXRpb24iLCJyZXNpZGVudHMiLCJhdmdfaW5jb21lIl0sImZvcm1hdHMiOnsiY3N2IjoiMzk2NGRlMWQyYjY4ZWQ3NDNjYTQ1NDgxMDc0NzVkYzc2N2JlZjlkNDJmMjExYzcwNjE5MmZlZjM2NTY5Njg5NCIsImpzb24iOiJjNTE2ZTUxZTI0MzJkOGVhMzNhNzc5NmJlZDE3MWRjZTkwMTlkY2Q1ZGE5ZjY3MzcyODE2MjIzMmM4OWQ1MjE0IiwicGFycXVldCI6ImFmZWI5OWJjMGVmMjk2ZDkxYWRlYWIxM2EzYjNmNjZlMWVjYTBlZGMzYzMyMGVmOTllZWFjMmYxNzU4ZjMxMGIifX0sImNvbnRyYWN0SWQiOiJjdHJfbXhkdjlnbm40M2IxYWY3NzFkNWM4YWNhIiwiam9iSWQiOiJqb2JfbXhkdjltZnAwOGQyZmM5OTliMDViY2E3Iiwic3FsU2hhMjU2IjoiZWYzNjUzNTZjN2NhZTg3ZmQ5MWRkMTc1OTFiOTJkNzU3ODE4ODI0ZDdlZmQzZmE3NjRhOTEzNDk1MTE3ZWE0OCIsInNuYXBzaG90SGFzaCI6IjA1NWNiZGI2NjNkOTRiMjBkMGU2ZmZmZjE0NTNjYWZlNDYwOTlhMjk2MTk4ZmFmZDg3YmViNzJlOTM1NTMzZTYiLCJwb2xpY3lIYXNoIjoiMjY5MTFjODc1MGFkMjBmNjU2N2FmMTdhNzg3NDQzNDdlYjhiNjRlMTJkZjU1MjZkZWQ0Mzk4NTA5OGU4ODFlMiIsImNoZWNrcyI6W3siY2hlY2siOiJwZXJ0dXJiYXRpb24iLCJwYXJhbXMiOnsiY291bnRNYXhOb2lzZSI6MywiY291bnRWYXJpYW5jZSI6MSwibWFnbml0dWRlRnJhY3Rpb24iOjAsIm1hZ25pdHVkZUZsb29yIjoyLCJ0b3BOIjoyLCJxdWFudGlsZUlxckZyYWN0aW9uIjowLjEsImNlbGxLZXkiOiJzdW0gb2YgdGhlIGNvbnRyaWJ1dGluZyB1bml0cycga2V5ZWQgaGFzaGVzIG1vZCAyXjMyIn0sInBhc3NlZCI6dHJ1ZSwiZWZmZWN0IjoiNTEgY291bnQgY2VsbChzKSBjYXJyeSBwLXRhYmxlIG5vaXNlICh1bmJpYXNlZCwgfG5vaXNlfCDiiaQgMywgdmFyaWFuY2UgMSk7IDUxIHN1bS9tZWFuL3ZhcmlhbmNlIGNlbGwocykgY2FycnkgdW5pZm9ybSBub2lzZSB3aXRoaW4gwrFtYXgoMCDDlyB0aGUgMiBsYXJnZXN0IGNvbnRyaWJ1dGlvbnMsIDIpICh2YXJpYW5jZTogYm91bmTCsi8zOyBhIG1lYW4ncyBpcyBpdHMgc3VtJ3Mgb3ZlciB0aGUgY291bnQgc3F1YXJlZDsgYSB2YXJpYW5jZSBvciBzdGFuZGFyZCBkZXZpYXRpb24gaXMgY29tcHV0ZWQgZnJvbSB0aGUgcGVydHVyYmVkIGNvdW50LCBzdW0gYW5kIHN1bSBvZiBzcXVhcmVzKTsgMCBxdWFudGlsZSBjZWxsKHMpIGNhcnJ5IHVuaWZvcm0gbm9pc2Ugd2l0aGluIMKxMC4xIMOXIHRoZSBjZWxsJ3MgaW50ZXJxdWFydGlsZSByYW5nZTsgdGhlIHNhbWUgcGVvcGxlIGFsd2F5cyBnZXQgdGhlIHNhbWUgbm9pc2UifSx7ImNoZWNrIjoibWluLXVuaXRzIiwicGFyYW1zIjp7ImsiOjEwfSwicGFzc2VkIjp0cnVlLCJyb3dzU3VwcHJlc3NlZCI6MTgsImNlbGxzU3VwcHJlc3NlZCI6NzIsImVmZmVjdCI6IjE4IHJvdyhzKSBub3Qgc2hvd246IGRlc2NyaWJpbmcgZmV3ZXIgdGhhbiAxMCBkaXN0aW5jdCB1bml0cywgcHJvdGVjdGluZyBzdWNoIGEgcm93J3MgdG90YWwsIG9yIGFzIGFuIGVhcmxpZXIgY2VsbCBvZiB0aGUgc2FtZSBwZW9wbGUgd2FzIn0seyJjaGVjayI6InNlY29uZGFyeS1zdXBwcmVzc2lvbiIsInBhcmFtcyI6eyJtYXJnaW5zIjowfSwicGFzc2VkIjp0cnVlLCJyb3dzU3VwcHJlc3NlZCI6MCwiZWZmZWN0Ijoibm8gbWFyZ2lucyAodG90YWxzKSBpbiB0aGlzIG91dHB1dCAoY291bnRlZCB3aXRoIG1pbi11bml0cykiLCJjZWxsc1N1cHByZXNzZWQiOjB9LHsiY2hlY2siOiJkb21pbmFuY2UiLCJwYXJhbXMiOnsibiI6MiwiayI6ODUsImJhc2lzIjoidW5pdHMifSwicGFzc2VkIjp0cnVlLCJjZWxsc1N1cHByZXNzZWQiOjAsImVmZmVjdCI6ImluIG5vIHN1bSBvciBtZWFuIHNob3duIGRvIHRoZSB0b3AgMiBjb250cmlidXRvcnMgZXhjZWVkIDg1JSJ9LHsiY2hlY2siOiJyb3VuZC1jb3VudHMiLCJwYXJhbXMiOnsiYmFzZSI6NSwiY29sdW1ucyI6InJlc2lkZW50cyJ9LCJwYXNzZWQiOnRydWUsImVmZmVjdCI6ImV2ZXJ5IGNvdW50IGluIHJlc2lkZW50cyBpcyByb3VuZGVkIHRvIGEgbXVsdGlwbGUgb2YgNSJ9LHsiY2hlY2siOiJpZGVudGlmaWVyLXNjYW4iLCJwYXJhbXMiOnsia2luZHMiOiJpZC1udW1iZXIsdXNjYyxtb2JpbGUsYmFuay1jYXJkLGVtYWlsIn0sInBhc3NlZCI6dHJ1ZSwib25GYWlsIjoicmVmdXNlIiwiZWZmZWN0Ijoibm8gaWRlbnRpZmllciBpbiBhbnkgb2YgNTEgcm93KHMpIn0seyJjaGVjayI6Im1heC1yb3dzIiwicGFyYW1zIjp7Im1heFJvd3MiOjEwMDAwfSwicGFzc2VkIjp0cnVlLCJvbkZhaWwiOiJob2xkIiwiZWZmZWN0IjoiNTEgcm93KHMpLCB3aXRoaW4gdGhlIGNhcCJ9LHsiY2hlY2siOiJlYXJsaWVyLWFuc3dlcnMiLCJwYXJhbXMiOnsiY29tcGFyZWQiOjB9LCJwYXNzZWQiOnRydWUsImVmZmVjdCI6ImEgY2VsbCB3aG9zZSBwZW9wbGUgYXJlIHRoZSBzYW1lIGFzLCBvciB3aXRoaW4gdHdvIHBlb3BsZSBvZiwgYW4gZWFybGllciBjZWxsIG9mIHlvdXJzIGlzIGFuc3dlcmVkIGFzIHRoYXQgY2VsbCB3YXMgKHNob3duIG9yIHN1cHByZXNzZWQsIGFuZCBlYWNoIHN0YXRpc3RpYyBib3RoIGhhdmUgd2l0aCBpdHMgZWFybGllciB2YWx1ZSkifSx7ImNoZWNrIjoiZGlmZmVyZW5jaW5nIiwicGFyYW1zIjp7ImsiOjEwLCJjb21wYXJlZCI6MCwibWV0aG9kIjoidW5pdC1zZXRzIn0sInBhc3NlZCI6dHJ1ZSwiZWZmZWN0IjoiY2VsbHMgb25lIG9yIHR3byBwZW9wbGUgYXBhcnQgZnJvbSBhbm90aGVyIGNlbGwgb2YgeW91cnMgYXJlIGFuc3dlcmVkIGFzIHRoZSBlYXJsaWVyIGNlbGwgd2FzIChlYXJsaWVyLWFuc3dlcnMpOyBzdWNoIHBhaXJzIGFyZSByZWNvcmRlZCBmb3IgdGhlIGJ1cmVhdSJ9XSwiY2VsbHNTdXBwcmVzc2VkIjo3MiwiZXBzaWxvblNwZW50IjowLCJyYW5CeSI6ImVtYmVkZGVkIiwiZGF0YVNvdXJjZXMiOlt7ImRhdGFzZXQiOiJwb3B1bGF0aW9uIiwicHJvdmlkZXIiOiJvcmctcHNiIiwicHJvdmlkZXJOYW1lIjoi5biC5YWs5a6J5bGAIn1dLCJyZWxlYXNlZEF0IjoiMjAyNi0xMi0wN1QyMjo1MzoyNi4xNjFaIiwicmVsZWFzZWRCeSI6ImF1dG8iLCJpc3MiOiJ1cm46cGRzOmJ1cmVhdSIsImlhdCI6MTc5NjY4NDAwNiwic3ViIjoib3JnLXNodXpoaSIsImp0aSI6Im91dF9teGR2OW1mcDA4ZDJmYzk5OWIwNWJjYTcifQ.OQDo4-pgk92xCudCqmcOe0N9rrbfGUirb9S4Zac6k4gOn49s3lK968IAMDZI0zAhliacwGDl6SF-gohQn8BmBQ';
