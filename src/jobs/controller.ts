import path from 'node:path';
import { queueSeconds, runSeconds } from '../metrics/index.ts';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../audit/index.ts';
import { type ContractService, type VerifiedContract } from '../contracts/index.ts';
import { actorOf, type Principal } from '../auth/index.ts';
import { isPdsError, PdsError, type ErrorCode } from '../errors/index.ts';
import { outputIdFor } from '../ids/index.ts';
import type { Policies } from '../policies/index.ts';
import type { RunOutcome, RunSpec } from '../protocol/index.ts';
import { executeRun, osSandboxStatus, type SchemaBinder, type SqlParser } from '../sandbox/index.ts';
import type { ReadResult, Store, Tx } from '../store/index.ts';
import type { Executor } from './executor.ts';
import {
  loadJob,
  loadRun,
  markReported,
  openRun,
  renewLease,
  transition,
  unfinishedJobs,
  jobsIn,
  reasonOf,
  type JobReason,
  type JobStatus,
  type StoredJob,
  type StoredRun,
} from './job-store.ts';
import { charge, refund } from './ledger.ts';
import { checkOutcome } from './outcome.ts';
import type { OutputService } from '../outputs/index.ts';
import { RunPlanner, type RunPlan } from './plan.ts';
import { prepareRelease, releaseTerms } from './release.ts';
import { SpotChecker } from './spot-check.ts';
import type { WorkerRegistry } from './workers.ts';

/**
 * The controller side of runs (docs/architecture.md, "The run protocol"): it claims a job for an
 * executor — checking the contract, analysing and binding the SQL, charging ε, leasing the run —
 * hands out only what to execute, checks what comes back against its own plan, and makes the one
 * release decision. An executor is the embedded one in this process, or a registered worker.
 */

/** Who runs a job: this process, or a worker identified by its own credential. */
export type Executant =
  | { kind: 'embedded' }
  | {
      kind: 'worker';
      principal: Principal;
      requestId?: string;
      /** What the worker said of its OS layer when it claimed the job (recorded, for the risk reports). */
      osSandbox?: 'bubblewrap' | 'off' | 'unreported';
    };
export const EMBEDDED: Executant = { kind: 'embedded' };

/** Infrastructure failures: the job is run again, after a growing wait; a refusal never is. */
const RETRIED: ErrorCode[] = ['ERR_SANDBOX_FAILURE', 'ERR_INTERNAL'];

/**
 * A job ends `rejected` when its query or output is refused (the operator's doing, never retried)
 * and `failed` when it could not run: an infrastructure fault, a worker's invalid outcome, or a
 * contract that is no longer valid when the job's turn comes (checked right before each run).
 */
const FAILED: ErrorCode[] = [
  'ERR_SANDBOX_FAILURE',
  'ERR_STORAGE_FULL',
  'ERR_INTERNAL',
  'ERR_SNAPSHOT_MISMATCH',
  'ERR_WORKER_OUTCOME_INVALID',
  'ERR_CONTRACT_SUSPENDED',
  'ERR_CONTRACT_REVOKED',
  'ERR_CONTRACT_EXPIRED',
  'ERR_CONTRACT_NOT_YET_VALID',
  'ERR_CONTRACT_INVALID',
  'ERR_CONTRACT_SIGNATURE_INVALID',
  'ERR_CONTRACT_KEY_UNKNOWN',
  'ERR_CONTRACT_ALG_NOT_ALLOWED',
];

/** A job and the run of it an executor holds. */
type HeldRun = { job: StoredJob; run: StoredRun<RunPlan> };

/** How a run ended, when this call ended it. */
type Finished = { status: JobStatus; at: string } | undefined;

/** An embedded run's lease: it is never renewed, and a restart requeues it anyway. */
const EMBEDDED_LEASE_GRACE_MS = 60_000;
/** Rounds of a release whose answers earlier outputs recorded meanwhile changed (another of the operator's jobs). */
const RELEASE_ROUNDS = 5;

