/**
 * The one catalogue of errors. Every refusal the system makes carries a stable `code` from here,
 * an HTTP status and a title; the API turns them into RFC 9457 problem+json. Codes never change
 * meaning once published: clients and auditors match on them, never on message text.
 */
import type { RefusalFacts } from './refusals.ts';

export { SQL_REASONS, type RefusalFacts, type SqlReason, type SqlRule } from './refusals.ts';

export const ERRORS = {
  // configuration and start-up
  ERR_CONFIG: { status: 500, title: 'Invalid configuration' },
  ERR_KEY_PERMISSIONS: { status: 500, title: 'Key file has unsafe permissions' },
  ERR_KEY_DAMAGED: { status: 500, title: 'Key file is damaged' },
  ERR_DOMAIN_DAMAGED: { status: 503, title: 'The domain database cannot be read' },
  ERR_POLICY_INVALID: { status: 500, title: 'Policy file is invalid' },
  ERR_STORE_MIGRATION: { status: 500, title: 'Control store migration failed' },
  ERR_STORE_DAMAGED: { status: 500, title: 'Control store does not check out' },
  ERR_STORE_LOCKED: { status: 503, title: 'Another process (a running server) holds the control store' },
  ERR_SANDBOX_OS_UNAVAILABLE: { status: 500, title: 'The OS sandbox cannot run here' },
  ERR_DATA_DIR_NOT_ENCRYPTED: { status: 500, title: 'DATA_DIR is not on an encrypted device' },

  // request validation
  ERR_VALIDATION: { status: 400, title: 'Request is invalid' },
  ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body is too large' },
  ERR_URI_TOO_LONG: { status: 414, title: 'A path parameter is too long' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Request body has an unsupported media type' },
  ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_CONFLICT: { status: 409, title: 'Conflicts with the current state' },

  // authentication and authorization
  ERR_AUTH_MISSING_TOKEN: { status: 401, title: 'Bearer token required' },
  ERR_AUTH_INVALID_TOKEN: { status: 401, title: 'Bearer token is invalid' },
  ERR_AUTH_TOKEN_EXPIRED: { status: 401, title: 'Bearer token has expired' },
  ERR_AUTH_FORBIDDEN: { status: 403, title: 'Role not allowed for this action' },
  ERR_LOGIN_LINK_INVALID: { status: 401, title: 'Sign-in link is invalid or has expired' },
  ERR_LOGIN_LINK_USED: { status: 409, title: 'Sign-in link has been used already' },
  ERR_CONSOLE_CSRF: { status: 403, title: 'The form is stale or came from another site' },
  ERR_CONSOLE_SIGN_IN: { status: 401, title: 'Sign-in with the identity provider failed' },

  // ingest of raw data
  ERR_INGEST_FILE: { status: 400, title: 'Ingest file is missing, empty or of an unknown format' },
  ERR_INGEST_ENCODING: { status: 400, title: 'Ingest file is not valid UTF-8' },
  ERR_INGEST_COLUMNS: { status: 400, title: 'Ingest columns do not match the catalog' },
  ERR_INGEST_TYPE: { status: 400, title: 'Ingest values do not match the catalog types' },

  // catalog and applications
  ERR_COLUMN_NOT_GRANTABLE: { status: 400, title: 'Column may not be granted' },
  ERR_MODE_NOT_AVAILABLE: { status: 400, title: 'Query mode not available' },
  ERR_REVIEW_NOT_PROVIDER: { status: 403, title: 'Only the dataset provider may review it' },
  ERR_REVIEW_REASON_REQUIRED: { status: 400, title: 'A rejection needs a reason' },
  ERR_APPLICATION_NOT_PENDING: { status: 409, title: 'Application is already decided' },
  ERR_APPLICATION_REVIEWS_INCOMPLETE: { status: 409, title: 'Not every dataset is approved by its provider' },

  // contracts
  ERR_CONTRACT_INVALID: { status: 403, title: 'Contract is malformed or its claims are invalid' },
  ERR_CONTRACT_SIGNATURE_INVALID: { status: 403, title: 'Contract signature does not verify' },
  ERR_CONTRACT_KEY_UNKNOWN: { status: 403, title: "Contract is signed by a key that is not the bureau's" },
  ERR_CONTRACT_ALG_NOT_ALLOWED: { status: 403, title: 'Contract signing algorithm is not allowed' },
  ERR_CONTRACT_SUSPENDED: { status: 403, title: 'Contract is suspended' },
  ERR_CONTRACT_REVOKED: { status: 403, title: 'Contract is revoked' },
  ERR_DATASET_WITHDRAWN: { status: 409, title: 'Dataset withdrawn' },
  ERR_CONTRACT_STATE: { status: 409, title: 'Contract status does not allow this change' },
  ERR_CONTRACT_EXPIRED: { status: 403, title: 'Contract term has ended' },
  ERR_CONTRACT_NOT_YET_VALID: { status: 403, title: 'Contract term has not started' },
  ERR_CONTRACT_NOT_READY: { status: 409, title: 'Contract snapshot is being built, or its build failed' },
  ERR_SNAPSHOT_MISMATCH: { status: 500, title: 'Snapshot does not match the contract' },

  // sandbox
  ERR_SQL_SYNTAX: { status: 400, title: 'SQL does not parse' },
  ERR_SQL_NOT_SELECT: { status: 400, title: 'Only one read-only SELECT is allowed' },
  ERR_SQL_TABLE_NOT_ALLOWED: { status: 400, title: 'Table is not in the contract snapshot' },
  ERR_SQL_FUNCTION_NOT_ALLOWED: { status: 400, title: 'Function is not allowed' },
  ERR_SQL_SHAPE_NOT_ALLOWED: { status: 400, title: 'Query shape is not allowed in this mode' },
  ERR_SQL_INVALID: { status: 400, title: 'SQL does not bind against the snapshot' },
  ERR_SQL_RUNTIME: { status: 400, title: 'SQL failed while running' },
  ERR_SANDBOX_DENIED: { status: 403, title: 'Blocked by the sandbox lockdown' },
  ERR_LIMIT_EXCEEDED: { status: 422, title: 'Job exceeded a resource limit' },
  ERR_SANDBOX_FAILURE: { status: 500, title: 'Sandbox failed to run the job' },

  // jobs and outputs
  ERR_JOB_NOT_CANCELLABLE: { status: 409, title: 'Job can no longer be cancelled' },
  ERR_DISCLOSURE_REFUSED: { status: 422, title: 'Output refused by disclosure control' },
  ERR_OUTPUT_NOT_RELEASED: { status: 403, title: 'Output is not released' },
  ERR_OUTPUT_REJECTED: { status: 422, title: 'Output rejected by a reviewer' },
  ERR_OUTPUT_NOT_HELD: { status: 409, title: 'Output is not waiting for review' },
  ERR_REVIEW_DUPLICATE: { status: 409, title: 'This reviewer has already reviewed the output' },
  ERR_DECISION_OVERRIDE_REQUIRED: {
    status: 409,
    title: 'The risk preview breaks the policy: an override with a reason is needed',
  },
  ERR_FEEDBACK_ANSWERED: { status: 409, title: 'This feedback has been answered already' },
  ERR_REPORT_ACKNOWLEDGED: { status: 409, title: 'This report has been acknowledged already' },
  ERR_REVIEW_OWN_WORK: { status: 403, title: 'The author of a job never reviews its output' },
  ERR_CHANGES_REQUESTED: { status: 422, title: 'The reviewers asked for changes' },
  ERR_BUDGET_EXHAUSTED: { status: 409, title: 'Privacy budget exhausted' },
  ERR_QUOTA_EXCEEDED: { status: 429, title: 'Contract job quota exceeded' },
  ERR_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  ERR_IDEMPOTENCY_MISMATCH: { status: 422, title: 'Idempotency-Key reused for a different request' },
  ERR_TEMPLATE_PARAMETER: { status: 400, title: 'A template parameter is missing, unknown or outside its type' },
  ERR_TEMPLATE_NOT_APPLICABLE: {
    status: 409,
    title: 'The template needs a mode or columns the contract does not grant',
  },

  // workers (docs/architecture.md, "The run protocol")
  ERR_WORKER_CLAIM_REFUSED: {
    status: 403,
    title: 'Claim refused: no valid claim ticket, or this executor takes no remote claims',
  },
  ERR_WORKER_LEASE_HELD: { status: 409, title: 'The job is leased to a run that has not expired' },
  ERR_WORKER_NOT_LEASE_HOLDER: { status: 409, title: 'This worker does not hold the lease of that run' },
  ERR_WORKER_OUTCOME_INVALID: { status: 422, title: 'Outcome does not match what the run was handed' },
  ERR_WORKER_REVOKED: { status: 401, title: 'Worker credential revoked or rotated' },
  ERR_WORKER_OUTCOME_MISMATCH: {
    status: 422,
    title: "The worker's result differs from the API's own re-execution of the run (spot check)",
  },

  // reports
  ERR_REPORT_SIGNATURE_INVALID: { status: 422, title: 'Report does not match its signature' },
  // the request is right; what the store holds for its subject makes a report no read could show
  ERR_REPORT_UNRENDERABLE: { status: 500, title: 'The report cannot be rendered' },

  // the public register (seed 003 第三十五条)
  ERR_REGISTER_STATEMENT_PERSONAL: {
    status: 400,
    title: "The public statement carries a person's identifier or a query",
  },
  ERR_REGISTER_INVALID: { status: 422, title: 'The register copy does not verify' },
  // destruction records (docs/architecture.md §19)
  ERR_DATA_DESTROYED: { status: 410, title: 'The data was destroyed; its destruction record says when and why' },
  ERR_DESTRUCTION_RECORD_INVALID: { status: 422, title: 'Destruction record does not match its signature' },

  // catch-all for faults that must not leak details
  ERR_INTERNAL: { status: 500, title: 'Internal error' },
  ERR_STORAGE_FULL: { status: 507, title: 'Not enough storage' },
  ERR_STORE_UNAVAILABLE: { status: 503, title: 'The control store failed; the API is restarting' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** One offending field of a request, for problem+json `errors`. */
export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * Machine-readable facts of an error. Those of a 4xx are sent to the caller in problem+json, so
 * they must never hold data, identifiers or key material.
 */
export interface ErrorExtra {
  /** The sandbox layer that stopped a job: analysis, engine, process, disclosure (or none, red team). */
  layer?: string;
  /** The named rule a refusal cites (an SQL rule, a disclosure check). */
  rule?: string;
  /** An SQL refusal: which one, and what the query named (src/errors/refusals.ts). */
  facts?: RefusalFacts;
  /** Where in the SQL text a refusal points. */
  position?: number;
  line?: number;
  column?: number;
  /** 429: when to try again. */
  retryAfterSeconds?: number;
  /** ERR_DECISION_OVERRIDE_REQUIRED: what in the risk preview breaks the policy. */
  warnings?: string[];
  /** 413: the largest body the API reads. */
  limitBytes?: number;
  /** 507: the directory that is full, what is free and what was needed. */
  directory?: string;
  freeBytes?: number;
  neededBytes?: number;
  /** ERR_CONFIG: the environment variable at fault. */
  variable?: string;
  /** ERR_POLICY_INVALID: the policy file and the field at fault. */
  file?: string;
  path?: string;
  /** ERR_BUDGET_EXHAUSTED: the ledger. */
  epsilonSpent?: number;
  epsilonBudget?: number;
  epsilonRequested?: number;
  /** A runner process that died: the last lines it wrote (logged, never sent). */
  stderr?: string;
  /** ERR_STORE_LOCKED: the process that holds the store's lock, as DuckDB names it. */
  pid?: number;
  /** ERR_WORKER_LEASE_HELD: until when. */
  leaseExpiresAt?: string;
}

/**
 * A refusal or fault with a stable code. `detail` is safe to show to the caller; never put raw
 * data, identifiers or key material in it.
 */
export class PdsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly errors: FieldIssue[] | undefined;
  /** Machine-readable extras (e.g. the SQL position of a refusal). */
  readonly extra: ErrorExtra | undefined;

  constructor(
    code: ErrorCode,
    detail: string,
    options: { cause?: unknown; errors?: FieldIssue[]; extra?: ErrorExtra } = {},
  ) {
    super(`${code}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PdsError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
    this.errors = options.errors;
    this.extra = options.extra;
  }

  get title(): string {
    return ERRORS[this.code].title;
  }
}

export function isPdsError(err: unknown, code?: ErrorCode): err is PdsError {
  return err instanceof PdsError && (code === undefined || err.code === code);
}
