import { PdsError, type ErrorCode } from '../../src/errors/index.ts';
import {
  checkOutcome,
  decideRelease,
  planRun,
  type PlanInput,
  type ReleaseDecision,
  type ReleaseInput,
  type RunPlan,
} from '../../src/jobs/index.ts';
import type { RunLimits } from '../../src/protocol/index.ts';
import { executeRun, type SandboxLayer, type SchemaBinder, type SqlParser } from '../../src/sandbox/index.ts';

/**
 * One query through the same four steps a job goes through — the API's plan, the worker's
 * execution, the outcome check and the one release decision — in one process, without the store.
 * The red-team and privacy suites and the sandbox bench use it, so they exercise exactly the
 * functions production runs (the RunController calls each of them at its point of the protocol).
 * A refusal before the decision is a PdsError whose `extra.layer` names the layer that made it.
 */
export interface EvaluationInput extends PlanInput {
  /** DATA_DIR holding `snapshots/<snapshotFile>`. */
  dataDir: string;
  snapshotFile: string;
  tmpDir: string;
  limits: RunLimits;
  terms: ReleaseInput['terms'];
  earlier?: ReleaseInput['earlier'];
  signal?: AbortSignal;
  /** Only the red-team suite switches layers off, one at a time, to show the others hold. */
  layersOff?: ReadonlySet<SandboxLayer>;
}

export interface Evaluation {
  plan: RunPlan;
  decision: ReleaseDecision;
}

let runs = 0;

export async function evaluateQuery(
  tools: { parser: SqlParser; binder: SchemaBinder },
  input: EvaluationInput,
): Promise<Evaluation> {
  const plan = await planRun(tools, input, input.layersOff);
  const jobId = `job_eval${process.pid}x${runs++}`;
  const outcome = await executeRun(
    {
      jobId,
      attempt: 1,
      sql: plan.sql,
      snapshot: { contractId: 'ctr_evaluation', file: input.snapshotFile, sha256: '0'.repeat(64) },
      limits: input.limits,
      lease: {
        expiresAt: new Date(Date.now() + input.limits.timeoutMs * 2).toISOString(),
        renewEveryMs: input.limits.timeoutMs,
      },
    },
    {
      dataDir: input.dataDir,
      tmpDir: input.tmpDir,
      signal: input.signal ?? new AbortController().signal,
      layersOff: input.layersOff,
    },
  );
  const checked = checkOutcome(plan, input.limits, outcome);
  if ('failure' in checked) {
    const f = checked.failure;
    throw new PdsError(f.code as ErrorCode, f.message, { extra: { layer: f.layer ?? 'none' } });
  }
  const decision = decideRelease({
    plan,
    result: checked.result,
    terms: input.terms,
    earlier: input.earlier ?? [],
    layersOff: input.layersOff,
  });
  return { plan, decision };
}