export interface RunControllerDeps {
  store: Store;
  policies: Policies;
  contracts: ContractService;
  executor: Executor;
  outputs: OutputService;
  workers: WorkerRegistry;
  parser: SqlParser;
  binder: SchemaBinder;
  dataDir: string;
  /** How long a worker's claim lasts unrenewed. */
  leaseMs: number;
  /** The per-contract key of the record-key hash that picks each cell's noise. */
  cellKeySalt: (contractId: string) => bigint;
  /** Told of unexpected (non-PdsError) faults, for the log. */
  onError?: (jobId: string, err: unknown) => void;
  now?: () => Date;
  /** The planner validate uses too, so a query validated and then submitted is planned once. */
  planner?: RunPlanner;
  /** The spot checks' draw in [0, 1) (default: the CSPRNG; docs/architecture.md §4). */
  spotCheckRandom?: () => number;
}

export class RunController {
  private readonly now: () => Date;
  private readonly planner: RunPlanner;
  private readonly spotCheck: SpotChecker;

  constructor(private readonly deps: RunControllerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.planner = deps.planner ?? new RunPlanner(deps);
    this.spotCheck = new SpotChecker({ ...deps, now: this.now, random: deps.spotCheckRandom });
  }

  private executorName(by: Executant): string {
    return by.kind === 'embedded' ? 'embedded' : by.principal.sub;
  }

  private actor(by: Executant): Actor {
    return by.kind === 'embedded' ? SYSTEM_ACTOR : actorOf(by.principal, 'worker');
  }

  /** Records a worker's refused request, then throws it: a forged or stale call is evidence. */
  private async refuse(
    by: Executant,
    code: ErrorCode,
    message: string,
    jobId: string,
    request: 'claim' | 'renewal' | 'outcome' | 'snapshot',
    extra?: PdsError['extra'],
  ): Promise<never> {
    if (by.kind === 'worker') {
      await this.deps.store.write((tx) =>
        appendAudit(tx, {
          actor: this.actor(by),
          action: 'worker.refused',
          objectType: 'job',
          objectId: jobId,
          requestId: by.requestId,
          reason: message,
          details: { code, request },
        }),
      );
    }
    throw new PdsError(code, message, { extra });
  }

  /** Unfinished jobs with their current lease, for the BullMQ executor's reconciliation. */
  unfinished(): ReturnType<typeof unfinishedJobs> {
    return unfinishedJobs(this.deps.store);
  }

  /** Embedded executor at start-up: runs left `running` by a previous process go back to the queue; every queued job is handed over. */
  async recover(): Promise<number> {
    const requeued = await this.deps.store.write(async (tx) => {
      let n = 0;
      for (const id of await jobsIn(tx, ['running'])) {
        if (
          await transition(
            tx,
            id,
            'requeue',
            { startedAt: null },
            { actor: SYSTEM_ACTOR, action: 'job.requeued', reason: 'found running at start-up' },
          )
        )
          n++;
      }
      return n;
    });
    for (const id of await jobsIn(this.deps.store, ['queued'])) await this.deps.executor.enqueue(id);
    return requeued;
  }

  /** Whether a job may be claimed now: queued, or running on a lease that has expired. */
  private async claimable(
    reader: Pick<Tx, 'one'>,
    job: StoredJob,
    now: Date,
  ): Promise<true | false | { heldUntil: string }> {
    if (job.status === 'queued') return true;
    if (job.status !== 'running') return false;
    const run = await loadRun(reader as Tx, job.id, job.attempts);
    if (!run || run.leaseExpiresAt <= now.toISOString()) return true;
    return { heldUntil: run.leaseExpiresAt };
  }

  /**
   * Claims a job for one run, right before it runs: the contract is checked now (signature,
   * term, status, snapshot hash), the SQL analysed and bound, ε charged, and the run leased to
   * `by`. Answers what to execute, or undefined when there is nothing to run (the job finished,
   * or ended here because its contract or its SQL was refused). A worker must present the job's
   * claim ticket; the embedded executor takes no remote claims; a run whose lease has not
   * expired is not taken from its holder.
   */
  async claim(jobId: string, by: Executant, ticket?: string): Promise<RunSpec | undefined> {
    return (await this.claimRun(jobId, by, ticket))?.spec;
  }

