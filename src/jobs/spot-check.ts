import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { appendAudit, SYSTEM_ACTOR } from '../audit/index.ts';
import type { ContractService } from '../contracts/index.ts';
import { canonicalSha256 } from '../digest/index.ts';
import type { Policies, SandboxPolicy } from '../policies/index.ts';
import type { RunOutcome, RunSpec } from '../protocol/index.ts';
import type { ReadResult, Store } from '../store/index.ts';
import { executeRun } from '../sandbox/index.ts';
import type { OutputService } from '../outputs/index.ts';
import { recordForgery } from './forgery.ts';
import {
  loadJob,
  reasonOf,
  renewLease,
  takeReport,
  type JobReason,
  type StoredJob,
  type StoredRun,
} from './job-store.ts';
import type { RunPlan } from './plan.ts';
import { releaseTerms } from './release.ts';
import type { WorkerRegistry } from './workers.ts';

/**
 * Spot checks of remote work (docs/architecture.md §4, issue 32): a remote worker's result is
 * released only if the API did not pick it for re-execution, or re-executed it on its own runner
 * (the embedded executor's code path, `executeRun`) and got the same raw result. The pick is made
 * after the outcome arrived, from a CSPRNG at the policy's rate, plus every run a risk rule flags;
 * a worker therefore cannot tell which of its runs will be checked. A mismatch is a forgery:
 * `recordForgery` revokes the worker and withholds every output of it no check verified.
 */

/** Why a run is re-executed: the draw, or a risk rule (policies/sandbox.yaml `spotCheck`). */
export type SpotCheckReason = 'sampled' | 'new-credential' | 'near-threshold';

/** What came of a remote result: released as it is, or not, and why; `duplicate`: another outcome of the run was taken first. */
export type SpotCheckVerdict =
  | { verdict: 'unchecked' | 'matched' | 'duplicate' }
  | { verdict: 'inconclusive'; reason: JobReason }
  | { verdict: 'mismatched'; workerSha256: string; apiSha256: string };

/** A uniform draw in [0, 1) from the CSPRNG: 48 random bits. */
export function secureRandom(): number {
  return randomBytes(6).readUIntBE(0, 6) / 2 ** 48;
}

/**
 * The canonical hash of a raw result (docs/architecture.md §4): its columns, and its rows as a
 * multiset — each row's RFC 8785 JSON, sorted, since a query without ORDER BY has no row order
 * an honest engine must keep. The rows include the hidden columns the rewrite added (units, cell
 * keys, dominance, signatures), so a forged unit count changes the hash like a forged count.
 */
export function resultSha256(result: {
  columns: { name: string; type: string }[];
  rows: readonly unknown[][];
}): string {
  const rows = result.rows.map((r) => canonicalSha256(r)).sort();
  return canonicalSha256({ columns: result.columns.map((c) => [c.name, c.type]), rows });
}

/** The facts the risk rules read of one run. */
export interface RiskFacts {
  /** Runs of this worker verified by re-execution since its current credential was issued. */
  verifiedRuns: number;
  /** Aggregate mode: each cell's distinct units as the worker reported them, and the run's k. */
  units?: { counts: number[]; minUnits: number };
}

/**
 * The risk rules (docs/architecture.md §4): a credential with fewer than `firstRuns` verified
 * results (a new worker, or one rotated after a leak, has no record yet); an aggregate cell at k
 * or just above it (the forgery that releases a cell disclosure control would have suppressed).
 */
export function riskFlags(policy: SandboxPolicy['spotCheck'], facts: RiskFacts): SpotCheckReason[] {
  const flags: SpotCheckReason[] = [];
  if (facts.verifiedRuns < policy.firstRuns) flags.push('new-credential');
  const u = facts.units;
  if (u && u.counts.some((n) => n >= u.minUnits && n < u.minUnits + policy.nearThreshold)) flags.push('near-threshold');
  return flags;
}

/**
 * Whether a run is re-executed, and why: every flagged run, and any other with probability
 * `rate`. `random` is drawn once per run whatever the flags (a CSPRNG in production; tests inject
 * one); rate 1 checks every run and 0 only flagged ones.
 */
