import path from 'node:path';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../audit/index.ts';
import type { DestructionService } from '../destruction/index.ts';
import { PdsError, type ErrorCode } from '../errors/index.ts';
import type { KeyRing } from '../keys/index.ts';
import { dummyDataOffThread, dummyFile, fileHasSha256, type BuildProgress, type DummyTable } from '../masking/index.ts';
import type { Policies, RegisterKind } from '../policies/index.ts';
import type { Notice, RegisterService } from '../register/index.ts';
import { resolveStored, type Store, type Tx } from '../store/index.ts';
import { verifyContract, type ContractClaims, type DecidedClaims, type VerifiedContract } from './contract-token.ts';
import { actorOf, canSeeScenario, hasRole, type Principal } from '../auth/index.ts';
import { assertNotWithdrawn } from './withdrawn.ts';

/** `building` and `failed` come before a contract is signed: its snapshot is being built, or could not be. */
export type ContractStatus = 'building' | 'failed' | 'active' | 'suspended' | 'revoked' | 'expired';
export type ContractAction = 'suspend' | 'resume' | 'revoke';

/** A snapshot build's state, on a contract not signed yet. */
export interface BuildView {
  phase: BuildProgress['phase'] | 'waiting' | 'failed';
  table: string | null;
  /** 0 … 1 */
  done: number;
  attempts: number;
  error: string | null;
}

export interface ContractView {
  id: string;
  applicationId: string;
  operatorOrg: string;
  status: ContractStatus;
  statusReason: string | null;
  statusChangedAt: string | null;
  statusChangedBy: string | null;
  /** Set when the contract is signed (its term starts then). */
  notBefore: string | null;
  expiresAt: string | null;
  createdAt: string;
  /** The signed claims; before signing, the decided ones, without the snapshot's. */
  claims: ContractClaims | DecidedClaims;
  /** The snapshot build, while there is no signed contract yet. */
  build: BuildView | null;
}

export interface ContractServiceDeps {
  store: Store;
  keys: KeyRing;
  policies: Policies;
  dataDir: string;
  now?: () => Date;
  /** Free space DATA_DIR keeps (config MIN_FREE_MB): no snapshot is built, no dummy-data file written below it. */
  minFreeBytes?: number;
  /** The public register: each suspension, resumption and revocation is published in its own transaction. */
  register: RegisterService;
  /** Records every deletion of a snapshot (docs/architecture.md §19). */
  destruction: DestructionService;
}

/**
 * What the contract lifecycle needs from jobs, without contracts depending on the jobs part:
 * ending a contract's unfinished jobs in the same transaction as its status change, then
 * interrupting those running on this machine.
 */
export interface ContractJobs {
  haltUnfinished(
    tx: Tx,
    contractId: string,
    outcome: { status: 'cancelled' | 'failed'; code: ErrorCode; message: string },
    actor: Actor,
  ): Promise<string[]>;
  interrupt(jobIds: string[]): void;
}

type Row = Record<string, string | null>;

/** A contract that is signed: its claims carry the snapshot, its term is set. */
export type SignedContractView = ContractView & { claims: ContractClaims; notBefore: string; expiresAt: string };

type StoredContract = SignedContractView & {
  jws: string;
  snapshotPath: string;
  snapshotHash: string;
};

function isSigned(c: ContractView): c is StoredContract {
  return 'jws' in c;
}

/** A contract whose snapshot is not sealed yet cannot serve jobs, nor change status. */
function notReady(id: string, status: 'building' | 'failed', reason?: string | null): PdsError {
  return new PdsError(
    'ERR_CONTRACT_NOT_READY',
    status === 'building'
      ? `the snapshot of contract ${id} is still being built; the contract becomes active when it is sealed`
      : `the snapshot build of contract ${id} failed${reason ? `: ${reason}` : ''}; the bureau may retry it`,
  );
}

/** What a status change left to do after its transaction commits. */
export interface Transitioned {
  halted: string[];
  /** The destruction record of the snapshot, pending until `afterTransition` deletes it. */
  destruction?: string;
}