  /** The claim, with the job and run as it left them (the embedded executor keeps them for its outcome). */
  private async claimRun(
    jobId: string,
    by: Executant,
    ticket?: string,
  ): Promise<{ spec: RunSpec; held: HeldRun } | undefined> {
    await this.checkClaimant(jobId, by, ticket);
    const job = await loadJob(this.deps.store, jobId);
    if (!job) return undefined;
    const free = await this.claimable(this.deps.store, job, this.now());
    if (free === false) return undefined;
    if (free !== true) {
      if (by.kind === 'embedded') return undefined;
      await this.refuse(
        by,
        'ERR_WORKER_LEASE_HELD',
        `job ${jobId} is leased to a run until ${free.heldUntil}`,
        jobId,
        'claim',
        { leaseExpiresAt: free.heldUntil },
      );
    }
    let claims: VerifiedContract;
    let snapshotPath: string;
    let plan: RunPlan;
    try {
      ({ claims, snapshotPath } = await this.deps.contracts.contractForRun(job.contractId));
      plan = await this.planner.plan(job, claims);
    } catch (err) {
      await this.endBeforeRun(job, err);
      return undefined;
    }
    const now = this.now();
    const { limits } = this.deps.policies.sandbox;
    const leaseExpiresAt = new Date(
      now.getTime() + (by.kind === 'embedded' ? limits.timeoutMs + EMBEDDED_LEASE_GRACE_MS : this.deps.leaseMs),
    ).toISOString();
    let attempt: number | undefined;
    try {
      attempt = await this.deps.store.write((tx) =>
        this.openAttempt(tx, { job, by, claims, plan, now, leaseExpiresAt }),
      );
    } catch (err) {
      if (!isPdsError(err)) throw err;
      await this.endBeforeRun(job, err); // the ε budget could not take it
      return undefined;
    }
    if (attempt === undefined) return undefined;
    const { maxSqlBytes: _m, ...runLimits } = limits;
    const spec: RunSpec = {
      jobId,
      attempt,
      sql: plan.sql,
      snapshot: { contractId: job.contractId, file: path.basename(snapshotPath), sha256: claims.snapshot.hash },
      limits: runLimits,
      lease: { expiresAt: leaseExpiresAt, renewEveryMs: Math.max(100, Math.floor(this.deps.leaseMs / 3)) },
    };
    const startedAt = now.toISOString();
    return {
      spec,
      held: {
        job: { ...job, status: 'running', attempts: attempt, startedAt },
        run: {
          jobId,
          attempt,
          executor: this.executorName(by),
          plan,
          claimedAt: startedAt,
          leaseExpiresAt,
          reportedAt: null,
        },
      },
    };
  }

  /** A worker's claim needs a remote executor and a valid ticket for the job; refused and recorded otherwise. */
  private async checkClaimant(jobId: string, by: Executant, ticket?: string): Promise<void> {
    if (by.kind === 'worker') {
      if (this.deps.executor.kind === 'embedded') {
        await this.refuse(
          by,
          'ERR_WORKER_CLAIM_REFUSED',
          'this API runs its jobs itself (embedded executor) and takes no remote claims',
          jobId,
          'claim',
        );
      }
      if (!ticket || !this.deps.workers.ticketValid(jobId, ticket))
        await this.refuse(by, 'ERR_WORKER_CLAIM_REFUSED', `no valid claim ticket for job ${jobId}`, jobId, 'claim');
    }
  }