export function spotCheckReasons(rate: number, flags: SpotCheckReason[], random: () => number): SpotCheckReason[] {
  const sampled = random() < rate;
  return sampled ? ['sampled', ...flags] : flags;
}

export interface SpotCheckDeps {
  store: Store;
  policies: Policies;
  contracts: ContractService;
  workers: WorkerRegistry;
  /** Withholds a caught worker's unverified outputs. */
  outputs: Pick<OutputService, 'withholdUnverified'>;
  dataDir: string;
  now: () => Date;
  /** The draw (default: the CSPRNG). */
  random?: () => number;
}

/** The lease a run keeps while the API re-executes it: its time limit, and this much more. */
const RECHECK_GRACE_MS = 60_000;
/**
 * Re-executions at once on the API's host: they run in the worker's outcome request, beside the
 * API's own work, so a burst of picked results queues here rather than taking every core.
 */
const RECHECKS_AT_ONCE = 2;

export class SpotChecker {
  private readonly random: () => number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly deps: SpotCheckDeps) {
    this.random = deps.random ?? secureRandom;
  }

  /**
   * Takes a remote worker's checked result, decides whether it is re-executed here before its
   * release, and does it: matched → recorded as the worker's verified run; mismatched twice over
   * (the API's own runs agree with each other) → the forgery recorded; the API's own run
   * unfinished or not reproducible → inconclusive, nothing released (retried like a fault).
   */
  async verify(
    job: StoredJob,
    run: StoredRun<RunPlan>,
    result: ReadResult,
    workerId: string,
  ): Promise<SpotCheckVerdict> {
    const { claims, snapshotPath } = await this.deps.contracts.verifiedActive(job.contractId);
    const facts = await this.riskFacts(run, result, workerId, claims);
    // the draw is made now, after the outcome is in: nothing the worker saw before depends on it
    const reasons = spotCheckReasons(
      this.deps.policies.sandbox.spotCheck.rate,
      riskFlags(this.deps.policies.sandbox.spotCheck, facts),
      this.random,
    );
    const taken = await this.deps.store.write((tx) =>
      takeReport(tx, job.id, run.attempt, this.deps.now().toISOString()),
    );
    if (!taken) return { verdict: 'duplicate' };
    if (reasons.length === 0) return { verdict: 'unchecked' };
    const workerSha256 = resultSha256(result);
    const spec = this.specOf(job, run, claims.snapshot.hash, snapshotPath);
    const first = await this.runHere(spec, snapshotPath);
    let verdict: SpotCheckVerdict;
    if (typeof first !== 'string') verdict = { verdict: 'inconclusive', reason: first };
    else if (first === workerSha256) verdict = { verdict: 'matched' };
    else {
      // before calling it a forgery: the query gives the API the same answer twice
      const second = await this.runHere(spec, snapshotPath);
      verdict =
        second === first
          ? { verdict: 'mismatched', workerSha256, apiSha256: first }
          : { verdict: 'inconclusive', reason: typeof second === 'string' ? NOT_REPRODUCIBLE : second };
    }
    await this.record(job, run, workerId, reasons, workerSha256, verdict);
    return verdict;
  }

  /** Runs `f` when fewer than RECHECKS_AT_ONCE re-executions are running. */
  private async slot<T>(f: () => Promise<T>): Promise<T> {
    while (this.running >= RECHECKS_AT_ONCE) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await f();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** What the risk rules read: the worker's verified runs under its credential, the cells' units. */
  private async riskFacts(
    run: StoredRun<RunPlan>,
    result: ReadResult,
    workerId: string,
    claims: Parameters<typeof releaseTerms>[0],
  ): Promise<RiskFacts> {
    const issued = (await this.deps.workers.credentialIssuedAt(this.deps.store, workerId)) ?? '';
    const verified = await this.deps.store.one<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM spot_checks WHERE worker_id = $1 AND result = 'matched' AND checked_at >= $2`,
      [workerId, issued],
    );
    const plan = run.plan;
    const at = plan.mode === 'aggregate' ? result.columns.findIndex((c) => c.name === plan.unitsColumn) : -1;
    if (at < 0) return { verifiedRuns: verified?.n ?? 0 };
    const terms = releaseTerms(claims, this.deps.policies);
    const minUnits = Math.max(terms.minUnits, ...(plan.readsColumns ?? []).map((c) => terms.columnMinUnits[c] ?? 0));
    return {
      verifiedRuns: verified?.n ?? 0,
      units: { counts: result.rows.map((r) => Number(r[at])), minUnits },
    };
  }

  /** The run as the worker was handed it (the stored plan's SQL, the policy's limits). */
  private specOf(job: StoredJob, run: StoredRun<RunPlan>, sha256: string, snapshotPath: string): RunSpec {
    const { maxSqlBytes: _m, ...limits } = this.deps.policies.sandbox.limits;
    return {
      jobId: job.id,
      attempt: run.attempt,
      sql: run.plan.sql,
      snapshot: { contractId: job.contractId, file: path.basename(snapshotPath), sha256 },
      limits,
      lease: { expiresAt: run.leaseExpiresAt, renewEveryMs: limits.timeoutMs },
    };
  }

  /** One run on the API's own runner, the run's lease covering it: the result's hash, or why there is none. */
  private async runHere(spec: RunSpec, snapshotFile: string): Promise<string | JobReason> {
    let outcome: RunOutcome;
    try {
      outcome = await this.slot(async () => {
        // nobody takes the run over while it runs here
        const until = new Date(this.deps.now().getTime() + spec.limits.timeoutMs + RECHECK_GRACE_MS).toISOString();
        await this.deps.store.write((tx) => renewLease(tx, spec.jobId, spec.attempt, until));
        return executeRun(spec, {
          dataDir: this.deps.dataDir,
          snapshotFile,
          // apart from the embedded executor's directories: a worker on this machine may share DATA_DIR
          tmpDir: path.join(this.deps.dataDir, 'tmp', 'spot-check'),
          signal: new AbortController().signal,
        });
      });
    } catch (err) {
      return reasonOf(err);
    }
    if (!outcome.ok) return UNFINISHED;
    return resultSha256(outcome);
  }

  /** The verdict in the store: a row of spot_checks with its audit entry; a forgery with all it entails. */
  private async record(
    job: StoredJob,
    run: StoredRun<RunPlan>,
    workerId: string,
    reasons: SpotCheckReason[],
    workerSha256: string,
    v: SpotCheckVerdict,
  ): Promise<void> {
    const at = this.deps.now().toISOString();
    const apiSha256 = v.verdict === 'mismatched' ? v.apiSha256 : v.verdict === 'matched' ? workerSha256 : null;
    await this.deps.store.write(async (tx) => {
      await tx.run(
        `INSERT INTO spot_checks (job_id, attempt, worker_id, reasons, result, worker_sha256, api_sha256, checked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [job.id, run.attempt, workerId, JSON.stringify(reasons), v.verdict, workerSha256, apiSha256, at],
        'spot_checks',
      );
      const facts = { jobId: job.id, attempt: run.attempt, reasons, workerSha256, apiSha256 };
      if (v.verdict === 'mismatched') {
        const cur = await loadJob(tx, job.id);
        await recordForgery(
          tx,
          { ...facts, workerId, apiSha256: v.apiSha256, at, current: cur?.attempts === run.attempt },
          this.deps,
        );
        return;
      }
      await appendAudit(tx, {
        actor: SYSTEM_ACTOR,
        action: `worker.spot_check.${v.verdict}`,
        objectType: 'worker',
        objectId: workerId,
        details: facts,
      });
    });
  }
}

/** The API's own run ended without a result: the worker's cannot be verified, so it is not released. */
const UNFINISHED: JobReason = {
  code: 'ERR_SANDBOX_FAILURE',
  message: 'the API could not finish its own run of this result, picked for a spot check; nothing was released',
};
const NOT_REPRODUCIBLE: JobReason = {
  code: 'ERR_SANDBOX_FAILURE',
  message: 'the query gave the API two different results, so the spot check picked for it could not verify it',
};
