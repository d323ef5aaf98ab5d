import fs from 'node:fs';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../audit/index.ts';
import { domainPath } from '../domain/index.ts';
import { PdsError, type ErrorCode } from '../errors/index.ts';
import { snapshotBuildSeconds } from '../metrics/index.ts';
import { buildSnapshot, recordKeySalt, type BuildProgress, type SnapshotInfo } from '../masking/index.ts';
import { storedPath } from '../store/index.ts';
import { addMonths, signContract, type ContractClaims, type DecidedClaims } from './contract-token.ts';
import type { ContractServiceDeps } from './contracts.ts';
import { actorOf, hasRole, type Principal } from '../auth/index.ts';
import { assertNotWithdrawn } from './withdrawn.ts';

type BuildRow = Record<string, string | number | null>;

/** Errors no retry can mend: the build is reported failed at once. */
const PERMANENT: ReadonlySet<ErrorCode> = new Set(['ERR_CONFLICT', 'ERR_DATASET_WITHDRAWN', 'ERR_VALIDATION']);

export interface SnapshotBuildsDeps extends Omit<ContractServiceDeps, 'register' | 'destruction'> {
  /** Attempts a build gets before it is reported failed (a crash mid-build counts as one). */
  maxAttempts?: number;
  /** Waits before the second, third … attempt. */
  retryDelaysMs?: number[];
  onError?: (contractId: string, err: unknown) => void;
}

/**
 * The snapshots of approved contracts, built one at a time after the decision has answered
 * (docs/architecture.md §17): the contract shows `building` with the build's progress, and
 * becomes `active` only in the transaction that signs it with its sealed snapshot's hash. A build
 * that fails is retried, then reported `failed` — never half-active; the bureau may retry it. A
 * build a stopped process left is taken up again at start.
 */
export class SnapshotBuilds {
  private readonly now: () => Date;
  private readonly live = new Map<string, BuildProgress>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly deps: SnapshotBuildsDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** How far a build running in this process is. */
  progress(contractId: string): BuildProgress | undefined {
    return this.live.get(contractId);
  }

