import type { OutputJobs, RanPlan } from '../outputs/index.ts';
import { loadJob, loadRun, transition } from './job-store.ts';
import { resultColumns, type RunPlan } from './plan.ts';

/**
 * The job part's side of `OutputJobs` (outputs/jobs.ts): the moves that follow an output, made by
 * the job state machine's own `transition`, and the job and last run a reviewer reads.
 */
export const outputJobs: OutputJobs = {
  move: (tx, jobId, move, facts, audit) => transition(tx, jobId, move, facts, audit),
  job: (reader, id) => loadJob(reader, id),
  async lastRun(reader, job): Promise<RanPlan | undefined> {
    if (job.attempts === 0) return undefined;
    const plan = (await loadRun<RunPlan>(reader, job.id, job.attempts))?.plan;
    if (!plan) return undefined;
    return {
      mode: plan.mode,
      tables: plan.tables,
      readsColumns: plan.readsColumns ?? [],
      sql: plan.sql,
      resultColumns: resultColumns(plan),
    };
  },
};
