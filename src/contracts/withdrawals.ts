import { decodeJwt } from 'jose';
import { appendAudit } from '../audit/index.ts';
import { PdsError } from '../errors/index.ts';
import type { Policies } from '../policies/index.ts';
import type { Notice, RegisterService } from '../register/index.ts';
import type { Store } from '../store/index.ts';
import type { ContractClaims } from './contract-token.ts';
import type { ContractService, Transitioned } from './contracts.ts';
import { actorOf, hasRole, type Principal } from '../auth/index.ts';
import { assertNotWithdrawn, withdrawnDatasets } from './withdrawn.ts';

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
  /** Set when the objection was answered and the dataset returned; suspended contracts stay suspended until the bureau resumes each. */
  reinstatedAt: string | null;
  reinstatedBy: string | null;
  reinstateReason: string | null;
}

export class WithdrawalService {
  constructor(
    private readonly deps: { store: Store; policies: Policies; register: RegisterService; now?: () => Date },
    private readonly contracts: ContractService,
  ) {}

  /** The bureau, or the dataset's own provider, acts on it. */
  private actorFor(p: Principal, dataset: string, verb: string) {
    const ds = this.deps.policies.catalog.datasets[dataset];
    if (!ds) throw new PdsError('ERR_NOT_FOUND', `dataset ${dataset} is not in the catalog`);
    const role = hasRole(p, 'bureau')
      ? 'bureau'
      : hasRole(p, 'provider') && p.org === ds.provider
        ? 'provider'
        : undefined;
    if (!role)
      throw new PdsError(
        'ERR_AUTH_FORBIDDEN',
        `only the bureau or ${dataset}'s provider (${ds.provider}) may ${verb} it`,
      );
    return actorOf(p, role);
  }

  /**
   * Withdraws a dataset; the withdrawal and each suspension it causes are published in the register
   * in the same transaction, with `notice`'s reason category (default: an objection) and statement.
   */
  async withdraw(
    p: Principal,
    dataset: string,
    reason: string,
    requestId?: string,
    notice: Notice = {},
  ): Promise<Withdrawal> {
    const actor = this.actorFor(p, dataset, 'withdraw');
    this.deps.register.checkStatement(notice.statement);
    const at = (this.deps.now?.() ?? new Date()).toISOString();
    const published: Notice = { reasonCategory: notice.reasonCategory ?? 'objection', statement: notice.statement };
    const done: Transitioned[] = [];
    const suspended = await this.deps.store.write(async (tx) => {
      await assertNotWithdrawn(tx, [dataset], `dataset ${dataset} is already withdrawn`);
      const active = await tx.all<{ id: string; jws: string }>(
        `SELECT id, jws FROM contracts WHERE status = 'active' ORDER BY created_at`,
      );
      const using = active.filter((c) =>
        (decodeJwt(c.jws) as unknown as ContractClaims).datasets.some((d) => d.dataset === dataset),
      );
      for (const c of using)
        done.push(
          await this.contracts.transition(
            tx,
            c.id,
            'suspend',
            `dataset ${dataset} withdrawn: ${reason}`,
            actor,
            requestId,
            published,
          ),
        );
      await tx.run(
        'INSERT INTO dataset_withdrawals (dataset, reason, withdrawn_by, withdrawn_at, suspended) VALUES ($1, $2, $3, $4, $5)',
        [dataset, reason, p.sub, at, JSON.stringify(using.map((c) => c.id))],
        'dataset_withdrawals',
      );
      await appendAudit(tx, {
        actor,
        action: 'dataset.withdrawn',
        objectType: 'dataset',
        objectId: dataset,
        reason,
        requestId,
        details: { suspended: using.map((c) => c.id) },
      });
      await this.deps.register.publish(
        tx,
        { kind: 'dataset-withdrawal', action: 'withdraw-dataset', effectiveAt: at, datasets: [dataset], ...published },
        { actor, requestId },
      );
      return using.map((c) => c.id);
    });
    for (const d of done) await this.contracts.afterTransition(d);
    return {
      dataset,
      reason,
      withdrawnBy: p.sub,
      withdrawnAt: at,
      suspended,
      reinstatedAt: null,
      reinstatedBy: null,
      reinstateReason: null,
    };
  }

  /**
   * Lifts a withdrawal once the objection is answered. The contracts it suspended stay suspended:
   * the bureau resumes each after its own check (seed 002 第三十一条: verify, then restore or withdraw), and the answer lists those
   * still waiting.
   */
  async reinstate(
    p: Principal,
    dataset: string,
    reason: string,
    requestId?: string,
  ): Promise<Withdrawal & { stillSuspended: string[] }> {
    const actor = this.actorFor(p, dataset, 'reinstate');
    const at = (this.deps.now?.() ?? new Date()).toISOString();
    await this.deps.store.write(async (tx) => {
      if ((await withdrawnDatasets(tx, [dataset])).size === 0)
        throw new PdsError('ERR_CONFLICT', `dataset ${dataset} is not withdrawn`);
      await tx.run(
        'UPDATE dataset_withdrawals SET reinstated_at = $1, reinstated_by = $2, reinstate_reason = $3 WHERE dataset = $4 AND reinstated_at IS NULL',
        [at, p.sub, reason, dataset],
        'dataset_withdrawals',
      );
      await appendAudit(tx, {
        actor,
        action: 'dataset.reinstated',
        objectType: 'dataset',
        objectId: dataset,
        reason,
        requestId,
      });
    });
    const w = (await this.list(dataset)).at(-1)!;
    const still = await this.deps.store.all<{ id: string }>(
      `SELECT id FROM contracts WHERE status = 'suspended' ORDER BY id`,
    );
    return { ...w, stillSuspended: still.map((c) => c.id).filter((id) => w.suspended.includes(id)) };
  }

  async list(dataset?: string): Promise<Withdrawal[]> {
    const rows = await this.deps.store.all<{
      [k: string]: string | null;
      dataset: string;
      reason: string;
      withdrawn_by: string;
      withdrawn_at: string;
      suspended: string;
    }>(
      `SELECT * FROM dataset_withdrawals ${dataset ? 'WHERE dataset = $1' : ''} ORDER BY withdrawn_at`,
      dataset ? [dataset] : [],
    );
    return rows.map((r) => ({
      dataset: r.dataset,
      reason: r.reason,
      withdrawnBy: r.withdrawn_by,
      withdrawnAt: r.withdrawn_at,
      suspended: JSON.parse(r.suspended) as string[],
      reinstatedAt: r.reinstated_at ?? null,
      reinstatedBy: r.reinstated_by ?? null,
      reinstateReason: r.reinstate_reason ?? null,
    }));
  }
}
