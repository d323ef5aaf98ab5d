import type { Actor } from '../audit/index.ts';
import type { CheckReport, Fingerprint } from '../disclosure/index.ts';
import type { ErrorCode } from '../errors/index.ts';
import type { JsonValue, ReadResult, Tx } from '../store/index.ts';

type Reader = Pick<Tx, 'one' | 'all'>;

/**
 * What the outputs part needs of jobs, handed in by the job part (as contracts are handed
 * `ContractJobs`): the outputs part never imports `jobs/`, and moves a job only through `move`,
 * one of the job state machine's moves that follow an output (jobs/job-store.ts JOB_MOVES).
 */
export type OutputJobMove = 'release' | 'hold' | 'approve' | 'rejectHeld' | 'returnForChanges' | 'withhold';

/** Why a job ended as it did: a code, a message, and the layer and rule that made it. */
export interface OutputJobReason {
  code: ErrorCode;
  message: string;
  layer?: string;
  rule?: string;
}

/** The job behind an output, as reviewers read it. */
export interface JobOfOutput {
  id: string;
  name: string | null;
  sql: string;
  submittedBy: string;
  createdAt: string;
  attempts: number;
  dp?: { bounds: Record<string, [number, number]>; maxGroupsPerUnit?: number; maxRowsPerUnit?: number };
  revisionOf: string | null;
}

/** What a job's last run ran: the API's analysis of it, for the review packet. */
export interface RanPlan {
  mode: string;
  tables: string[];
  readsColumns: string[];
  /** The SQL that ran (keys in it are withheld before anyone reads it). */
  sql: string;
  resultColumns: { name: string; type: string }[];
}

export interface OutputJobs {
  move(
    tx: Tx,
    jobId: string,
    move: OutputJobMove,
    facts: { outputId?: string; finishedAt?: string; reasons?: OutputJobReason[] },
    audit: { actor: Actor; action?: string; reason?: string; details?: Record<string, unknown> },
  ): Promise<boolean>;
  job(reader: Reader, id: string): Promise<JobOfOutput | undefined>;
  lastRun(reader: Reader, job: JobOfOutput): Promise<RanPlan | undefined>;
}

/** The release decision (jobs/release.ts decideRelease) as the outputs part records it. */
export interface ReleaseDecision {
  decision: 'released' | 'held' | 'refused';
  columns: ReadResult['columns'];
  rows: JsonValue[][];
  checks: CheckReport[];
  cellsSuppressed: number;
  /** Why a held output waits, or why a refused one may not leave. */
  reasons: string[];
  /** The rule that refused it. */
  refusedBy?: string;
  /** Aggregate mode: group keys and units per row, kept in the store for differencing; never released. */
  fingerprint?: Fingerprint;
  /** dp mode: the ε this output spent. */
  epsilonSpent: number;
  /** Aggregate mode, for the bureau only (the output's audit entry): cells answered from earlier ones and pairs seen. */
  record?: { answered: number; answeredFrom: string[]; pairs: number; pairedWith?: string };
}
