import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';

/**
 * The run protocol between the controller (the API) and whatever executes a job (the embedded
 * executor in the API's own process, or a `pds worker` elsewhere): what a worker is handed, and
 * what it hands back. One set of schemas, closed objects, used by both sides; the types derive
 * from them (docs/architecture.md, "The run protocol").
 *
 * A worker is handed only the final SQL to execute, the snapshot to attach and the limits. It
 * hands back the engine's raw columns and rows, or the engine's refusal. Every fact disclosure
 * control relies on (units column, key and count positions, dominance and dp plans, bounds) is
 * the API's own, kept with the claim, never the worker's.
 */

const closed = { additionalProperties: false } as const;

/** BullMQ queue of jobs to run, and the pub/sub channel (under the queue prefix) of cancellations. */
export const JOB_QUEUE = 'pds-jobs';
export const CANCEL_CHANNEL = 'pds:cancel';

export const JobId = Type.String({ pattern: '^job_[a-z0-9]{8,40}$', maxLength: 64 });
export const WorkerId = Type.String({ pattern: '^wrk_[a-z0-9]{8,40}$', maxLength: 64 });

/**
 * A claim ticket: the API's keyed MAC of the job id, put on the queue with the job. A worker
 * credential alone cannot claim a job; it also needs the ticket only the queue carries.
 */
export const ClaimTicket = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' });

/** What the API puts on the queue for each job. */
export const QueueJobData = Type.Object({ jobId: JobId, ticket: ClaimTicket }, closed);
export type QueueJobData = Static<typeof QueueJobData>;

export const RunLimits = Type.Object(
  {
    threads: Type.Integer({ minimum: 1, maximum: 64 }),
    memoryLimit: Type.String({ pattern: '^\\d+(\\.\\d+)?\\s*(KB|MB|GB|KiB|MiB|GiB)$' }),
    tempDirectorySize: Type.String({ pattern: '^\\d+(\\.\\d+)?\\s*(KB|MB|GB|KiB|MiB|GiB)$' }),
    timeoutMs: Type.Integer({ minimum: 100 }),
    maxResultRows: Type.Integer({ minimum: 1 }),
    maxResultBytes: Type.Integer({ minimum: 1024 }),
  },
  closed,
);
export type RunLimits = Static<typeof RunLimits>;

/** What a worker is handed when it claims a job: one run, nothing else. */
export const RunSpec = Type.Object(
  {
    jobId: JobId,
    attempt: Type.Integer({ minimum: 1 }),
    /** The final SQL, analysed and rewritten by the API: execute it as it is. */
    sql: Type.String({ minLength: 1 }),
    snapshot: Type.Object(
      {
        contractId: Type.String({ pattern: '^ctr_[a-z0-9]{8,40}$' }),
        /** The snapshot's file name under the worker's `DATA_DIR/snapshots` (no directories). */
        file: Type.String({ pattern: '^[a-z0-9_]+\\.duckdb$', maxLength: 80 }),
        sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      },
      closed,
    ),
    limits: RunLimits,
    lease: Type.Object(
      {
        /** Until when the claim is this worker's; renew it before then, or another worker may take the job. */
        expiresAt: Type.String({ maxLength: 40 }),
        renewEveryMs: Type.Integer({ minimum: 100 }),
      },
      closed,
    ),
  },
  closed,
);
export type RunSpec = Static<typeof RunSpec>;

export const ResultColumn = Type.Object(
  { name: Type.String({ maxLength: 1024 }), type: Type.String({ maxLength: 1024 }) },
  closed,
);
export type ResultColumn = Static<typeof ResultColumn>;

/**
 * A result cell as the engine renders it in JSON: a scalar, a list (LIST columns) or an object
 * (STRUCT, MAP). Whether it fits its column's type is checked by the API against its own plan.
 */
export const Cell = Type.Union([
  Type.Null(),
  Type.Boolean(),
  Type.Number(),
  Type.String(),
  Type.Array(Type.Unknown()),
  Type.Record(Type.String(), Type.Unknown()),
]);

/** Where the engine or the runner process refused a run (analysis is the API's: never reported). */
export const RunLayer = Type.Union([Type.Literal('engine'), Type.Literal('process'), Type.Literal('os')]);

/** What a worker hands back: the engine's raw result, or why there is none. */
export const RunOutcome = Type.Union([
  Type.Object(
    {
      ok: Type.Literal(true),
      columns: Type.Array(ResultColumn),
      rows: Type.Array(Type.Array(Cell)),
      elapsedMs: Type.Number({ minimum: 0 }),
    },
    closed,
  ),
  Type.Object(
    {
      ok: Type.Literal(false),
      error: Type.Object(
        {
          code: Type.String({ pattern: '^ERR_[A-Z_]+$', maxLength: 64 }),
          /** For the worker's own log; the API never shows it (it writes the reason from code and facts). */
          message: Type.String({ maxLength: 4000 }),
          layer: Type.Optional(RunLayer),
          /** What the API may say of the failure: which limit, which column, which type. */
          facts: Type.Optional(
            Type.Object(
              {
                limit: Type.Optional(
                  Type.Union([
                    Type.Literal('memory'),
                    Type.Literal('time'),
                    Type.Literal('bytes'),
                    Type.Literal('rows'),
                  ]),
                ),
                column: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' })),
                type: Type.Optional(Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,31}$' })),
              },
              closed,
            ),
          ),
        },
        closed,
      ),
    },
    closed,
  ),
]);
export type RunOutcome = Static<typeof RunOutcome>;

/** The error codes a run may end with; anything else from a worker is refused as invalid. */
export const RUN_ERROR_CODES = [
  'ERR_SQL_INVALID',
  'ERR_SQL_RUNTIME',
  'ERR_SQL_NOT_SELECT',
  'ERR_SANDBOX_DENIED',
  'ERR_LIMIT_EXCEEDED',
  'ERR_SANDBOX_FAILURE',
  'ERR_SNAPSHOT_MISMATCH',
] as const;

export const ClaimRequest = Type.Object(
  {
    jobId: JobId,
    ticket: ClaimTicket,
    osSandbox: Type.Optional(
      Type.Union([Type.Literal('bubblewrap'), Type.Literal('off')], {
        description: "whether the worker runs the job inside its OS sandbox layer (recorded in the job's audit)",
      }),
    ),
  },
  closed,
);
export type ClaimRequest = Static<typeof ClaimRequest>;

export const OutcomeReport = Type.Object(
  { jobId: JobId, attempt: Type.Integer({ minimum: 1 }), outcome: RunOutcome },
  closed,
);
export type OutcomeReport = Static<typeof OutcomeReport>;

export const LeaseRenewal = Type.Object({ jobId: JobId, attempt: Type.Integer({ minimum: 1 }) }, closed);
export type LeaseRenewal = Static<typeof LeaseRenewal>;

export const LeaseView = Type.Object({ expiresAt: Type.String({ maxLength: 40 }) }, closed);

/** Compiled checkers, for the side that did not get the value through fastify's validation. */
export const checkRunSpec = Compile(RunSpec);
export const checkQueueJobData = Compile(QueueJobData);