  /**
   * The claim's one transaction: the job still free, ε charged (dp), the job moved to running and
   * its run opened with its plan and lease; answers the attempt, or undefined when another took it.
   */
  private async openAttempt(
    tx: Tx,
    c: { job: StoredJob; by: Executant; claims: VerifiedContract; plan: RunPlan; now: Date; leaseExpiresAt: string },
  ): Promise<number | undefined> {
    const { job, by, claims, plan, now, leaseExpiresAt } = c;
    const jobId = job.id;
    const cur = await loadJob(tx, jobId);
    if (!cur || (await this.claimable(tx, cur, now)) !== true) return undefined;
    if (claims.mode === 'dp') {
      const budget = claims.privacyBudget!;
      const dp = this.deps.policies.disclosure.dp;
      await charge(tx, {
        contractId: job.contractId,
        jobId,
        epsilon: budget.epsilonPerQuery,
        delta: dp.delta * dp.maxGroupsPerUnit,
        budget: budget.epsilon,
        at: now.toISOString(),
      });
    }
    const next = cur.attempts + 1;
    // who took the snapshot into a run: this process, or the named worker
    await transition(
      tx,
      jobId,
      'claim',
      { startedAt: now.toISOString() },
      {
        actor: this.actor(by),
        action: 'job.started',
        requestId: by.kind === 'worker' ? by.requestId : undefined,
        details: {
          executor: this.deps.executor.kind,
          attempt: next,
          ...(by.kind === 'worker' ? { worker: by.principal.sub } : {}),
          // whether the run is confined by the OS layer: the risk reports count those that were not
          osSandbox:
            by.kind === 'worker' ? (by.osSandbox ?? 'unreported') : (osSandboxStatus()?.mode ?? 'unconfigured'),
        },
      },
    );
    await openRun<RunPlan>(tx, {
      jobId,
      attempt: next,
      executor: this.executorName(by),
      plan,
      claimedAt: now.toISOString(),
      leaseExpiresAt,
    });
    return next;
  }

  /** The current run of a job, if `by` holds it; otherwise the refusal, recorded. */
  private async heldRun(
    jobId: string,
    attempt: number,
    by: Executant,
    request: 'renewal' | 'outcome' | 'snapshot',
  ): Promise<HeldRun | undefined> {
    const job = await loadJob(this.deps.store, jobId);
    const run = job ? await loadRun<RunPlan>(this.deps.store, jobId, attempt) : undefined;
    if (!job || !run || run.executor !== this.executorName(by)) {
      if (by.kind === 'embedded') return undefined;
      return this.refuse(
        by,
        'ERR_WORKER_NOT_LEASE_HOLDER',
        `worker ${by.principal.sub} holds no lease on run ${attempt} of job ${jobId}`,
        jobId,
        request,
      );
    }
    return { job, run };
  }

  /**
   * The snapshot a worker needs for the run it holds, for a worker that does not share the API's
   * disk (docs/architecture.md §17): only while it holds the run's lease, only the file whose
   * hash the signed contract pins, and recorded.
   */
  async snapshotForRun(jobId: string, attempt: number, sha256: string, by: Executant): Promise<string> {
    const held = await this.heldRun(jobId, attempt, by, 'snapshot');
    const now = this.now().toISOString();
    if (!held || held.job.status !== 'running' || held.job.attempts !== attempt || held.run.leaseExpiresAt <= now)
      return this.refuse(
        by,
        'ERR_WORKER_NOT_LEASE_HOLDER',
        `run ${attempt} of job ${jobId} is not one this worker holds now`,
        jobId,
        'snapshot',
      );
    const { claims, snapshotPath } = await this.deps.contracts.verifiedActive(held.job.contractId);
    if (claims.snapshot.hash !== sha256)
      return this.refuse(by, 'ERR_NOT_FOUND', `job ${jobId} runs on another snapshot`, jobId, 'snapshot');
    await this.deps.store.write((tx) =>
      appendAudit(tx, {
        actor: this.actor(by),
        action: 'snapshot.fetched',
        objectType: 'contract',
        objectId: held.job.contractId,
        requestId: by.kind === 'worker' ? by.requestId : undefined,
        details: { jobId, attempt, sha256 },
      }),
    );
    return snapshotPath;
  }

  /** Extends a worker's lease on the run it holds; refused once the run is over or taken. */
  async renew(jobId: string, attempt: number, by: Executant): Promise<{ expiresAt: string }> {
    const held = await this.heldRun(jobId, attempt, by, 'renewal');
    if (!held || held.job.status !== 'running' || held.job.attempts !== attempt) {
      return this.refuse(
        by,
        'ERR_WORKER_NOT_LEASE_HOLDER',
        `run ${attempt} of job ${jobId} is over (${held?.job.status ?? 'unknown'}); stop it`,
        jobId,
        'renewal',
      );
    }
    const expiresAt = new Date(this.now().getTime() + this.deps.leaseMs).toISOString();
    await this.deps.store.write((tx) => renewLease(tx, jobId, attempt, expiresAt));
    return { expiresAt };
  }

