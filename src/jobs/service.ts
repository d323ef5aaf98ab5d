import { appendAudit } from '../audit/index.ts';
import { type ContractJobs, type ContractService } from '../contracts/index.ts';
import { actorOf, canSeeOperatorWork, type Principal } from '../auth/index.ts';
import type { Actor } from '../audit/index.ts';
import { sha256 } from '../digest/index.ts';
import { isPdsError, PdsError, type ErrorCode } from '../errors/index.ts';
import { newId } from '../ids/index.ts';
import type { Policies } from '../policies/index.ts';
import type { Store, Tx } from '../store/index.ts';
import type { SandboxLimits } from '../sandbox/index.ts';
import { addComment, listComments, runOnDummyData, type Comment, type DummyRun } from '../outputs/index.ts';
import type { Executor } from './executor.ts';
import {
  insertJob,
  jobsIn,
  listJobs,
  loadJob,
  reasonOf,
  transition,
  UNFINISHED,
  type JobFilter,
  type JobReason,
  type JobStatus,
  type StoredJob,
} from './job-store.ts';
import type { DpOptions } from './job-store.ts';
import { account, assertBudget, MICRO, toMicro, type Budget } from './ledger.ts';
import { previewDp, type DpPreview } from '../disclosure/index.ts';
import { resultColumns, type RunPlan, type RunPlanner } from './plan.ts';
import { categorize } from '../policies/index.ts';

export type { JobReason, JobStatus } from './job-store.ts';

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

/** What a preview answers: the validation, the account, and for a valid dp query its price. */
export interface Preview {
  validation: Validation;
  budget: Budget;
  dp: (DpPreview & { remainingAfter: number; affordable: boolean }) | null;
}

/** What `validate` answers: the reasons a submission would be refused with, or what it would produce. */
export interface Validation {
  valid: boolean;
  mode: string;
  reasons: JobReason[];
  /** When valid: the snapshot tables it reads and the columns (name, type) it returns. */
  tables?: string[];
  columns?: { name: string; type: string }[];
}

export interface SubmitInput {
  contractId: string;
  sql: string;
  name?: string;
  /** The job whose output the reviewers sent back (changes-requested) that this one revises. */
  revisionOf?: string;
  dp?: DpOptions;
  /** The published template the SQL was bound from, and its parameters (recorded in the audit entry). */
  template?: { id: string; parameters: Record<string, string | number> };
}

export interface JobServiceDeps {
  store: Store;
  policies: Policies;
  contracts: ContractService;
  executor: Executor;
  /** Analyses SQL for `validate` exactly as a claim does. */
  planner: RunPlanner;
  /** Told of unexpected (non-PdsError) faults, for the log. */
  onError?: (jobId: string, err: unknown) => void;
  now?: () => Date;
  /** Where a dummy run's scratch files go, and the sandbox's limits for it. */
  dataDir: string;
  limits: SandboxLimits;
  /** Free space DATA_DIR keeps (config MIN_FREE_MB): no dummy run below it. */
  minFreeBytes?: number;
}

/**
 * Jobs as their operators and the bureau see them: submission (quotas, idempotency, the ε budget
 * check), views, cancellation, and halting a contract's jobs. Running them is the RunController's.
 */
/** Rows of a dummy run shown to the operator. */
const DUMMY_RUN_ROWS = 50;

export class JobService implements ContractJobs {
  private readonly now: () => Date;