/** The error a job or submission gets from a contract in `status`. */
export function contractStatusError(
  id: string,
  status: Exclude<ContractStatus, 'active'>,
  reason?: string | null,
): PdsError {
  if (status === 'building' || status === 'failed') return notReady(id, status, reason);
  const code: ErrorCode = {
    suspended: 'ERR_CONTRACT_SUSPENDED',
    revoked: 'ERR_CONTRACT_REVOKED',
    expired: 'ERR_CONTRACT_EXPIRED',
  }[status] as ErrorCode;
  return new PdsError(code, `contract ${id} is ${status}${reason ? `: ${reason}` : ''}`);
}

/** Which status each action leads to, from which statuses, and who may take it (seed 001 第二十七条, seed 004 第四十三条). */
export const CONTRACT_TRANSITIONS: Record<
  ContractAction,
  { from: ContractStatus[]; to: ContractStatus; roles: ('bureau' | 'risk')[] }
> = {
  suspend: { from: ['active'], to: 'suspended', roles: ['bureau', 'risk'] },
  resume: { from: ['suspended'], to: 'active', roles: ['bureau'] },
  revoke: { from: ['active', 'suspended'], to: 'revoked', roles: ['bureau'] },
};

/** The register's kind for each lifecycle action (seed 003 第三十五条). */
const REGISTER_KIND: Record<ContractAction, RegisterKind> = {
  suspend: 'suspension',
  resume: 'resumption',
  revoke: 'revocation',
};

const LIST_LIMIT = 200;

/** Signed contracts: reading them, their lifecycle, and the check before every job runs. */
export class ContractService {
  private readonly now: () => Date;
  private jobs: ContractJobs | undefined;

