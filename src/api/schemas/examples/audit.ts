export const listAuditEntriesResponse = {
  entries: [
    {
      seq: 1,
      at: '2026-12-07T22:53:13.714Z',
      actor: 'system',
      role: 'system',
      org: 'domain',
      action: 'keys.current',
      objectType: 'key',
      objectId: 'bureau',
      reason: 'first recorded',
      requestId: null,
      details: { kid: '9_sajffh6eeKFHc9gvRLPg7g8ppya_PIxsAXlVhXSmg', previous: null },
      prevHash: '0000000000000000000000000000000000000000000000000000000000000000',
      hash: '47acecf432796e26d135c8d793c12070404054ec350f366edf5cf0d0863c7b6b',
    },
    {
      seq: 2,
      at: '2026-12-07T22:53:13.714Z',
      actor: 'system',
      role: 'system',
      org: 'domain',
      action: 'keys.current',
      objectType: 'key',
      objectId: 'issuer',
      reason: 'first recorded',
      requestId: null,
      details: { kid: 'M1jGT6qk7Gm2UXmyagkhwFtjVzcok0HVaCQEVM-he7k', previous: null },
      prevHash: '47acecf432796e26d135c8d793c12070404054ec350f366edf5cf0d0863c7b6b',
      hash: '9430be7af08bfbb32c129d115236ea82b0ad7a5445c8a45c7da2d2c7b4f94459',
    },
  ],
};

export const verifyAuditTrailResponse = {
  ok: true,
  entries: 56,
  headHash: '48713600bcc5b4add44b3007cf0de1991443331372c776d3d69e0adc856faf6e',
  checkpoints: 1,
};

export const exportAuditTrailResponse =
  '{"type":"entry","seq":1,"at":"2026-12-07T22:53:13.714Z","actor":"system","role":"system","org":"domain","action":"keys.current","objectType":"key","objectId":"bureau","reason":"first recorded","requestId":null,"details":{"kid":"9_sajffh6eeKFHc9gvRLPg7g8ppya_PIxsAXlVhXSmg","previous":null},"prevHash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"47acecf432796e26d135c8d793c12070404054ec350f366edf5cf0d0863c7b6b"}\n{"type":"checkpoint","seq":7,"headHash":"1b1cc8f4a3ec79734fbeffb8f4acd304e8bc162557afc8f9c18fdd78c0e3a201","jws":"eyJhbGciOiJFZERTQSIsInR5cCI6InBkcy1hdWRpdC1jaGVja3BvaW50K2p3dCIsImtpZCI6Ijlfc2FqZmZoNmVlS0ZIYzlndlJMUGc3ZzhwcHlhX1BJeHNBWGxWaFhTbWcifQ.eyJzZXEiOjcsImhlYWRIYXNoIjoiMWIxY2M4ZjRhM2VjNzk3MzRmYmVmZmI4ZjRhY2QzMDRlOGJjMTYyNTU3YWZjOGY5YzE4ZmRkNzhjMGUzYTIwMSIsImlzcyI6InVybjpwZHM6YnVyZWF1IiwiaWF0IjoxNzk2NjgzOTk4fQ.0NKZTwVT4QDf-O1YVasmncg3H5BYCq75FMD2PZYeSDnT7_ZcLkrZLFJkYKYZEZ55a8xK3W5uxoA18Jkp-fBPDw","reason":"daily","createdAt":"2026-12-07T22:53:18.973Z"}\n';
