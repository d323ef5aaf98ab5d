export const getHealthResponse = {
  status: 'ok',
  executor: 'embedded',
  storeVersion: 21,
  sandbox: { os: 'bubblewrap 0.8.0, seccomp on' },
  dataDirEncryption: { state: 'encrypted', how: 'dm-crypt' },
};

export const getJwksResponse = {
  keys: [
    {
      kty: 'OKP',
      crv: 'Ed25519',
      x: 'f-e39micLIlEuqrTx-3XOpea29tJGOWbhbsBhF-wl7I',
      kid: '9_sajffh6eeKFHc9gvRLPg7g8ppya_PIxsAXlVhXSmg',
      alg: 'EdDSA',
      use: 'sig',
    },
  ],
};

export const whoAmIResponse = { sub: 'zhang.wei@shuzhi', org: 'org-shuzhi', roles: ['operator'] };
