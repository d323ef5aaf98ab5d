/** Shared set-up of the benches: a free port, a contract approved through the real API. */
import net from 'node:net';
import { createServer } from '../src/api/index.ts';
import { issueToken } from '../src/auth/index.ts';
import type { Platform } from '../src/platform/index.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function contractFor(
  platform: Platform,
  server: Awaited<ReturnType<typeof createServer>>,
): Promise<{ contractId: string; op: string }> {
  const tok = (role: 'operator' | 'provider' | 'bureau', org: string) =>
    issueToken(platform.keys, { sub: `${role}@${org}`, org, roles: [role] });
  const op = await tok('operator', 'org-bench');
  const call = async (token: string, url: string, payload: object) => {
    const res = await server.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload });
    if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    return res.json() as Record<string, string>;
  };
  const app = await call(op, '/v1/applications', {
    scenario: { name: 'bench', purpose: 'bench' },
    mode: 'aggregate',
    termMonths: 12,
    datasets: [{ dataset: 'population', columns: ['district', 'education', 'income'] }],
    emergencyPlan: { contact: 'ops@bench', triggers: ['t'], actions: ['a'] },
  });
  await call(await tok('provider', 'org-psb'), `/v1/applications/${app.id}/reviews`, {
    dataset: 'population',
    decision: 'approve',
  });
  const dec = await call(await tok('bureau', 'org-bureau'), `/v1/applications/${app.id}/decision`, {
    decision: 'approve',
    reason: 'bench',
    override: { reason: 'bench data: a synthetic population' },
  });
  // the approval answers at once; the contract is active once its snapshot is sealed
  await platform.builds.settled(dec.contractId!);
  const contract = await platform.contracts.getContract(
    { sub: 'bureau@org-bureau', org: 'org-bureau', roles: ['bureau'] },
    dec.contractId!,
  );
  if (contract.status !== 'active')
    throw new Error(`the bench contract is ${contract.status}: ${contract.statusReason}`);
  return { contractId: dec.contractId!, op };
}
