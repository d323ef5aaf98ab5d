import path from 'node:path';
import { appendAudit, SYSTEM_ACTOR } from '../audit/index.ts';
import { actorOf, canSeeOperatorWork, type ContractJobs, type ContractService, type Principal } from '../contracts/index.ts';
import type { Actor } from '../audit/index.ts';
import { isPdsError, PdsError, type ErrorCode } from '../errors/index.ts';
import { newId } from '../ids/index.ts';
import type { KeyRing } from '../keys/index.ts';
import { PRIVACY_UNIT_COLUMN } from '../masking/index.ts';
import type { Policies } from '../policies/index.ts';
import type { SqlParser } from '../sandbox/index.ts';
import type { Store, Tx } from '../store/index.ts';
import type { Executor } from './executor.ts';
import { sha256, type OutputService } from './outputs.ts';
import { disclose } from './pipeline.ts';
import { assertBudget, charge, refund } from './ledger.ts';
import { executeRun, runError, type RunError, type RunOutcome, type RunSpec } from './runs.ts';

export type JobStatus = 'queued' | 'running' | 'rejected' | 'held' | 'released' | 'failed' | 'cancelled';

export interface JobReason {
  code: ErrorCode;
  message: string;
  /** The sandbox layer that stopped the job (analysis, engine, process, disclosure), when one did. */
  layer?: string;
  /** The named SQL rule a static-analysis refusal cites. */
  rule?: string;
}

export interface JobView {
  id: string;
  contractId: string;
  name: string | null;
  status: JobStatus;
  reasons: JobReason[];
  outputId: string | null;
  /** Runs so far: more than one after an infrastructure failure was retried. */
  attempts: number;
  submittedBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}


/** Infrastructure failures: the job is run again, after a growing wait; a refusal never is. */
const RETRIED: ErrorCode[] = ['ERR_SANDBOX_FAILURE', 'ERR_INTERNAL'];

/**
 * A job ends `rejected` when its query or output is refused (the operator's doing, never retried)
 * and `failed` when it could not run: an infrastructure fault, or a contract that is no longer
 * valid when the job's turn comes (DESIGN §4.4: checked right before each run).
 */
const FAILED: ErrorCode[] = [
  'ERR_SANDBOX_FAILURE', 'ERR_INTERNAL', 'ERR_SNAPSHOT_MISMATCH',
  'ERR_CONTRACT_SUSPENDED', 'ERR_CONTRACT_REVOKED', 'ERR_CONTRACT_EXPIRED', 'ERR_CONTRACT_NOT_YET_VALID',
  'ERR_CONTRACT_INVALID', 'ERR_CONTRACT_SIGNATURE_INVALID', 'ERR_CONTRACT_KEY_UNKNOWN', 'ERR_CONTRACT_ALG_NOT_ALLOWED',
];

type Row = Record<string, string | number | null>;

export interface SubmitInput {
  contractId: string;
  sql: string;
  name?: string;
  dp?: { bounds: Record<string, [number, number]> };
}

export interface JobServiceDeps {
  store: Store;
  keys: KeyRing;
  policies: Policies;
  contracts: ContractService;
  executor: Executor;
  outputs: OutputService;
  parser: SqlParser;
  /** Told of unexpected (non-PdsError) faults, for the log. */
  onError?: (jobId: string, err: unknown) => void;
  dataDir: string;
  now?: () => Date;
}

/** Jobs from submission to release: the sandbox run, disclosure control, output and manifest. */
export class JobService implements ContractJobs {
  private readonly now: () => Date;