  /**
   * Takes the outcome of a run from the executor that holds it: checked against the API's plan,
   * then the one release decision, or the failure (retried when it was the infrastructure's).
   * Idempotent: a duplicate of an outcome already taken, or one for a job cancelled meanwhile, is
   * accepted and changes nothing; one for a run taken over after its lease expired is refused.
   */
  async report(jobId: string, attempt: number, outcome: RunOutcome, by: Executant): Promise<void> {
    const held = await this.heldRun(jobId, attempt, by, 'outcome');
    if (!held || held.run.reportedAt || held.job.status !== 'running') return;
    await this.reportHeld(held, outcome, by);
  }

  /**
   * The outcome of a run `by` holds. Every step that ends it checks the job's state again in its
   * own transaction, so the held job and run may be as the claim left them.
   */
  private async reportHeld(held: HeldRun, outcome: RunOutcome, by: Executant): Promise<void> {
    const finished = await this.recordOutcome(held, held.run.attempt, outcome, by);
    if (!finished) return;
    // a finished run's queue and run time in the metrics, from the times the store recorded
    const { job, run } = held;
    const { mode } = run.plan;
    const ms = (a: string, b: string) => Math.max(0, Date.parse(b) - Date.parse(a)) / 1000;
    queueSeconds.observe({ mode }, ms(job.createdAt, run.claimedAt));
    runSeconds.observe({ mode, status: finished.status }, ms(run.claimedAt, finished.at));
  }

  private async recordOutcome(held: HeldRun, attempt: number, outcome: RunOutcome, by: Executant): Promise<Finished> {
    const { job, run } = held;
    const jobId = job.id;
    if (job.attempts !== attempt) {
      if (by.kind === 'embedded') return;
      await this.refuse(
        by,
        'ERR_WORKER_NOT_LEASE_HOLDER',
        `job ${jobId} was run again (run ${job.attempts}) after the lease of run ${attempt} expired`,
        jobId,
        'outcome',
      );
    }
    let checked: ReturnType<typeof checkOutcome>;
    try {
      checked = checkOutcome(run.plan, this.deps.policies.sandbox.limits, outcome);
    } catch (err) {
      // nothing of a forged or broken outcome is used: the job fails, the refusal is evidence
      await this.finish(jobId, attempt, 'failed', [reasonOf(err)]);
      return this.refuse(by, 'ERR_WORKER_OUTCOME_INVALID', (err as PdsError).detail, jobId, 'outcome');
    }
    // a remote result is released only unpicked, or re-executed here and the same (docs/architecture.md §4)
    const e =
      'failure' in checked
        ? checked.failure
        : by.kind === 'worker'
          ? await this.spotChecked(held, checked.result, by.principal.sub)
          : undefined;
    if (e === 'duplicate') return undefined; // another outcome of this run was taken first
    if (e) {
      if (RETRIED.includes(e.code) && (await this.retry(jobId, attempt, e.message))) return undefined;
      return this.finish(jobId, attempt, FAILED.includes(e.code) ? 'failed' : 'rejected', [e]);
    }
    return this.release(job, run, (checked as { result: ReadResult }).result);
  }

  /**
   * The spot check of a worker's result: nothing when it may be released; why not when the check
   * could not be made (retried like a fault); `duplicate` when another outcome of the run was
   * taken first; a caught forgery is recorded there and refused here.
   */
  private async spotChecked(
    held: HeldRun,
    result: ReadResult,
    workerId: string,
  ): Promise<JobReason | 'duplicate' | undefined> {
    let verdict: Awaited<ReturnType<SpotChecker['verify']>>;
    try {
      verdict = await this.spotCheck.verify(held.job, held.run, result, workerId);
    } catch (err) {
      if (!isPdsError(err)) this.deps.onError?.(held.job.id, err);
      return reasonOf(err);
    }
    if (verdict.verdict === 'duplicate') return 'duplicate';
    if (verdict.verdict === 'inconclusive') return verdict.reason;
    if (verdict.verdict === 'mismatched')
      throw new PdsError(
        'ERR_WORKER_OUTCOME_MISMATCH',
        `your result for run ${held.run.attempt} of job ${held.job.id} differs from the API's own run of it; this credential is revoked`,
      );
    return undefined;
  }