  /** Builds whatever waits to be built, one after another, until none is left. */
  kick(): void {
    if (this.abort.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => this.deps.onError?.('*', err))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves once the contract's build has left `building` (sealed or failed); at once if it has. */
  async settled(contractId: string): Promise<void> {
    const waiting = new Promise<void>((resolve) => {
      this.waiters.set(contractId, [...(this.waiters.get(contractId) ?? []), resolve]);
    });
    const row = await this.deps.store.one<BuildRow>('SELECT status FROM snapshot_builds WHERE contract_id = $1', [
      contractId,
    ]);
    if (row?.status !== 'building') this.wake(contractId);
    return waiting;
  }

  /** The bureau sends a failed build back to be built again. */
  async retry(p: Principal, contractId: string, reason: string, requestId?: string): Promise<void> {
    if (!hasRole(p, 'bureau')) throw new PdsError('ERR_AUTH_FORBIDDEN', 'only the bureau may retry a snapshot build');
    await this.deps.store.write(async (tx) => {
      const row = await tx.one<BuildRow>('SELECT status FROM snapshot_builds WHERE contract_id = $1', [contractId]);
      if (!row || row.status === 'sealed')
        throw new PdsError('ERR_CONTRACT_STATE', `contract ${contractId} has no failed snapshot build to retry`);
      if (row.status !== 'failed')
        throw new PdsError('ERR_CONTRACT_STATE', `the snapshot of contract ${contractId} is being built already`);
      await tx.run(
        `UPDATE snapshot_builds SET status = 'building', attempts = 0, error = NULL, updated_at = $1 WHERE contract_id = $2`,
        [this.now().toISOString(), contractId],
        'snapshot_builds',
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'bureau'),
        action: 'snapshot.build_retried',
        objectType: 'contract',
        objectId: contractId,
        reason,
        requestId,
      });
    });
    this.kick();
  }

  /** Stops: a build under way is interrupted, nothing of it kept, and taken up at the next start. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private wake(contractId: string): void {
    for (const resolve of this.waiters.get(contractId) ?? []) resolve();
    this.waiters.delete(contractId);
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.abort.signal.aborted) return;
      const next = await this.deps.store.one<BuildRow>(
        "SELECT * FROM snapshot_builds WHERE status = 'building' ORDER BY created_at, contract_id LIMIT 1",
      );
      if (!next) return;
      await this.buildOne(next);
    }
  }

  private async buildOne(row: BuildRow): Promise<void> {
    const id = String(row.contract_id);
    const maxAttempts = this.deps.maxAttempts ?? 3;
    const delays = this.deps.retryDelaysMs ?? [2_000, 10_000];
    const decided = JSON.parse(String(row.claims)) as DecidedClaims;
    let attempts = Number(row.attempts);
    let error = row.error === null ? null : String(row.error);
    try {
      for (;;) {
        if (attempts >= maxAttempts) {
          await this.fail(id, `${error ?? 'the build was interrupted'} (after ${attempts} attempts)`, attempts);
          return;
        }
        attempts += 1;
        await this.deps.store.write((tx) =>
          tx.run(
            'UPDATE snapshot_builds SET attempts = $1, updated_at = $2 WHERE contract_id = $3',
            [attempts, this.now().toISOString(), id],
            'snapshot_builds',
          ),
        );
        let snapshot: SnapshotInfo | undefined;
        try {
          snapshot = await this.build(id, decided);
          await this.seal(row, decided, snapshot, attempts);
          return;
        } catch (err) {
          if (snapshot) fs.rmSync(snapshot.file, { force: true });
          if (this.abort.signal.aborted) return; // taken up again at the next start
          const message = describe(err);
          this.deps.onError?.(id, err);
          if (err instanceof PdsError && PERMANENT.has(err.code)) {
            await this.fail(id, message, attempts);
            return;
          }
          error = message;
          await this.deps.store.write((tx) =>
            tx.run(
              'UPDATE snapshot_builds SET error = $1, updated_at = $2 WHERE contract_id = $3',
              [message, this.now().toISOString(), id],
              'snapshot_builds',
            ),
          );
          await sleep(delays[Math.min(attempts - 1, delays.length - 1)] ?? 0, this.abort.signal);
        }
      }
    } finally {
      this.live.delete(id);
      this.wake(id);
    }
  }

  private async build(id: string, claims: DecidedClaims): Promise<SnapshotInfo> {
    const { keys } = this.deps;
    this.live.set(id, { phase: 'counting', table: null, done: 0 });
    const timer = snapshotBuildSeconds.startTimer();
    const snapshot = await buildSnapshot({
      dataDir: this.deps.dataDir,
      domainFile: domainPath(this.deps.dataDir),
      contractId: id,
      grants: claims.datasets,
      catalog: this.deps.policies.catalog,
      policyK: claims.disclosure.minUnits,
      pseudonymKey: keys.derive('pseudonym', id),
      noiseKey: keys.derive('measure-noise', 'domain'),
      unitKeySalt: recordKeySalt(keys.derive('unit-key', 'domain', 8)),
      ...(this.deps.minFreeBytes !== undefined ? { minFreeBytes: this.deps.minFreeBytes } : {}),
      onProgress: (p) => this.live.set(id, p),
      signal: this.abort.signal,
    });
    timer();
    return snapshot;
  }

  /** Signs the contract with its snapshot's hash and makes it active, in one transaction. */
  private async seal(row: BuildRow, decided: DecidedClaims, snapshot: SnapshotInfo, attempts: number): Promise<void> {
    const id = String(row.contract_id);
    const actor = JSON.parse(String(row.decided_by)) as Actor;
    const requestId = row.request_id === null ? undefined : String(row.request_id);
    const claims: ContractClaims = {
      ...decided,
      snapshot: {
        hash: snapshot.hash,
        tables: snapshot.tables,
        recordKeys: snapshot.recordKeys,
        unitKeys: snapshot.unitKeys,
      },
    };
    const issuedAt = this.now();
    const expiresAt = addMonths(issuedAt, Number(row.term_months));
    const key = this.deps.keys.bureau;
    const jws = await signContract(key, claims, {
      contractId: id,
      operatorOrg: String(row.operator_org),
      issuedAt,
      notBefore: issuedAt,
      expiresAt,
    });
    await this.deps.store.write(async (tx) => {
      const current = await tx.one<BuildRow>('SELECT status FROM snapshot_builds WHERE contract_id = $1', [id]);
      if (current?.status !== 'building')
        throw new PdsError('ERR_CONTRACT_STATE', `the build of contract ${id} is ${String(current?.status)}`);
      // checked in the transaction that signs: a withdrawal during the build still stops it
      await assertNotWithdrawn(
        tx,
        claims.datasets.map((g) => g.dataset),
        `contract ${id} cannot be signed`,
      );
      await tx.run(
        `INSERT INTO contracts (id, application_id, operator_org, status, jws, claims, snapshot_path, snapshot_hash, not_before, expires_at, created_at, status_changed_at, status_changed_by)
         VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $10, $8, $11)`,
        [
          id,
          String(row.application_id),
          String(row.operator_org),
          jws,
          JSON.stringify(claims),
          storedPath(this.deps.dataDir, snapshot.file),
          snapshot.hash,
          issuedAt.toISOString(),
          expiresAt.toISOString(),
          String(row.created_at),
          actor.sub,
        ],
        'contracts',
      );
      await tx.run(
        `UPDATE snapshot_builds SET status = 'sealed', error = NULL, updated_at = $1 WHERE contract_id = $2`,
        [issuedAt.toISOString(), id],
        'snapshot_builds',
      );
      await appendAudit(tx, {
        actor,
        action: 'snapshot.built',
        objectType: 'contract',
        objectId: id,
        requestId,
        details: {
          hash: snapshot.hash,
          tables: Object.fromEntries(Object.entries(snapshot.tables).map(([t, v]) => [t, v.rows])),
          attempts,
        },
      });
      await appendAudit(tx, {
        actor,
        action: 'contract.signed',
        objectType: 'contract',
        objectId: id,
        requestId,
        details: { kid: key.kid, expiresAt: expiresAt.toISOString() },
      });
    });
  }

  private async fail(id: string, message: string, attempts: number): Promise<void> {
    await this.deps.store.write(async (tx) => {
      await tx.run(
        `UPDATE snapshot_builds SET status = 'failed', error = $1, updated_at = $2 WHERE contract_id = $3`,
        [message, this.now().toISOString(), id],
        'snapshot_builds',
      );
      await appendAudit(tx, {
        actor: SYSTEM_ACTOR,
        action: 'snapshot.build_failed',
        objectType: 'contract',
        objectId: id,
        reason: message,
        details: { attempts },
      });
    });
  }
}

function describe(err: unknown): string {
  if (err instanceof PdsError) return `${err.code}: ${err.detail}`;
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
