import { decodeJwt } from 'jose';
import { appendAudit } from '../audit/index.ts';
import { PdsError } from '../errors/index.ts';
import type { Policies } from '../policies/index.ts';
import type { Store } from '../store/index.ts';
import type { ContractClaims } from './contract-token.ts';
import type { ContractService, Transitioned } from './contracts.ts';
import { actorOf, hasRole, type Principal } from './principal.ts';

/**
 * Objection handling (seed 001 第二十二条, seed 003 第二十八条): when a data subject or the provider
 * objects, the dataset is withdrawn — every active contract that uses it is suspended (its queued
 * and running jobs cancelled in the same transaction) and why is recorded, for the risk reports.
 */

export interface Withdrawal {
  dataset: string;
  reason: string;
  withdrawnBy: string;
  withdrawnAt: string;
  suspended: string[];
}

export class WithdrawalService {
  constructor(private readonly deps: { store: Store; policies: Policies; now?: () => Date }, private readonly contracts: ContractService) {}

  async withdraw(p: Principal, dataset: string, reason: string, requestId?: string): Promise<Withdrawal> {
    const ds = this.deps.policies.catalog.datasets[dataset];
    if (!ds) throw new PdsError('ERR_NOT_FOUND', `dataset ${dataset} is not in the catalog`);
    const role = hasRole(p, 'bureau') ? 'bureau' : hasRole(p, 'provider') && p.org === ds.provider ? 'provider' : undefined;
    if (!role) throw new PdsError('ERR_AUTH_FORBIDDEN', `only the bureau or ${dataset}'s provider (${ds.provider}) may withdraw it`);
    const actor = actorOf(p, role);
    const at = (this.deps.now?.() ?? new Date()).toISOString();
    const done: Transitioned[] = [];
    const suspended = await this.deps.store.write(async (tx) => {
      const active = await tx.all<{ id: string; jws: string }>(`SELECT id, jws FROM contracts WHERE status = 'active' ORDER BY created_at`);
      const using = active.filter((c) => (decodeJwt(c.jws) as unknown as ContractClaims).datasets.some((d) => d.dataset === dataset));
      for (const c of using) done.push(await this.contracts.transition(tx, c.id, 'suspend', `dataset ${dataset} withdrawn: ${reason}`, actor, requestId));
      await tx.run('INSERT INTO dataset_withdrawals (dataset, reason, withdrawn_by, withdrawn_at, suspended) VALUES ($1, $2, $3, $4, $5)', [dataset, reason, p.sub, at, JSON.stringify(using.map((c) => c.id))]);
      await appendAudit(tx, { actor, action: 'dataset.withdrawn', objectType: 'dataset', objectId: dataset, reason, requestId, details: { suspended: using.map((c) => c.id) } });
      return using.map((c) => c.id);
    });
    for (const d of done) this.contracts.afterTransition(d);
    return { dataset, reason, withdrawnBy: p.sub, withdrawnAt: at, suspended };
  }

  async list(dataset?: string): Promise<Withdrawal[]> {
    const rows = await this.deps.store.all<{ dataset: string; reason: string; withdrawn_by: string; withdrawn_at: string; suspended: string }>(
      `SELECT * FROM dataset_withdrawals ${dataset ? 'WHERE dataset = $1' : ''} ORDER BY withdrawn_at`, dataset ? [dataset] : []);
    return rows.map((r) => ({ dataset: r.dataset, reason: r.reason, withdrawnBy: r.withdrawn_by, withdrawnAt: r.withdrawn_at, suspended: JSON.parse(r.suspended) as string[] }));
  }
}