  /**
   * Refuses an outcome that does not follow the protocol's schema (fields it does not have, such
   * as an analysis or a dp plan): recorded, and the run it names fails if this worker holds it.
   */
  async refuseOutcome(body: unknown, by: Executant, why: string): Promise<never> {
    const { jobId, attempt } = (typeof body === 'object' && body !== null ? body : {}) as {
      jobId?: unknown;
      attempt?: unknown;
    };
    const id = typeof jobId === 'string' && /^job_[a-z0-9]{8,40}$/.test(jobId) ? jobId : 'unknown';
    if (id !== 'unknown' && Number.isInteger(attempt)) {
      const job = await loadJob(this.deps.store, id);
      const run = job ? await loadRun<RunPlan>(this.deps.store, id, attempt as number) : undefined;
      if (job && run && run.executor === this.executorName(by) && job.attempts === attempt && !run.reportedAt) {
        await this.finish(id, attempt as number, 'failed', [
          { code: 'ERR_WORKER_OUTCOME_INVALID', message: 'the executor handed back an outcome off the run protocol' },
        ]);
      }
    }
    return this.refuse(
      by,
      'ERR_WORKER_OUTCOME_INVALID',
      `the outcome does not follow the run protocol: ${why}`,
      id,
      'outcome',
    );
  }

  /**
   * The release decision, completed and recorded with the output in one transaction (it sees
   * every earlier output). What does not depend on earlier outputs — disclosure control, noise,
   * the output's files — is done before, so the store's one writer is held only for the record.
   */
  private async release(
    job: StoredJob,
    run: StoredRun<RunPlan>,
    result: { columns: { name: string; type: string }[]; rows: import('../store/index.ts').JsonValue[][] },
  ): Promise<Finished> {
    const at = this.now().toISOString();
    const file = this.deps.outputs.fileFor(outputIdFor(job.id));
    let kept = false;
    try {
      const { claims } = await this.deps.contracts.verifiedActive(job.contractId);
      // cells are answered from the earlier outputs read here; should an output recorded meanwhile
      // change an answer, the transaction finds the decision stale and it is prepared again
      for (let round = 1; ; round++) {
        const status = await this.releaseOnce(job, run, result, claims, file, at);
        if (status !== 'stale') {
          kept = status === 'released' || status === 'held';
          return status && { status, at };
        }
        this.deps.outputs.discard(file);
        if (round >= RELEASE_ROUNDS)
          throw new PdsError('ERR_INTERNAL', `job ${job.id}: earlier outputs kept changing its answers`);
      }
    } catch (err) {
      if (!isPdsError(err)) this.deps.onError?.(job.id, err);
      const e = reasonOf(err);
      return this.finish(job.id, run.attempt, FAILED.includes(e.code) ? 'failed' : 'rejected', [e]);
    } finally {
      if (!kept) this.deps.outputs.discard(file);
    }
  }

