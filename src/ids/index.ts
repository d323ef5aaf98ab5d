import { randomBytes } from 'node:crypto';

/**
 * Object ids: a kind prefix, a time part (sortable) and 64 random bits, e.g. `job_mh3k2x9c_5f1e…`.
 * The prefix tells a reader of the audit log what an id names.
 */
export type IdKind = 'app' | 'ctr' | 'job' | 'out' | 'rpt' | 'wrk' | 'fbk' | 'dst';

export function newId(kind: IdKind, now: Date = new Date()): string {
  return `${kind}_${now.getTime().toString(36)}${randomBytes(8).toString('hex')}`;
}

/** A job's output id is derived from the job id, so a re-run can never create a second output. */
export function outputIdFor(jobId: string): string {
  return `out_${jobId.slice('job_'.length)}`;
}