  constructor(private readonly deps: JobServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Queues a job. With an idempotency key, a retried submission (same operator organisation, same
   * key, same request) returns the job the first one created, whatever happened to the answer in
   * between; the same key with a different request is refused.
   */
  async submit(
    p: Principal,
    input: SubmitInput,
    opts: { requestId?: string; idempotencyKey?: string } = {},
  ): Promise<{ job: JobView; created: boolean }> {
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
    await this.deps.store
      .write((tx) =>
        appendAudit(tx, {
          actor: actorOf(p, 'operator'),
          action: 'job.submission_refused',
          objectType: 'contract',
          objectId: input.contractId,
          requestId,
          reason: err.detail,
          details: { code: err.code, sqlSha256: sha256(input.sql) },
        }),
      )
      .catch((e: unknown) => this.deps.onError?.('-', e));
  }

  private async queue(
    p: Principal,
    input: SubmitInput,
    opts: { requestId?: string; idempotencyKey?: string },
  ): Promise<{ job: JobView; created: boolean }> {
    const contract = await this.deps.contracts.assertOperatorContract(p, input.contractId);
    this.checkDpParameters(input, contract.id, contract.claims.mode);
    const budget = contract.claims.privacyBudget;
    // refused early when the budget cannot take one more query; the charge itself is made at claim
    if (contract.claims.mode === 'dp' && budget)
      await assertBudget(this.deps.store, contract.id, budget.epsilonPerQuery, budget.epsilon);
    const requestSha256 = sha256(
      JSON.stringify([
        input.contractId,
        input.sql,
        input.name ?? null,
        input.dp ?? null,
        input.revisionOf ?? null,
        ...(input.template ? [input.template] : []),
      ]),
    );
    const id = newId('job', this.now());
    const { quotas } = this.deps.policies.sandbox;
    const stored = await this.deps.store.write(async (tx) => {
      if (opts.idempotencyKey) {
        const existing = await priorRequest(tx, p.org, opts.idempotencyKey, requestSha256);
        if (existing) return { existing };
      }
      if (input.revisionOf) await assertRevisable(tx, p, contract.id, input.revisionOf);
      const now = this.now();
      await assertQuotas(tx, contract.id, quotas, now);
      return insertJob(
        tx,
        {
          id,
          contractId: contract.id,
          operatorOrg: p.org,
          submittedBy: p.sub,
          name: input.name ?? null,
          sql: input.sql,
          createdAt: now.toISOString(),
          idempotencyKey: opts.idempotencyKey ?? null,
          requestSha256,
          dp: input.dp ?? null,
          revisionOf: input.revisionOf ?? null,
        },
        {
          actor: actorOf(p, 'operator'),
          requestId: opts.requestId,
          details: {
            contractId: contract.id,
            sqlSha256: sha256(input.sql),
            ...(input.revisionOf ? { revisionOf: input.revisionOf } : {}),
            ...(input.template ? { template: input.template } : {}),
            ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
          },
        },
      );
    });
    if ('existing' in stored) return { job: await this.getJob(p, stored.existing), created: false };
    // the store is the truth: a queue that is down now gets the job at its next reconciliation
    await this.deps.executor.enqueue(id).catch((err: unknown) => this.deps.onError?.(id, err));
    return { job: JobService.view(stored), created: true };
  }

  async getJob(p: Principal, id: string): Promise<JobView> {
    const job = await loadJob(this.deps.store, id);
    if (!job || !canSeeOperatorWork(p, job.operatorOrg)) throw new PdsError('ERR_NOT_FOUND', `job ${id} not found`);
    return JobService.view(job);
  }

  /**
   * One page of the jobs this principal may see, newest first: an operator its organisation's, the
   * bureau and risk staff every job. `before` is the last id of the previous page.
   */
  async listJobs(
    p: Principal,
    filter: Omit<JobFilter, 'operatorOrg'>,
  ): Promise<{ jobs: JobView[]; next: string | null }> {
    const everyone = p.roles.includes('bureau') || p.roles.includes('risk');
    const jobs = await listJobs(this.deps.store, { ...filter, ...(everyone ? {} : { operatorOrg: p.org }) });
    return {
      jobs: jobs.map((j) => JobService.view(j)),
      next: jobs.length === filter.limit ? jobs.at(-1)!.id : null,
    };
  }

  /**
   * Analyses SQL as a claim would (the same analysis, rewrite and binding, the same reasons) and
   * runs nothing, reads no data and creates no job. A syntax or binder error is the operator's
   * draft; an escape or singling-out attempt is audited (job.validation_refused) and counted in
   * the risk reports as one submitted would be.
   */
  async validate(p: Principal, input: Omit<SubmitInput, 'name'>, requestId?: string): Promise<Validation> {
    return (await this.analyse(p, input, requestId)).validation;
  }

  /** A job's dp parameters, at the edge: only for dp contracts, bounds in order, contribution bounds within the policy's ceilings. */
  private checkDpParameters(input: Pick<SubmitInput, 'dp'>, contractId: string, mode: string): void {
    if (input.dp && mode !== 'dp') {
      throw new PdsError(
        'ERR_VALIDATION',
        `dp parameters are for dp contracts; contract ${contractId} is in ${mode} mode`,
        { errors: [{ field: '/body/dp', message: 'only for dp contracts' }] },
      );
    }
    for (const [column, [lo, hi]] of Object.entries(input.dp?.bounds ?? {})) {
      if (lo > hi)
        throw new PdsError('ERR_VALIDATION', `dp bounds of ${column}: low ${lo} is above high ${hi}`, {
          errors: [{ field: `/body/dp/bounds/${column}`, message: 'low must not exceed high' }],
        });
    }
    const ceilings = this.deps.policies.disclosure.dp;
    for (const [field, ceiling] of [
      ['maxGroupsPerUnit', ceilings.maxGroupsPerUnitCeiling ?? ceilings.maxGroupsPerUnit],
      ['maxRowsPerUnit', ceilings.maxRowsPerUnitCeiling ?? ceilings.maxRowsPerUnit ?? 1],
    ] as const) {
      const asked = input.dp?.[field];
      if (asked !== undefined && asked > ceiling)
        throw new PdsError('ERR_VALIDATION', `dp ${field} ${asked} is above the policy's ceiling of ${ceiling}`, {
          errors: [{ field: `/body/dp/${field}`, message: `at most ${ceiling} (policies/disclosure.yaml dp)` }],
        });
    }
  }

  /** validate's analysis, with the plan it made when the SQL is valid (preview prices from it). */
  private async analyse(
    p: Principal,
    input: Omit<SubmitInput, 'name'>,
    requestId?: string,
  ): Promise<{ validation: Validation; plan?: RunPlan }> {
    await this.deps.contracts.assertOperatorContract(p, input.contractId);
    const { claims } = await this.deps.contracts.verifiedActive(input.contractId);
    this.checkDpParameters(input, input.contractId, claims.mode);
    try {
      const plan = await this.deps.planner.plan({ sql: input.sql, dp: input.dp, contractId: input.contractId }, claims);
      const validation: Validation = {
        valid: true,
        mode: claims.mode,
        reasons: [],
        tables: plan.tables,
        columns: resultColumns(plan),
      };
      return { validation, plan };
    } catch (err) {
      if (!isPdsError(err)) throw err;
      const reason = reasonOf(err);
      const category = categorize(reason, this.deps.policies.workflow.reports);
      if (category === 'escape' || category === 'singling-out') {
        await this.deps.store.write((tx) =>
          appendAudit(tx, {
            actor: actorOf(p, 'operator'),
            action: 'job.validation_refused',
            objectType: 'contract',
            objectId: input.contractId,
            requestId,
            reason: reason.message,
            details: {
              code: reason.code,
              ...(reason.layer ? { layer: reason.layer } : {}),
              ...(reason.rule ? { rule: reason.rule } : {}),
              sqlSha256: sha256(input.sql),
            },
          }),
        );
      }
      return { validation: { valid: false, mode: claims.mode, reasons: [reason] } };
    }
  }

  private static view(job: StoredJob): JobView {
    const { operatorOrg: _o, sql: _s, dp: _d, ...view } = job;
    return view;
  }

  async cancel(p: Principal, id: string, requestId?: string): Promise<JobView> {
    const job = await this.getJob(p, id);
    if (!p.roles.includes('bureau') && !p.roles.includes('operator'))
      throw new PdsError('ERR_AUTH_FORBIDDEN', 'only the operator or the bureau may cancel a job');
    const cancelled = await this.deps.store.write(async (tx) => {
      const actor = actorOf(p, p.roles.includes('bureau') ? 'bureau' : 'operator');
      if (!(await transition(tx, id, 'cancel', { finishedAt: this.now().toISOString() }, { actor, requestId })))
        return false;
      // a queued job holds no ε charge (it is charged at the claim); a running one keeps it: it read data
      return true;
    });
    if (!cancelled) throw new PdsError('ERR_JOB_NOT_CANCELLABLE', `job ${id} is already ${job.status}`);
    this.deps.executor.cancel(id);
    return this.getJob(p, id);
  }

  /**
   * A contract's ε account (docs/architecture.md §13): its budget for the term, what is spent, what
   * is left, the fixed charge of one query, and the latest charges. Null figures for a contract
   * not in dp mode.
   */
  async budget(p: Principal, contractId: string): Promise<Budget> {
    const { claims } = await this.deps.contracts.getContract(p, contractId);
    return account(this.deps.store, contractId, claims.mode, claims.privacyBudget);
  }

  /**
   * A dp query's price before it is spent: validated as a submission would be (the same reasons,
   * the same audit of escape attempts), then the ε it will be charged, what is left after it, and
   * each measure's noise scale and 95 % error (disclosure previewDp: the scales the release uses).
   * Nothing runs, nothing is read, nothing is charged.
   */
  async preview(p: Principal, input: Omit<SubmitInput, 'name'>, requestId?: string): Promise<Preview> {
    const { validation, plan } = await this.analyse(p, input, requestId);
    const budget = await this.budget(p, input.contractId);
    if (!plan?.dp || budget.epsilon === null) return { validation, budget, dp: null };
    const dp = this.deps.policies.disclosure.dp;
    const preview = previewDp(plan.dp, { epsilon: budget.epsilonPerQuery!, delta: dp.delta });
    return {
      validation,
      budget,
      dp: {
        ...preview,
        remainingAfter: Math.max(0, (toMicro(budget.remaining!) - toMicro(preview.epsilon)) / MICRO),
        affordable: toMicro(preview.epsilon) <= toMicro(budget.remaining!),
      },
    };
  }

  /**
   * SQL run on the contract's dummy data in the sandbox, after the same analysis as a submission:
   * the operator sees the shape of the answer on invented rows. No job is made, nothing is
   * charged, nothing real is read (the dummy rows share the snapshot's schema, not its values).
   */
  async dummyRun(
    p: Principal,
    input: Omit<SubmitInput, 'name'>,
    requestId?: string,
  ): Promise<{ validation: Validation; dummy: DummyRun | null }> {
    const { validation } = await this.analyse(p, input, requestId);
    if (!validation.valid) return { validation, dummy: null };
    const dummy = await runOnDummyData(
      {
        contracts: this.deps.contracts,
        dataDir: this.deps.dataDir,
        limits: this.deps.limits,
        minFreeBytes: this.deps.minFreeBytes ?? 0,
      },
      p,
      input.contractId,
      input.sql,
      DUMMY_RUN_ROWS,
    );
    return { validation, dummy };
  }

  /** A job's thread (thread.ts): its operator, the bureau and risk staff read it. */
  async thread(p: Principal, id: string): Promise<Comment[]> {
    await this.getJob(p, id);
    return listComments(this.deps.store, id);
  }

  /** A reply in a job's thread, by its operator or a bureau user; audited. */
  async comment(p: Principal, id: string, body: string, requestId?: string): Promise<Comment> {
    await this.getJob(p, id);
    const role = p.roles.includes('bureau') ? 'bureau' : p.roles.includes('operator') ? 'operator' : undefined;
    if (!role) throw new PdsError('ERR_AUTH_FORBIDDEN', "only the job's operator or the bureau write in its thread");
    return this.deps.store.write(async (tx) => {
      const comment = await addComment(tx, id, {
        author: p.sub,
        org: p.org,
        role,
        body,
        createdAt: this.now().toISOString(),
      });
      await appendAudit(tx, {
        actor: actorOf(p, role),
        action: 'job.commented',
        objectType: 'job',
        objectId: id,
        requestId,
        details: { seq: comment.seq, bodySha256: sha256(body) },
      });
      return comment;
    });
  }

  /** Ends a contract's queued and running jobs inside the contract's status change (ContractJobs). */
  async haltUnfinished(
    tx: Tx,
    contractId: string,
    outcome: { status: 'cancelled' | 'failed'; code: ErrorCode; message: string },
    actor: Actor,
  ): Promise<string[]> {
    const halted: string[] = [];
    for (const id of await jobsIn(tx, UNFINISHED, contractId)) {
      const reasons = [{ code: outcome.code, message: outcome.message }];
      if (
        !(await transition(
          tx,
          id,
          outcome.status === 'failed' ? 'fail' : 'cancel',
          { reasons, finishedAt: this.now().toISOString() },
          { actor, reason: outcome.message, details: { reasons: [outcome.code], contractId } },
        ))
      )
        continue;
      halted.push(id);
    }
    return halted;
  }

  /** Interrupts jobs of a halted contract that run on this machine (ContractJobs). */
  interrupt(jobIds: string[]): void {
    for (const id of jobIds) this.deps.executor.cancel(id);
  }
}

/** The job an Idempotency-Key was first used for, when the request is the same; refused when it is not. */
async function priorRequest(tx: Tx, org: string, key: string, requestSha256: string): Promise<string | undefined> {
  const prior = await tx.one<{ id: string; request_sha256: string }>(
    'SELECT id, request_sha256 FROM jobs WHERE operator_org = $1 AND idempotency_key = $2',
    [org, key],
  );
  if (prior && prior.request_sha256 !== requestSha256) {
    throw new PdsError(
      'ERR_IDEMPOTENCY_MISMATCH',
      `Idempotency-Key ${key} was first used for a different request (job ${prior.id})`,
    );
  }
  return prior?.id;
}

/** A revision names a job of the same operator and contract that the reviewers sent back. */
async function assertRevisable(tx: Tx, p: Principal, contractId: string, revisionOf: string): Promise<void> {
  const revised = await loadJob(tx, revisionOf);
  if (!revised || revised.operatorOrg !== p.org || revised.contractId !== contractId)
    throw new PdsError('ERR_VALIDATION', `revisionOf: job ${revisionOf} is not a job of contract ${contractId}`, {
      errors: [{ field: '/body/revisionOf', message: 'a job of the same contract' }],
    });
  if (revised.status !== 'changes-requested')
    throw new PdsError(
      'ERR_VALIDATION',
      `revisionOf: job ${revisionOf} is ${revised.status}; only a job the reviewers sent back (changes-requested) is revised`,
      { errors: [{ field: '/body/revisionOf', message: 'a changes-requested job' }] },
    );
}

/** The contract's quotas: jobs open at once, and submissions in any 24 hours (with when a place frees). */
async function assertQuotas(
  tx: Tx,
  contractId: string,
  quotas: { concurrentJobs: number; jobsPerDay: number },
  now: Date,
): Promise<void> {
  const dayAgo = new Date(now.getTime() - 86_400_000).toISOString();
  // both quotas in one statement (each costs the store a millisecond or two, on every submission)
  const [use] = await tx.all<{ open: number; day: number }>(
    `SELECT count(*) FILTER (WHERE status IN ('queued', 'running'))::INTEGER AS open,
            count(*) FILTER (WHERE created_at > $2)::INTEGER AS day
       FROM jobs WHERE contract_id = $1`,
    [contractId, dayAgo],
  );
  if (use!.open >= quotas.concurrentJobs) {
    throw new PdsError(
      'ERR_QUOTA_EXCEEDED',
      `contract ${contractId} already has ${quotas.concurrentJobs} jobs queued or running; wait for one to finish`,
      { extra: { retryAfterSeconds: 5 } },
    );
  }
  if (use!.day >= quotas.jobsPerDay) {
    // a place frees when the oldest of the last jobsPerDay submissions is a day old
    const oldest = await tx.one<{ created_at: string }>(
      `SELECT created_at FROM jobs WHERE contract_id = $1 AND created_at > $2
        ORDER BY created_at DESC LIMIT 1 OFFSET ${quotas.jobsPerDay - 1}`,
      [contractId, dayAgo],
    );
    const freeAt = new Date(oldest!.created_at).getTime() + 86_400_000;
    throw new PdsError(
      'ERR_QUOTA_EXCEEDED',
      `contract ${contractId} has submitted ${quotas.jobsPerDay} jobs in the last 24 hours`,
      {
        extra: { retryAfterSeconds: Math.max(1, Math.ceil((freeAt - now.getTime()) / 1000)) },
      },
    );
  }
}