  /** One round of the release: prepared against the earlier outputs as read now, completed in the transaction. */
  private async releaseOnce(
    job: StoredJob,
    run: StoredRun<RunPlan>,
    result: { columns: { name: string; type: string }[]; rows: import('../store/index.ts').JsonValue[][] },
    claims: VerifiedContract,
    file: string,
    at: string,
  ): Promise<JobStatus | 'stale' | undefined> {
    {
      const earlier = await this.deps.outputs.fingerprints(this.deps.store, job.operatorOrg, job.contractId);
      const prepared = prepareRelease({
        plan: run.plan,
        result,
        terms: releaseTerms(claims, this.deps.policies),
        earlier,
      });
      const { provisional } = prepared;
      const forms =
        provisional.decision === 'refused'
          ? undefined
          : await this.deps.outputs.keep(file, provisional.columns, provisional.rows);
      return await this.deps.store.write(async (tx): Promise<JobStatus | 'stale' | undefined> => {
        const cur = await loadJob(tx, job.id);
        if (cur?.status !== 'running' || cur.attempts !== run.attempt) return undefined; // cancelled or halted meanwhile: nothing leaves
        await markReported(tx, job.id, run.attempt, at);
        // the last word on the contract is inside the release transaction: a revocation that
        // committed while the query ran stops the release
        await this.deps.contracts.assertActive(tx, job.contractId);
        const decision = prepared.complete(await this.deps.outputs.fingerprints(tx, job.operatorOrg, job.contractId));
        if (decision === 'stale') return 'stale';
        if (decision.decision === 'refused') {
          await transition(
            tx,
            job.id,
            'refuseRun',
            {
              reasons: [
                {
                  code: 'ERR_DISCLOSURE_REFUSED',
                  message: decision.reasons.join('; '),
                  layer: 'disclosure',
                  rule: decision.refusedBy ?? 'disclosure',
                },
              ],
              finishedAt: at,
            },
            { actor: SYSTEM_ACTOR, details: { reasons: ['ERR_DISCLOSURE_REFUSED'] } },
          );
          // no refund: the data was read, and whether it was refused can depend on it
          return 'rejected';
        }
        if (!forms)
          throw new PdsError(
            'ERR_INTERNAL',
            `job ${job.id}: an output decided ${decision.decision} was refused before`,
          );
        await this.deps.outputs.record(tx, { job, claims, decision, at, ranBy: run.executor, file, forms });
        return decision.decision;
      });
    }
  }

  /** Runs one job here, from claim to outcome (the embedded executor's handler). */
  async runHere(jobId: string, signal: AbortSignal): Promise<void> {
    const claimed = await this.claimRun(jobId, EMBEDDED);
    if (!claimed) return;
    const { spec, held } = claimed;
    let outcome: RunOutcome;
    try {
      outcome = await executeRun(spec, {
        dataDir: this.deps.dataDir,
        tmpDir: path.join(this.deps.dataDir, 'tmp'),
        signal,
      });
    } catch (err) {
      if (signal.aborted) return; // cancelled: the cancel already recorded the terminal state
      throw err;
    }
    await this.reportHeld(held, outcome, EMBEDDED);
  }

  /** A job that ends before it runs: its contract or its SQL was refused at the claim. */
  private async endBeforeRun(job: StoredJob, err: unknown): Promise<void> {
    if (!isPdsError(err)) this.deps.onError?.(job.id, err);
    const e = reasonOf(err);
    const status: JobStatus = FAILED.includes(e.code) ? 'failed' : 'rejected';
    await this.deps.store.write(async (tx) => {
      if (
        await transition(
          tx,
          job.id,
          status === 'failed' ? 'fail' : 'reject',
          { reasons: [e], finishedAt: this.now().toISOString() },
          { actor: SYSTEM_ACTOR, details: { reasons: [e.code] } },
        )
      ) {
        await refund(tx, job.id, `job ${status}: nothing released`);
      }
    });
  }

  /** Puts a job that met an infrastructure failure back in the queue, if it has attempts left. */
  private async retry(jobId: string, attempt: number, why: string): Promise<boolean> {
    const { attempts, backoffMs } = this.deps.policies.sandbox.retries;
    if (attempt >= attempts) return false;
    const requeued = await this.deps.store.write(async (tx) => {
      await markReported(tx, jobId, attempt, this.now().toISOString());
      return transition(
        tx,
        jobId,
        'requeue',
        { startedAt: null },
        { actor: SYSTEM_ACTOR, action: 'job.retrying', reason: why, details: { attempt } },
      );
    });
    if (requeued) await this.deps.executor.enqueue(jobId, { delayMs: backoffMs * 2 ** (attempt - 1) });
    return requeued;
  }

  private async finish(
    jobId: string,
    attempt: number,
    status: 'failed' | 'rejected',
    reasons: JobReason[],
  ): Promise<Finished> {
    const at = this.now().toISOString();
    const moved = await this.deps.store.write(async (tx) => {
      await markReported(tx, jobId, attempt, at);
      // ε stays charged: the run read the data, and how it ended could depend on one person's row
      return transition(
        tx,
        jobId,
        status === 'failed' ? 'failRun' : 'refuseRun',
        { reasons, finishedAt: at },
        { actor: SYSTEM_ACTOR, details: { reasons: reasons.map((r) => r.code) } },
      );
    });
    return moved ? { status, at } : undefined;
  }
}