  constructor(private readonly deps: JobServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Jobs not finished, for the BullMQ executor's reconciliation with the queue. */
  async unfinished(): Promise<{ id: string; status: 'queued' | 'running'; startedAt: string | null }[]> {
    const rows = await this.deps.store.all<{ id: string; status: 'queued' | 'running'; started_at: string | null }>(`SELECT id, status, started_at FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at`);
    return rows.map((r) => ({ id: r.id, status: r.status, startedAt: r.started_at }));
  }

  /** Puts jobs left `running` by a previous process back in the queue, and hands every queued job to the executor. */
  async recover(): Promise<number> {
    const requeued = await this.deps.store.write(async (tx) => {
      const stuck = await tx.all<{ id: string }>(`SELECT id FROM jobs WHERE status = 'running'`);
      for (const { id } of stuck) {
        await tx.run(`UPDATE jobs SET status = 'queued', started_at = NULL WHERE id = $1`, [id]);
        await appendAudit(tx, { actor: SYSTEM_ACTOR, action: 'job.requeued', objectType: 'job', objectId: id, reason: 'found running at start-up' });
      }
      return stuck.length;
    });
    const queued = await this.deps.store.all<{ id: string }>(`SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at`);
    for (const { id } of queued) await this.deps.executor.enqueue(id);
    return requeued;
  }

  /**
   * Queues a job. With an idempotency key, a retried submission (same operator organisation, same
   * key, same request) returns the job the first one created, whatever happened to the answer in
   * between; the same key with a different request is refused.
   */
  async submit(p: Principal, input: SubmitInput, opts: { requestId?: string; idempotencyKey?: string } = {}): Promise<{ job: JobView; created: boolean }> {
    try {
      return await this.queue(p, input, opts);
    } catch (err) {
      if (isPdsError(err)) await this.recordRefusal(p, input, err, opts.requestId);
      throw err;
    }
  }

  /**
   * A submission refused before a job existed (suspended contract, quota, budget, someone else's
   * contract, …) is recorded too: probing a contract one may not use is exactly what risk staff
   * look for (seed 004 第四十九条: traceable). The SQL is kept as its hash only.
   */
  private async recordRefusal(p: Principal, input: SubmitInput, err: PdsError, requestId?: string): Promise<void> {
    await this.deps.store.write((tx) => appendAudit(tx, {
      actor: actorOf(p, 'operator'), action: 'job.submission_refused', objectType: 'contract', objectId: input.contractId, requestId, reason: err.detail,
      details: { code: err.code, sqlSha256: sha256(input.sql) },
    })).catch((e: unknown) => this.deps.onError?.('-', e));
  }

  private async queue(p: Principal, input: SubmitInput, opts: { requestId?: string; idempotencyKey?: string }): Promise<{ job: JobView; created: boolean }> {
    const contract = await this.deps.contracts.assertOperatorContract(p, input.contractId);
    if (input.dp && contract.claims.mode !== 'dp') {
      throw new PdsError('ERR_VALIDATION', `dp parameters are for dp contracts; contract ${contract.id} is in ${contract.claims.mode} mode`, { errors: [{ field: '/body/dp', message: 'only for dp contracts' }] });
    }
    for (const [column, [lo, hi]] of Object.entries(input.dp?.bounds ?? {})) {
      if (lo > hi) throw new PdsError('ERR_VALIDATION', `dp bounds of ${column}: low ${lo} is above high ${hi}`, { errors: [{ field: `/body/dp/bounds/${column}`, message: 'low must not exceed high' }] });
    }
    const budget = contract.claims.privacyBudget;
    // refused early when the budget cannot take one more query; the charge itself is made at claim
    if (contract.claims.mode === 'dp' && budget) await assertBudget(this.deps.store, contract.id, budget.epsilonPerQuery, budget.epsilon);
    const requestSha256 = sha256(JSON.stringify([input.contractId, input.sql, input.name ?? null, input.dp ?? null]));
    const id = newId('job', this.now());
    const { quotas } = this.deps.policies.sandbox;
    const existing = await this.deps.store.write(async (tx) => {
      if (opts.idempotencyKey) {
        const prior = await tx.one<{ id: string; request_sha256: string }>('SELECT id, request_sha256 FROM jobs WHERE operator_org = $1 AND idempotency_key = $2', [p.org, opts.idempotencyKey]);
        if (prior && prior.request_sha256 !== requestSha256) {
          throw new PdsError('ERR_IDEMPOTENCY_MISMATCH', `Idempotency-Key ${opts.idempotencyKey} was first used for a different request (job ${prior.id})`);
        }
        if (prior) return prior.id;
      }
      const now = this.now();
      const [open] = await tx.all<{ n: number }>(`SELECT count(*) AS n FROM jobs WHERE contract_id = $1 AND status IN ('queued', 'running')`, [contract.id]);
      if (Number(open!.n) >= quotas.concurrentJobs) {
        throw new PdsError('ERR_QUOTA_EXCEEDED', `contract ${contract.id} already has ${quotas.concurrentJobs} jobs queued or running; wait for one to finish`, { extra: { retryAfterSeconds: 5 } });
      }
      const dayAgo = new Date(now.getTime() - 86_400_000).toISOString();
      const window = await tx.all<{ created_at: string }>('SELECT created_at FROM jobs WHERE contract_id = $1 AND created_at > $2 ORDER BY created_at', [contract.id, dayAgo]);
      if (window.length >= quotas.jobsPerDay) {
        const freeAt = new Date(window[window.length - quotas.jobsPerDay]!.created_at).getTime() + 86_400_000;
        throw new PdsError('ERR_QUOTA_EXCEEDED', `contract ${contract.id} has submitted ${quotas.jobsPerDay} jobs in the last 24 hours`, {
          extra: { retryAfterSeconds: Math.max(1, Math.ceil((freeAt - now.getTime()) / 1000)) },
        });
      }
      await tx.run(
        `INSERT INTO jobs (id, contract_id, operator_org, submitted_by, name, sql, status, reasons, created_at, idempotency_key, request_sha256, dp_params)
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', '[]', $7, $8, $9, $10)`,
        [id, contract.id, p.org, p.sub, input.name ?? null, input.sql, now.toISOString(), opts.idempotencyKey ?? null, requestSha256, input.dp ? JSON.stringify(input.dp) : null],
      );
      await appendAudit(tx, {
        actor: actorOf(p, 'operator'), action: 'job.submitted', objectType: 'job', objectId: id, requestId: opts.requestId,
        details: { contractId: contract.id, sqlSha256: sha256(input.sql), ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}) },
      });
      return undefined;
    });
    if (existing) return { job: await this.getJob(p, existing), created: false };
    // the store is the truth: a queue that is down now gets the job at its next reconciliation
    await this.deps.executor.enqueue(id).catch((err: unknown) => this.deps.onError?.(id, err));
    return { job: await this.getJob(p, id), created: true };
  }

  private async loadJob(id: string): Promise<(JobView & { operatorOrg: string; sql: string; dp?: { bounds: Record<string, [number, number]> } }) | undefined> {
    const r = await this.deps.store.one<Row>('SELECT * FROM jobs WHERE id = $1', [id]);
    if (!r) return undefined;
    return {
      id, contractId: String(r.contract_id), name: (r.name as string | null) ?? null, status: r.status as JobStatus,
      reasons: JSON.parse(String(r.reasons)) as JobReason[], outputId: (r.output_id as string | null) ?? null, attempts: Number(r.attempts),
      submittedBy: String(r.submitted_by), createdAt: String(r.created_at),
      startedAt: (r.started_at as string | null) ?? null, finishedAt: (r.finished_at as string | null) ?? null,
      operatorOrg: String(r.operator_org), sql: String(r.sql), dp: r.dp_params ? JSON.parse(String(r.dp_params)) as { bounds: Record<string, [number, number]> } : undefined,
    };
  }

  async getJob(p: Principal, id: string): Promise<JobView> {
    const job = await this.loadJob(id);
    if (!job || !canSeeOperatorWork(p, job.operatorOrg)) throw new PdsError('ERR_NOT_FOUND', `job ${id} not found`);
    const { operatorOrg: _o, sql: _s, ...view } = job;
    return view;
  }

  async cancel(p: Principal, id: string, requestId?: string): Promise<JobView> {
    const job = await this.getJob(p, id);
    if (!p.roles.includes('bureau') && !(p.roles.includes('operator'))) throw new PdsError('ERR_AUTH_FORBIDDEN', 'only the operator or the bureau may cancel a job');
    const cancelled = await this.deps.store.write(async (tx) => {
      const cur = await tx.one<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [id]);
      if (cur?.status !== 'queued' && cur?.status !== 'running') return false;
      await tx.run(`UPDATE jobs SET status = 'cancelled', finished_at = $1 WHERE id = $2`, [this.now().toISOString(), id]);
      await refund(tx, id, 'job cancelled: nothing released');
      await appendAudit(tx, { actor: actorOf(p, p.roles.includes('bureau') ? 'bureau' : 'operator'), action: 'job.cancelled', objectType: 'job', objectId: id, requestId });
      return true;
    });
    if (!cancelled) throw new PdsError('ERR_JOB_NOT_CANCELLABLE', `job ${id} is already ${job.status}`);
    this.deps.executor.cancel(id);
    return this.getJob(p, id);
  }

  /** Ends a contract's queued and running jobs inside the contract's status change (ContractJobs). */
  async haltUnfinished(tx: Tx, contractId: string, outcome: { status: 'cancelled' | 'failed'; code: ErrorCode; message: string }, actor: Actor): Promise<string[]> {
    const jobs = await tx.all<{ id: string }>(`SELECT id FROM jobs WHERE contract_id = $1 AND status IN ('queued', 'running') ORDER BY created_at`, [contractId]);
    const reasons = JSON.stringify([{ code: outcome.code, message: outcome.message }]);
    for (const { id } of jobs) {
      await tx.run(`UPDATE jobs SET status = $1, reasons = $2, finished_at = $3 WHERE id = $4`, [outcome.status, reasons, this.now().toISOString(), id]);
      await refund(tx, id, `job ${outcome.status}: nothing released`);
      await appendAudit(tx, { actor, action: `job.${outcome.status}`, objectType: 'job', objectId: id, reason: outcome.message, details: { reasons: [outcome.code], contractId } });
    }
    return jobs.map((j) => j.id);
  }

  /** Interrupts jobs of a halted contract that run on this machine (ContractJobs). */
  interrupt(jobIds: string[]): void {
    for (const id of jobIds) this.deps.executor.cancel(id);
  }

  /**
   * Claims a job for one run, right before it runs (DESIGN §4.4): `queued` → `running`, or a
   * `running` job again when its executor lost it (a worker killed mid-job). The contract is
   * checked now — signature, term, status, snapshot hash — and a job whose contract no longer
   * holds ends `failed`. Answers the run's spec, or undefined when there is nothing to run.
   */
  async claim(jobId: string, opts: { rerun?: boolean; actor?: Actor; requestId?: string } = {}): Promise<RunSpec | undefined> {
    const claimed = await this.deps.store.write(async (tx) => {
      const cur = await tx.one<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [jobId]);
      if (!(cur?.status === 'queued' || (opts.rerun && cur?.status === 'running'))) return false;
      await tx.run(`UPDATE jobs SET status = 'running', started_at = $1, attempts = attempts + 1 WHERE id = $2`, [this.now().toISOString(), jobId]);
      // who took the snapshot into a run: the API's own executor, or the named worker
      await appendAudit(tx, { actor: opts.actor ?? SYSTEM_ACTOR, action: 'job.started', objectType: 'job', objectId: jobId, requestId: opts.requestId, details: { executor: this.deps.executor.kind } });
      return true;
    });
    if (!claimed) return undefined;
    const job = (await this.loadJob(jobId))!;
    try {
      const { claims, snapshotPath } = await this.deps.contracts.contractForRun(job.contractId);
      const { limits } = this.deps.policies.sandbox;
      const dpPolicy = this.deps.policies.disclosure.dp;
      if (claims.mode === 'dp') {
        const budget = claims.privacyBudget!;
        await this.deps.store.write((tx) => charge(tx, {
          contractId: job.contractId, jobId, epsilon: budget.epsilonPerQuery, delta: dpPolicy.delta * dpPolicy.maxGroupsPerUnit, budget: budget.epsilon, at: this.now().toISOString(),
        }));
      }
      const { version: _v, ...functions } = this.deps.policies.sqlAllowlist;
      return {
        jobId, attempt: job.attempts, sql: job.sql, mode: claims.mode,
        policy: {
          tables: Object.fromEntries(Object.entries(claims.snapshot.tables).map(([t, v]) => [t, v.columns])),
          identifierColumns: claims.datasets.flatMap((ds) => ds.columns.filter((c) => c.rule === 'pseudonymize').map((c) => c.column)),
          privacyUnitColumn: PRIVACY_UNIT_COLUMN,
          uniqueUnitTables: Object.entries(claims.snapshot.tables).filter(([, v]) => v.units === v.rows).map(([t]) => t),
          functions,
        },
        snapshot: { contractId: job.contractId, path: snapshotPath, sha256: claims.snapshot.hash },
        limits, maxSqlBytes: limits.maxSqlBytes, dominanceN: this.deps.policies.disclosure.dominance.n,
        ...(claims.mode === 'dp' ? { dp: { bounds: job.dp?.bounds ?? {}, maxGroupsPerUnit: dpPolicy.maxGroupsPerUnit } } : {}),
      };
    } catch (err) {
      await this.complete(jobId, job.attempts, { ok: false, error: runError(err) });
      if (!isPdsError(err)) throw err;
      return undefined;
    }
  }

  /**
   * Records the outcome of one run: disclosure control and the output (here, where releases are
   * signed), or the failure — retried with backoff when it was the infrastructure's. Idempotent:
   * only the run that holds the job `running` with this attempt number counts; a late or
   * duplicate outcome is ignored, so a job re-run after a crash ends in one output at most.
   */
  async complete(jobId: string, attempt: number, outcome: RunOutcome): Promise<void> {
    const job = await this.loadJob(jobId);
    if (!job || job.status !== 'running' || job.attempts !== attempt) return;
    let error: RunError | undefined = outcome.ok ? undefined : outcome.error;
    if (outcome.ok) {
      try {
        const { claims } = await this.deps.contracts.verifiedActive(job.contractId);
        const evaluation = disclose({ analysis: outcome.analysis, result: outcome.result }, {
          minUnits: claims.disclosure.minUnits, maxRows: claims.disclosure.maxRows, roundCountsTo: this.deps.policies.disclosure.roundCountsTo,
          dominance: this.deps.policies.disclosure.dominance,
        }, undefined, claims.privacyBudget ? { epsilon: claims.privacyBudget.epsilonPerQuery, delta: this.deps.policies.disclosure.dp.delta } : undefined);
        await this.deps.outputs.record(job, claims, evaluation, this.now());
        return;
      } catch (err) {
        error = runError(err);
        if (!isPdsError(err)) this.deps.onError?.(jobId, err);
      }
    }
    const e = error!;
    if (RETRIED.includes(e.code) && await this.retry(jobId, attempt, e.message)) return;
    await this.finish(jobId, FAILED.includes(e.code) ? 'failed' : 'rejected', [e]);
  }

  /** Runs one job here, from claim to outcome (the embedded executor's handler). */
  async run(jobId: string, signal: AbortSignal, opts: { rerun?: boolean } = {}): Promise<void> {
    const spec = await this.claim(jobId, opts);
    if (!spec) return;
    let outcome: RunOutcome;
    try {
      outcome = await executeRun(this.deps.parser, spec, path.join(this.deps.dataDir, 'tmp'), signal);
    } catch (err) {
      if (signal.aborted) return; // cancelled: the cancel already recorded the terminal state
      throw err;
    }
    await this.complete(jobId, spec.attempt, outcome);
  }

  /** Puts a job that met an infrastructure failure back in the queue, if it has attempts left. */
  private async retry(jobId: string, attempt: number, why: string): Promise<boolean> {
    const { attempts, backoffMs } = this.deps.policies.sandbox.retries;
    if (attempt >= attempts) return false;
    const requeued = await this.deps.store.write(async (tx) => {
      const cur = await tx.one<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [jobId]);
      if (cur?.status !== 'running') return false;
      await tx.run(`UPDATE jobs SET status = 'queued', started_at = NULL WHERE id = $1`, [jobId]);
      await appendAudit(tx, { actor: SYSTEM_ACTOR, action: 'job.retrying', objectType: 'job', objectId: jobId, reason: why, details: { attempt } });
      return true;
    });
    if (requeued) await this.deps.executor.enqueue(jobId, { delayMs: backoffMs * 2 ** (attempt - 1) });
    return requeued;
  }

  private async finish(jobId: string, status: JobStatus, reasons: JobReason[]): Promise<void> {
    await this.deps.store.write(async (tx) => {
      const cur = await tx.one<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [jobId]);
      if (cur?.status !== 'running') return;
      await tx.run(`UPDATE jobs SET status = $1, reasons = $2, finished_at = $3 WHERE id = $4`, [status, JSON.stringify(reasons), this.now().toISOString(), jobId]);
      await appendAudit(tx, { actor: SYSTEM_ACTOR, action: `job.${status}`, objectType: 'job', objectId: jobId, details: { reasons: reasons.map((r) => r.code) } });
      await refund(tx, jobId, `job ${status}: nothing released`);
    });
  }


}