  constructor(private readonly deps: ContractServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Wires the jobs part in after both are built (jobs depend on contracts, not the other way). */
  attachJobs(jobs: ContractJobs): void {
    this.jobs = jobs;
  }

  /** Wires the snapshot builds in, for the live progress of contracts not signed yet. */
  attachBuilds(builds: { progress(contractId: string): BuildProgress | undefined }): void {
    this.builds = builds;
  }

  private builds: { progress(contractId: string): BuildProgress | undefined } | undefined;

  /** A contract not signed yet: its snapshot is being built, or the build failed. */
  private async loadBuild(id: string): Promise<ContractView | undefined> {
    const r = await this.deps.store.one<Record<string, string | number | null>>(
      "SELECT * FROM snapshot_builds WHERE contract_id = $1 AND status <> 'sealed'",
      [id],
    );
    return r ? this.buildView(r) : undefined;
  }

  /**
   * The contract as it stands: signed, or its build while it is not (building, failed). A build
   * sealed between the two reads is found signed by a third.
   */
  private async find(id: string): Promise<StoredContract | ContractView | undefined> {
    return (
      (await this.loadContract(this.deps.store, id)) ??
      (await this.loadBuild(id)) ??
      (await this.loadContract(this.deps.store, id))
    );
  }

  private buildView(r: Record<string, string | number | null>): ContractView {
    const id = String(r.contract_id);
    const status = r.status === 'failed' ? 'failed' : 'building';
    const live = status === 'building' ? this.builds?.progress(id) : undefined;
    const error = r.error === null ? null : String(r.error);
    return {
      id,
      applicationId: String(r.application_id),
      operatorOrg: String(r.operator_org),
      status,
      statusReason: status === 'failed' ? error : null,
      statusChangedAt: String(r.updated_at),
      statusChangedBy: null,
      notBefore: null,
      expiresAt: null,
      createdAt: String(r.created_at),
      claims: JSON.parse(String(r.claims)) as DecidedClaims,
      build: {
        phase: live?.phase ?? (status === 'failed' ? 'failed' : 'waiting'),
        table: live?.table ?? null,
        done: live?.done ?? 0,
        attempts: Number(r.attempts),
        error,
      },
    };
  }

  private toView(r: Row): StoredContract {
    const expired = r.status === 'active' && r.expires_at! <= this.now().toISOString();
    return {
      id: r.id!,
      applicationId: r.application_id!,
      operatorOrg: r.operator_org!,
      status: (expired ? 'expired' : r.status) as ContractStatus,
      statusReason: expired ? 'the contract term has ended' : (r.status_reason ?? null),
      statusChangedAt: expired ? r.expires_at! : (r.status_changed_at ?? null),
      statusChangedBy: expired ? null : (r.status_changed_by ?? null),
      notBefore: r.not_before!,
      expiresAt: r.expires_at!,
      createdAt: r.created_at!,
      claims: JSON.parse(r.claims!) as ContractClaims,
      build: null,
      jws: r.jws!,
      snapshotPath: resolveStored(this.deps.dataDir, r.snapshot_path!),
      snapshotHash: r.snapshot_hash!,
    };
  }

  private async loadContract(reader: Store | Tx, id: string): Promise<StoredContract | undefined> {
    // a row is served from memory while no statement has written `contracts` since it was read
    // (a point query costs DuckDB milliseconds, several per job; bench:jobs) — inside a write
    // transaction too, unless that transaction wrote contracts itself (the writer is serialized,
    // so nothing else can have); the view is made fresh (expiry is by the clock)
    const store = this.deps.store;
    const inTx = reader !== store;
    const at = store.writtenAt('contracts');
    const cached = this.rows.get(id);
    if (cached?.at === at && !(inTx && (reader as Tx).wrote('contracts'))) return this.toView(cached.row);
    const r = await reader.one<Row>('SELECT * FROM contracts WHERE id = $1', [id]);
    if (!r) return undefined;
    if (!inTx && at === store.writtenAt('contracts')) {
      if (this.rows.size > 10_000) this.rows.clear();
      this.rows.set(id, { at, row: r });
    }
    return this.toView(r);
  }

  /** Contract rows by id, with the commit that last wrote `contracts` when they were read. */
  private readonly rows = new Map<string, { at: number; row: Row }>();

  private visible<C extends ContractView>(p: Principal, c: C | undefined, id: string): C {
    if (
      !c ||
      !canSeeScenario(
        p,
        c.operatorOrg,
        c.claims.datasets.map((d) => d.provider),
      )
    )
      throw new PdsError('ERR_NOT_FOUND', `contract ${id} not found`);
    return c;
  }

  private static publicView({
    jws: _j,
    snapshotPath: _s,
    snapshotHash: _h,
    ...view
  }: StoredContract): SignedContractView {
    return view;
  }

  async getContract(p: Principal, id: string): Promise<ContractView> {
    const c = this.visible(p, await this.find(id), id);
    return isSigned(c) ? ContractService.publicView(c) : c;
  }

  /** A signed contract this principal may see; one not signed yet answers ERR_CONTRACT_NOT_READY. */
  async getSignedContract(p: Principal, id: string): Promise<SignedContractView> {
    return ContractService.publicView(await this.signed(p, id));
  }

  private async signed(p: Principal, id: string): Promise<StoredContract> {
    const c = this.visible(p, await this.find(id), id);
    if (!isSigned(c)) throw notReady(id, c.status as 'building' | 'failed', c.statusReason);
    return c;
  }

  /**
   * Dummy rows with exactly the contract snapshot's tables, columns, types and masked formats, for
   * writing and testing queries without the data (faker, through the contract's own masking).
   */
  /** As JSON text (`{table: {columns, rows}}`), made in a thread of its own. */
  async dummyData(p: Principal, id: string, opts: { rows: number; seed: number }): Promise<string> {
    // from the decided grants: an operator may write queries while the snapshot is being built
    const c = await this.getContract(p, id);
    return dummyDataOffThread({
      grants: c.claims.datasets,
      catalog: this.deps.policies.catalog,
      rows: opts.rows,
      seed: opts.seed,
    });
  }

  /**
   * Dummy data as a file to develop against locally: a DuckDB database of every table, or one
   * table as Parquet (`table` may be left out when the contract has one).
   */
  async dummyDataFile(
    p: Principal,
    id: string,
    opts: { rows: number; seed: number; format: 'duckdb' | 'parquet'; table?: string },
  ): Promise<Buffer> {
    const json = await this.dummyData(p, id, opts);
    const tables = JSON.parse(json) as Record<string, DummyTable>;
    const names = Object.keys(tables);
    const table = opts.format === 'parquet' ? (opts.table ?? (names.length === 1 ? names[0] : undefined)) : undefined;
    if (opts.format === 'parquet' && (!table || !names.includes(table)))
      throw new PdsError(
        'ERR_VALIDATION',
        `Parquet holds one table: name it with ?table= (contract ${id} has ${names.join(', ')})`,
        { errors: [{ field: '/querystring/table', message: `one of ${names.join(', ')}` }] },
      );
    // the JSON lines and the file DuckDB writes from them: about twice the JSON
    return dummyFile(tables, opts.format, path.join(this.deps.dataDir, 'tmp'), table, {
      minFreeBytes: this.deps.minFreeBytes ?? 0,
      expectBytes: 2 * Buffer.byteLength(json),
    });
  }

  async getContractJws(p: Principal, id: string): Promise<string> {
    return (await this.signed(p, id)).jws;
  }

  /** Contracts this principal may see, newest first; `status` filters on the effective status (expiry included). */
  async listContracts(
    p: Principal,
    filter: { status?: ContractStatus; dataset?: string; limit?: number } = {},
  ): Promise<ContractView[]> {
    // builds first: one sealed between the two reads is in both, and its signed row wins
    const builds = await this.deps.store.all<Record<string, string | number | null>>(
      "SELECT * FROM snapshot_builds WHERE status <> 'sealed'",
    );
    const rows = await this.deps.store.all<Row>('SELECT * FROM contracts ORDER BY created_at DESC, id DESC');
    const signed = new Set(rows.map((r) => r.id));
    return [
      ...rows.map((r): ContractView => this.toView(r)),
      ...builds.filter((r) => !signed.has(String(r.contract_id))).map((r) => this.buildView(r)),
    ]
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
      .filter((c) =>
        canSeeScenario(
          p,
          c.operatorOrg,
          c.claims.datasets.map((d) => d.provider),
        ),
      )
      .filter((c) => !filter.status || c.status === filter.status)
      .filter((c) => !filter.dataset || c.claims.datasets.some((d) => d.dataset === filter.dataset))
      .slice(0, filter.limit ?? LIST_LIMIT)
      .map((c) => (isSigned(c) ? ContractService.publicView(c) : c));
  }

  /**
   * Suspends, resumes or revokes a contract, with actor and reason (seed 002 第三十九条: the
   * emergency plan's kill switch; seed 001 第二十七条 and seed 004 第四十三条: restrict, close
   * supply, terminate). Suspension cancels the contract's queued and running jobs; revocation
   * fails them with `ERR_CONTRACT_REVOKED` and deletes the snapshot. The change is published in
   * the register with `notice`'s reason category and statement (seed 003 第三十五条), never `reason`.
   */
  async changeStatus(
    p: Principal,
    id: string,
    action: ContractAction,
    reason: string,
    requestId?: string,
    notice: Notice = {},
  ): Promise<ContractView> {
    const rule = CONTRACT_TRANSITIONS[action];
    const role = rule.roles.find((r) => hasRole(p, r));
    if (!role) throw new PdsError('ERR_AUTH_FORBIDDEN', `only ${rule.roles.join(' or ')} may ${action} a contract`);
    await this.signed(p, id);
    this.deps.register.checkStatement(notice.statement);
    const done = await this.deps.store.write((tx) =>
      this.transition(tx, id, action, reason, actorOf(p, role), requestId, notice),
    );
    await this.afterTransition(done);
    return this.getContract(p, id);
  }

  /** The status change itself, inside the caller's transaction; pass its result to `afterTransition` after the commit. */
  async transition(
    tx: Tx,
    id: string,
    action: ContractAction,
    reason: string,
    actor: Actor,
    requestId?: string,
    notice: Notice = {},
  ): Promise<Transitioned> {
    const rule = CONTRACT_TRANSITIONS[action];
    const c = await this.loadContract(tx, id);
    if (!c) throw new PdsError('ERR_NOT_FOUND', `contract ${id} not found`);
    if (!rule.from.includes(c.status)) {
      throw new PdsError(
        'ERR_CONTRACT_STATE',
        `contract ${id} is ${c.status}; ${action} needs it ${rule.from.join(' or ')}`,
      );
    }
    if (action === 'resume')
      await assertNotWithdrawn(
        tx,
        c.claims.datasets.map((d) => d.dataset),
        `contract ${id} cannot resume while a dataset it uses is withdrawn`,
      );
    const at = this.now().toISOString();
    await tx.run(
      `UPDATE contracts SET status = $1, status_reason = $2, status_changed_at = $3, status_changed_by = $4 WHERE id = $5`,
      [rule.to, reason, at, actor.sub, id],
      'contracts',
    );
    await appendAudit(tx, {
      actor,
      action: `contract.${rule.to === 'active' ? 'resumed' : rule.to}`,
      objectType: 'contract',
      objectId: id,
      reason,
      requestId,
      details: { from: c.status },
    });
    await this.deps.register.publish(
      tx,
      {
        kind: REGISTER_KIND[action],
        action,
        effectiveAt: at,
        contractId: id,
        operatorOrg: c.operatorOrg,
        scenarioTitle: c.claims.scenario.name,
        datasets: c.claims.datasets.map((d) => d.dataset),
        ...notice,
      },
      { actor, requestId },
    );
    if (action === 'resume') return { halted: [] };
    if (action === 'suspend') {
      const halted = this.jobs
        ? await this.jobs.haltUnfinished(
            tx,
            id,
            { status: 'cancelled', code: 'ERR_CONTRACT_SUSPENDED', message: `contract suspended: ${reason}` },
            actor,
          )
        : [];
      return { halted };
    }
    return this.closeSupply(
      tx,
      { id, operatorOrg: c.operatorOrg, snapshotHash: c.snapshotHash, snapshotPath: c.snapshotPath },
      { code: 'ERR_CONTRACT_REVOKED', message: `contract revoked: ${reason}`, why: 'revoked' },
      actor,
      requestId,
    );
  }

  /**
   * A contract that ended (revoked, expired): its unfinished jobs fail, and its snapshot is
   * recorded for destruction after the commit — unless policies/retention.yaml keeps it a while,
   * when housekeeping deletes it later (docs/architecture.md §19).
   */
  private async closeSupply(
    tx: Tx,
    c: { id: string; operatorOrg: string; snapshotHash: string; snapshotPath: string },
    end: { code: ErrorCode; message: string; why: 'revoked' | 'term-ended' },
    actor: Actor,
    requestId?: string,
  ): Promise<Transitioned> {
    const halted = this.jobs
      ? await this.jobs.haltUnfinished(tx, c.id, { status: 'failed', code: end.code, message: end.message }, actor)
      : [];
    const { afterRevokedDays, afterExpiredDays } = this.deps.policies.retention.snapshot;
    const keepDays = end.why === 'revoked' ? afterRevokedDays : afterExpiredDays;
    if (keepDays > 0) return { halted };
    const destruction = await this.deps.destruction.plan(tx, {
      kind: 'snapshot',
      subjectId: c.id,
      contractId: c.id,
      operatorOrg: c.operatorOrg,
      why: end.why,
      actor,
      requestId,
      files: [{ file: c.snapshotPath, sha256: c.snapshotHash }, { file: `${c.snapshotPath}.wal` }],
    });
    await appendAudit(tx, {
      actor,
      action: 'snapshot.deleted',
      objectType: 'contract',
      objectId: c.id,
      reason: `${end.why}: supply closed`,
      requestId,
      details: { hash: c.snapshotHash, ...(destruction ? { record: destruction } : {}) },
    });
    return { halted, ...(destruction ? { destruction } : {}) };
  }

  /**
   * Ends the contracts whose term is over (seed 002 第三十二条: a term of at most three years), as
   * the platform's housekeeping finds them: status `expired`, recorded, unfinished jobs failed with
   * ERR_CONTRACT_EXPIRED, the snapshot deleted (seed 003 第三十九条: destruction supervised).
   * Until then reads already show them expired and nothing runs under them.
   */
  async expireDue(): Promise<string[]> {
    const now = this.now().toISOString();
    const due = await this.deps.store.all<{ id: string }>(
      `SELECT id FROM contracts WHERE status IN ('active', 'suspended') AND expires_at <= $1 ORDER BY expires_at`,
      [now],
    );
    const expired: string[] = [];
    for (const { id } of due) {
      const done = await this.deps.store.write(async (tx) => {
        const c = await tx.one<Row>(
          `SELECT status, operator_org, snapshot_path, snapshot_hash, expires_at FROM contracts WHERE id = $1 AND status IN ('active', 'suspended') AND expires_at <= $2`,
          [id, now],
        );
        if (!c) return undefined;
        await tx.run(
          `UPDATE contracts SET status = 'expired', status_reason = 'the contract term has ended', status_changed_at = $1, status_changed_by = 'system' WHERE id = $2`,
          [now, id],
          'contracts',
        );
        await appendAudit(tx, {
          actor: SYSTEM_ACTOR,
          action: 'contract.expired',
          objectType: 'contract',
          objectId: id,
          reason: 'the contract term has ended',
          details: { from: c.status, expiresAt: c.expires_at },
        });
        return this.closeSupply(
          tx,
          {
            id,
            operatorOrg: c.operator_org!,
            snapshotHash: c.snapshot_hash!,
            snapshotPath: resolveStored(this.deps.dataDir, c.snapshot_path!),
          },
          { code: 'ERR_CONTRACT_EXPIRED', message: 'contract term ended', why: 'term-ended' },
          SYSTEM_ACTOR,
        );
      });
      if (!done) continue;
      await this.afterTransition(done);
      expired.push(id);
    }
    return expired;
  }

  /**
   * After the commit: interrupt running jobs, and close supply by deleting an ended contract's
   * snapshot as its destruction record says (the record seals once the files are gone; a process
   * that stops before completes it at its next start).
   */
  async afterTransition(done: Transitioned): Promise<void> {
    this.jobs?.interrupt(done.halted);
    if (done.destruction) await this.deps.destruction.complete(done.destruction);
  }

  /**
   * Everything a job needs to run, checked anew right before every run (docs/architecture.md §7): signature
   * (by `kid`, rotated keys included), term, status in the store, and that the snapshot file is
   * the one the contract pins. A job queued before a suspension or revocation never runs after it.
   */
  async contractForRun(id: string): Promise<{ claims: VerifiedContract; snapshotPath: string }> {
    const { claims, snapshotPath } = await this.verifiedActive(id);
    if (!(await fileHasSha256(snapshotPath, claims.snapshot.hash))) {
      throw new PdsError(
        'ERR_SNAPSHOT_MISMATCH',
        `the snapshot of contract ${id} does not match the hash it was signed with`,
      );
    }
    return { claims, snapshotPath };
  }

  /** An active contract's verified claims (signature, term, status), without re-hashing its snapshot. */
  async verifiedActive(id: string): Promise<{ claims: VerifiedContract; snapshotPath: string }> {
    const c = await this.find(id);
    if (!c) throw new PdsError('ERR_CONTRACT_INVALID', `contract ${id} does not exist`);
    if (!isSigned(c)) throw notReady(id, c.status as 'building' | 'failed', c.statusReason);
    if (c.status !== 'active') throw contractStatusError(id, c.status, c.statusReason);
    const claims = await verifyContract(c.jws, this.deps.keys.bureauVerifier(), this.now());
    if (claims.jti !== id) throw new PdsError('ERR_CONTRACT_INVALID', 'contract id does not match its signed jti');
    return { claims, snapshotPath: c.snapshotPath };
  }

  /** The contract's status as a transaction sees it, for a last check inside the release transaction. */
  async assertActive(tx: Tx, id: string): Promise<void> {
    const c = await this.loadContract(tx, id);
    if (!c) throw new PdsError('ERR_CONTRACT_INVALID', `contract ${id} does not exist`);
    if (c.status !== 'active') throw contractStatusError(id, c.status, c.statusReason);
  }

  /** Operators may only submit jobs under their own organisation's active contracts. */
  async assertOperatorContract(p: Principal, id: string): Promise<ContractView> {
    const c = await this.getContract(p, id);
    if (c.operatorOrg !== p.org) throw new PdsError('ERR_NOT_FOUND', `contract ${id} not found`);
    if (c.status !== 'active') throw contractStatusError(id, c.status, c.statusReason);
    return c;
  }
}
