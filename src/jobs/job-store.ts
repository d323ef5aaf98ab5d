import { appendAudit, type Actor } from '../audit/index.ts';
import { isPdsError, type ErrorCode, type RefusalFacts } from '../errors/index.ts';
import type { Tx } from '../store/index.ts';

/**
 * The one owner of job state (docs/architecture.md, "Job states"): every write to the `jobs` and
 * `job_runs` tables is here. A status change is one atomic step, `transition`, which moves a job
 * only from the states it names and records the change in the audit trail in the same
 * transaction; a job found in any other state is left alone and the caller told so.
 */

export type JobStatus =
  'queued' | 'running' | 'rejected' | 'held' | 'released' | 'failed' | 'cancelled' | 'changes-requested';
export const UNFINISHED: readonly JobStatus[] = ['queued', 'running'];

export interface JobReason {
  code: ErrorCode;
  message: string;
  /** The sandbox layer that stopped the job (analysis, engine, process, disclosure), when one did. */
  layer?: string;
  /** The named rule a refusal cites. */
  rule?: string;
  /** An SQL refusal's facts, for its explanation in Chinese (src/terms). */
  facts?: RefusalFacts;
}

export interface StoredJob {
  id: string;
  contractId: string;
  operatorOrg: string;
  submittedBy: string;
  name: string | null;
  sql: string;
  status: JobStatus;
  reasons: JobReason[];
  outputId: string | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  dp?: DpOptions;
  revisionOf: string | null;
}

/** What a dp job asks of the mechanism: clamping bounds, and (within the policy's ceilings) its contribution bounds. */
export interface DpOptions {
  bounds: Record<string, [number, number]>;
  /** Most groups one person counts in (policies/disclosure.yaml dp.maxGroupsPerUnit when absent). */
  maxGroupsPerUnit?: number;
  /** Most joined rows of one person in a group (dp.maxRowsPerUnit when absent). */
  maxRowsPerUnit?: number;
}

export interface NewJob {
  id: string;
  contractId: string;
  operatorOrg: string;
  submittedBy: string;
  name: string | null;
  sql: string;
  createdAt: string;
  idempotencyKey: string | null;
  requestSha256: string;
  dp: DpOptions | null;
  revisionOf: string | null;
}

/** What a transition sets besides the status. */
export interface TransitionFacts {
  reasons?: JobReason[];
  outputId?: string;
  /** Set when the job starts running (also counts an attempt); null when it goes back to the queue. */
  startedAt?: string | null;
  finishedAt?: string;
}

/** The audit entry of a transition; its action defaults to `job.<to>`. */
export interface TransitionAudit {
  actor: Actor;
  action?: string;
  requestId?: string;
  reason?: string;
  details?: Record<string, unknown>;
}

type Reader = Pick<Tx, 'one' | 'all'>;
type Row = Record<string, string | number | null>;

function fromRow(r: Row): StoredJob {
  return {
    id: String(r.id),
    contractId: String(r.contract_id),
    operatorOrg: String(r.operator_org),
    submittedBy: String(r.submitted_by),
    name: (r.name as string | null) ?? null,
    sql: String(r.sql),
    status: r.status as JobStatus,
    reasons: JSON.parse(String(r.reasons)) as JobReason[],
    outputId: (r.output_id as string | null) ?? null,
    attempts: Number(r.attempts),
    createdAt: String(r.created_at),
    startedAt: (r.started_at as string | null) ?? null,
    finishedAt: (r.finished_at as string | null) ?? null,
    ...(r.dp_params ? { dp: JSON.parse(String(r.dp_params)) as StoredJob['dp'] } : {}),
    revisionOf: (r.revision_of as string | null) ?? null,
  };
}

export async function loadJob(reader: Reader, id: string): Promise<StoredJob | undefined> {
  const r = await reader.one<Row>('SELECT * FROM jobs WHERE id = $1', [id]);
  return r ? fromRow(r) : undefined;
}

export interface JobFilter {
  /** Only this organisation's jobs (operators); every job when absent (bureau, risk). */
  operatorOrg?: string;
  contractId?: string;
  status?: JobStatus;
  /** Submitted at or after this instant (ISO). */
  since?: string;
  /** The page after this job id (ids sort by submission time). */
  before?: string;
  limit: number;
}

/** Jobs matching `f`, newest first: one page. */
export async function listJobs(reader: Reader, f: JobFilter): Promise<StoredJob[]> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (sql: string, value: string | number) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.operatorOrg !== undefined) add('operator_org = ?', f.operatorOrg);
  if (f.contractId !== undefined) add('contract_id = ?', f.contractId);
  if (f.status !== undefined) add('status = ?', f.status);
  if (f.since !== undefined) add('created_at >= ?', f.since);
  if (f.before !== undefined) add('id < ?', f.before);
  params.push(f.limit);
  const rows = await reader.all<Row>(
    `SELECT * FROM jobs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(fromRow);
}

/** Inserts a queued job and records it; answers the job as stored. */
export async function insertJob(tx: Tx, job: NewJob, audit: TransitionAudit): Promise<StoredJob> {
  const row = await tx.one<Row>(
    `INSERT INTO jobs (id, contract_id, operator_org, submitted_by, name, sql, status, reasons, created_at, idempotency_key, request_sha256, dp_params, revision_of)
     VALUES ($1, $2, $3, $4, $5, $6, 'queued', '[]', $7, $8, $9, $10, $11) RETURNING *`,
    [
      job.id,
      job.contractId,
      job.operatorOrg,
      job.submittedBy,
      job.name,
      job.sql,
      job.createdAt,
      job.idempotencyKey,
      job.requestSha256,
      job.dp ? JSON.stringify(job.dp) : null,
      job.revisionOf,
    ],
    'jobs',
  );
  await appendAudit(tx, { ...audit, action: audit.action ?? 'job.submitted', objectType: 'job', objectId: job.id });
  return fromRow(row!);
}

/**
 * The job state machine (docs/architecture.md §6, whose diagram test/jobs/states.test.ts checks
 * against this table): each move names the states it leaves, the one it enters and who makes it.
 * `transition` is the only way a job's status changes.
 */
export const JOB_MOVES = {
  /** A claim: a queued job, or a running one whose lease expired (a new attempt). */
  claim: { from: ['queued', 'running'], to: 'running', by: 'controller' },
  /** Found running at start-up (embedded), or an infrastructure failure retried with backoff. */
  requeue: { from: ['running'], to: 'queued', by: 'controller' },
  /** Refused at the claim or in the run (analysis, binding, ε budget, an engine refusal). */
  reject: { from: ['queued', 'running'], to: 'rejected', by: 'controller' },
  /** The contract is no longer valid at the claim, or a fault out of retries. */
  fail: { from: ['queued', 'running'], to: 'failed', by: 'controller' },
  /** A run's outcome refused (the engine, or disclosure control in the release decision). */
  refuseRun: { from: ['running'], to: 'rejected', by: 'controller' },
  /** A run's outcome a failure (invalid, out of retries, a forgery caught, the contract ended meanwhile). */
  failRun: { from: ['running'], to: 'failed', by: 'controller' },
  /** By its operator or the bureau, or when its contract is suspended. */
  cancel: { from: ['queued', 'running'], to: 'cancelled', by: 'operator, bureau, contract lifecycle' },
  /** The release decision released it: its output signed. */
  release: { from: ['running'], to: 'released', by: 'outputs' },
  /** The release decision held it for two bureau reviewers. */
  hold: { from: ['running'], to: 'held', by: 'outputs' },
  /** Two bureau reviewers approved its held output. */
  approve: { from: ['held'], to: 'released', by: 'outputs (bureau reviewers)' },
  /** A reviewer rejected its held output. */
  rejectHeld: { from: ['held'], to: 'rejected', by: 'outputs (bureau reviewers)' },
  /** Reviewers asked the operator for changes: a revised job may follow. */
  returnForChanges: { from: ['held'], to: 'changes-requested', by: 'outputs (bureau reviewers)' },
  /** Its released output withheld: its worker was caught forging another run (§4). */
  withhold: { from: ['released'], to: 'held', by: 'outputs (a spot check)' },
} as const satisfies Record<string, { from: readonly JobStatus[]; to: JobStatus; by: string }>;
export type JobMove = keyof typeof JOB_MOVES;

/**
 * Makes `move` on a job, setting `facts`, and records it in the same transaction; answers false
 * (and changes nothing) when the job is in none of the states the move leaves.
 */
export async function transition(
  tx: Tx,
  id: string,
  move: JobMove,
  facts: TransitionFacts,
  audit: TransitionAudit,
): Promise<boolean> {
  const { from, to } = JOB_MOVES[move];
  const sets = ['status = $2'];
  const params: (string | number | null)[] = [id, to, ...from];
  const fromMarks = from.map((_, i) => `$${i + 3}`).join(', ');
  const set = (column: string, value: string | number | null) => {
    params.push(value);
    sets.push(`${column} = $${params.length}`);
  };
  if (facts.reasons !== undefined) set('reasons', JSON.stringify(facts.reasons));
  if (facts.outputId !== undefined) set('output_id', facts.outputId);
  if (facts.startedAt !== undefined) set('started_at', facts.startedAt);
  if (facts.startedAt) sets.push('attempts = attempts + 1');
  if (facts.finishedAt !== undefined) set('finished_at', facts.finishedAt);
  // one statement checks the state and moves it (the write transaction is serialized); its count,
  // not RETURNING, which a failed commit turns into an abort (src/store, docs/architecture.md §14)
  const moved = await tx.one<{ Count: number }>(
    `UPDATE jobs SET ${sets.join(', ')} WHERE id = $1 AND status IN (${fromMarks})`,
    params,
    'jobs',
  );
  if (!moved?.Count) return false;
  const { action, ...entry } = audit;
  await appendAudit(tx, { ...entry, action: action ?? `job.${to}`, objectType: 'job', objectId: id });
  return true;
}

/** Unfinished jobs, oldest first, with the lease of their current run (BullMQ reconciliation). */
export async function unfinishedJobs(
  reader: Reader,
): Promise<{ id: string; status: 'queued' | 'running'; leaseExpiresAt: string | null }[]> {
  const rows = await reader.all<{ id: string; status: 'queued' | 'running'; lease_expires_at: string | null }>(
    `SELECT j.id, j.status, r.lease_expires_at FROM jobs j LEFT JOIN job_runs r ON r.job_id = j.id AND r.attempt = j.attempts
     WHERE j.status IN ('queued', 'running') ORDER BY j.created_at`,
  );
  return rows.map((r) => ({ id: r.id, status: r.status, leaseExpiresAt: r.lease_expires_at }));
}

/** Ids of jobs in one of `statuses` (of one contract, when given), oldest first. */
export async function jobsIn(reader: Reader, statuses: readonly JobStatus[], contractId?: string): Promise<string[]> {
  const params: string[] = [...statuses];
  const marks = statuses.map((_, i) => `$${i + 1}`).join(', ');
  if (contractId) params.push(contractId);
  const rows = await reader.all<{ id: string }>(
    `SELECT id FROM jobs WHERE status IN (${marks})${contractId ? ` AND contract_id = $${params.length}` : ''} ORDER BY created_at`,
    params,
  );
  return rows.map((r) => r.id);
}

// --- runs ----------------------------------------------------------------------------------

export interface StoredRun<P> {
  jobId: string;
  attempt: number;
  /** 'embedded', or the id of the worker that holds the lease. */
  executor: string;
  plan: P;
  claimedAt: string;
  leaseExpiresAt: string;
  reportedAt: string | null;
}

export async function openRun<P>(tx: Tx, run: Omit<StoredRun<P>, 'reportedAt'>): Promise<void> {
  await tx.run(
    'INSERT INTO job_runs (job_id, attempt, executor, plan, claimed_at, lease_expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [run.jobId, run.attempt, run.executor, JSON.stringify(run.plan), run.claimedAt, run.leaseExpiresAt],
    'job_runs',
  );
}

export async function loadRun<P>(reader: Reader, jobId: string, attempt: number): Promise<StoredRun<P> | undefined> {
  const r = await reader.one<Row>('SELECT * FROM job_runs WHERE job_id = $1 AND attempt = $2', [jobId, attempt]);
  if (!r) return undefined;
  return {
    jobId,
    attempt,
    executor: String(r.executor),
    plan: JSON.parse(String(r.plan)) as P,
    claimedAt: String(r.claimed_at),
    leaseExpiresAt: String(r.lease_expires_at),
    reportedAt: (r.reported_at as string | null) ?? null,
  };
}

export async function renewLease(tx: Tx, jobId: string, attempt: number, until: string): Promise<void> {
  await tx.run(
    'UPDATE job_runs SET lease_expires_at = $3 WHERE job_id = $1 AND attempt = $2',
    [jobId, attempt, until],
    'job_runs',
  );
}

/**
 * Takes a run's outcome: marks it reported unless an outcome of it was taken already. Answers
 * false then, so of two outcomes a worker posts at once for one run only the first is judged.
 */
export async function takeReport(tx: Tx, jobId: string, attempt: number, at: string): Promise<boolean> {
  // its count, not RETURNING (as transition: a failed commit of one aborts the process)
  const taken = await tx.one<{ Count: number }>(
    'UPDATE job_runs SET reported_at = $3 WHERE job_id = $1 AND attempt = $2 AND reported_at IS NULL',
    [jobId, attempt, at],
    'job_runs',
  );
  return Boolean(taken?.Count);
}

export async function markReported(tx: Tx, jobId: string, attempt: number, at: string): Promise<void> {
  await tx.run(
    'UPDATE job_runs SET reported_at = $3 WHERE job_id = $1 AND attempt = $2',
    [jobId, attempt, at],
    'job_runs',
  );
}

/** A refusal or fault as a job's reason: its code, message, and the layer and rule that made it. */
export function reasonOf(err: unknown): JobReason {
  if (!isPdsError(err)) return { code: 'ERR_INTERNAL', message: 'internal error while running the job' };
  return {
    code: err.code,
    message: err.detail,
    ...(err.extra?.layer ? { layer: err.extra.layer } : {}),
    ...(err.extra?.rule ? { rule: err.extra.rule } : {}),
    ...(err.extra?.facts ? { facts: err.extra.facts } : {}),
  };
}
