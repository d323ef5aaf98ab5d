/**
 * Versioned migrations of the control store. Append only: a published migration is never edited,
 * a change is a new version. Each runs in its own transaction with its row in `schema_migrations`.
 * Timestamps are ISO-8601 UTC strings, so they sort and compare as text.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'applications, reviews, contracts, jobs, outputs, audit',
    sql: `
      CREATE TABLE applications (
        id VARCHAR PRIMARY KEY,
        operator_org VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        status VARCHAR NOT NULL,            -- pending | approved | rejected
        body VARCHAR NOT NULL,              -- the application as submitted (JSON)
        grants VARCHAR NOT NULL,            -- resolved datasets, columns and masking rules (JSON)
        decided_by VARCHAR,
        decided_at VARCHAR,
        decision_reason VARCHAR,
        contract_id VARCHAR
      );
      CREATE TABLE application_reviews (
        application_id VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL,
        provider_org VARCHAR NOT NULL,
        status VARCHAR NOT NULL,            -- pending | approved | rejected
        reviewer VARCHAR,
        reason VARCHAR,
        reviewed_at VARCHAR,
        PRIMARY KEY (application_id, dataset)
      );
      CREATE TABLE contracts (
        id VARCHAR PRIMARY KEY,
        application_id VARCHAR NOT NULL UNIQUE,
        operator_org VARCHAR NOT NULL,
        status VARCHAR NOT NULL,            -- active | suspended | revoked | expired
        status_reason VARCHAR,
        jws VARCHAR NOT NULL,
        claims VARCHAR NOT NULL,            -- the signed claims (JSON), for queries without re-verifying
        snapshot_path VARCHAR NOT NULL,
        snapshot_hash VARCHAR NOT NULL,
        not_before VARCHAR NOT NULL,
        expires_at VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL
      );
      CREATE TABLE jobs (
        id VARCHAR PRIMARY KEY,
        contract_id VARCHAR NOT NULL,
        operator_org VARCHAR NOT NULL,
        submitted_by VARCHAR NOT NULL,
        name VARCHAR,
        sql VARCHAR NOT NULL,
        status VARCHAR NOT NULL,            -- queued | running | rejected | held | released | failed | cancelled
        reasons VARCHAR NOT NULL,           -- JSON array of {code, message}
        output_id VARCHAR,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at VARCHAR NOT NULL,
        started_at VARCHAR,
        finished_at VARCHAR
      );
      CREATE INDEX jobs_status ON jobs(status);
      CREATE TABLE outputs (
        id VARCHAR PRIMARY KEY,
        job_id VARCHAR NOT NULL UNIQUE,
        contract_id VARCHAR NOT NULL,
        operator_org VARCHAR NOT NULL,
        status VARCHAR NOT NULL,            -- released | held | rejected
        columns VARCHAR NOT NULL,           -- JSON [{name, type}]
        row_count INTEGER NOT NULL,
        cells_suppressed INTEGER NOT NULL,
        checks VARCHAR NOT NULL,            -- JSON: every check applied, its parameters and effect
        sha256 VARCHAR NOT NULL,            -- of the CSV form
        file VARCHAR NOT NULL,
        manifest_jws VARCHAR,
        released_at VARCHAR,
        released_by VARCHAR,
        created_at VARCHAR NOT NULL
      );
      CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY,
        recorded_at VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        org VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        object_type VARCHAR NOT NULL,
        object_id VARCHAR NOT NULL,
        reason VARCHAR,
        request_id VARCHAR,
        details VARCHAR NOT NULL,           -- JSON, never raw rows or identifiers
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'risk preview of an application',
    sql: `ALTER TABLE applications ADD COLUMN risk VARCHAR;`,
  },
  {
    version: 3,
    name: 'review deadlines, contract status history, decision terms, effectiveness assessments',
    sql: `
      ALTER TABLE application_reviews ADD COLUMN due_at VARCHAR;
      ALTER TABLE applications ADD COLUMN decision_terms VARCHAR;
      ALTER TABLE contracts ADD COLUMN status_changed_at VARCHAR;
      ALTER TABLE contracts ADD COLUMN status_changed_by VARCHAR;
      CREATE TABLE effectiveness_assessments (
        contract_id VARCHAR NOT NULL,
        year INTEGER NOT NULL,
        passed BOOLEAN NOT NULL,
        indicators VARCHAR NOT NULL,        -- JSON [{name, value, target?, met}]
        assessor VARCHAR NOT NULL,
        notes VARCHAR,
        recorded_by VARCHAR NOT NULL,
        recorded_at VARCHAR NOT NULL,
        PRIMARY KEY (contract_id, year)
      );
    `,
  },
  {
    version: 4,
    name: 'output reviews, idempotent job submission',
    sql: `
      CREATE TABLE output_reviews (
        output_id VARCHAR NOT NULL,
        reviewer VARCHAR NOT NULL,          -- the bureau user's sub: two different ones release
        decision VARCHAR NOT NULL,          -- approve | reject
        reason VARCHAR,
        reviewed_at VARCHAR NOT NULL,
        PRIMARY KEY (output_id, reviewer)
      );
      ALTER TABLE outputs ADD COLUMN held_because VARCHAR;   -- JSON [reason]
      ALTER TABLE outputs ADD COLUMN manifest_draft VARCHAR; -- JSON: the manifest but its release facts
      ALTER TABLE jobs ADD COLUMN idempotency_key VARCHAR;
      ALTER TABLE jobs ADD COLUMN request_sha256 VARCHAR;
      CREATE UNIQUE INDEX jobs_idempotency ON jobs(operator_org, idempotency_key);
    `,
  },
  {
    version: 5,
    name: 'output fingerprints for the differencing check',
    sql: `
      ALTER TABLE outputs ADD COLUMN units_fingerprint VARCHAR; -- JSON {keyColumns, rows: [{key, units}]}; never released
    `,
  },
  {
    version: 6,
    name: 'privacy ledger',
    sql: `
      CREATE TABLE privacy_ledger (
        job_id VARCHAR PRIMARY KEY,          -- one charge per job, whatever its retries
        contract_id VARCHAR NOT NULL,
        epsilon_micro BIGINT NOT NULL,       -- ε × 10^6: exact sums, no floating point drift
        delta DOUBLE NOT NULL,
        charged_at VARCHAR NOT NULL
      );
      CREATE INDEX privacy_ledger_contract ON privacy_ledger(contract_id);
      ALTER TABLE jobs ADD COLUMN dp_params VARCHAR;   -- JSON {bounds}: a dp job's contribution bounds
    `,
  },
  {
    version: 7,
    name: 'signed audit checkpoints',
    sql: `
      CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY,              -- the audit entry whose hash was signed
        head_hash VARCHAR NOT NULL,
        jws VARCHAR NOT NULL,                -- bureau-signed {seq, headHash}
        reason VARCHAR NOT NULL,             -- entries | daily
        created_at VARCHAR NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'dataset withdrawals',
    sql: `
      CREATE TABLE dataset_withdrawals (
        dataset VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        withdrawn_by VARCHAR NOT NULL,
        withdrawn_at VARCHAR NOT NULL,
        suspended VARCHAR NOT NULL            -- JSON [contract id]
      );
    `,
  },
  {
    version: 9,
    name: 'risk assessment reports',
    sql: `
      CREATE TABLE reports (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,                -- contract | operator
        subject VARCHAR NOT NULL,             -- the contract id, or the operator organisation
        operator_org VARCHAR NOT NULL,
        period VARCHAR NOT NULL,              -- 2026-Q3, 2026-07, 2026
        trigger VARCHAR NOT NULL,             -- schedule | demand
        rating VARCHAR NOT NULL,              -- low | medium | high
        body VARCHAR NOT NULL,                -- the report (JSON) whose canonical form the JWS seals
        html VARCHAR NOT NULL,
        jws VARCHAR NOT NULL,                 -- bureau-signed {sha256 of body, sha256 of html, …}
        generated_by VARCHAR NOT NULL,
        generated_at VARCHAR NOT NULL,
        -- kind:subject:period for scheduled reports, NULL on demand: the scheduler writes one
        -- report per subject and period however often it runs, people may ask as often as they like
        schedule_key VARCHAR UNIQUE
      );
      CREATE INDEX reports_subject ON reports(subject, period);
    `,
  },
  {
    version: 10,
    name: 'dataset reinstatement',
    sql: `
      ALTER TABLE dataset_withdrawals ADD COLUMN reinstated_at VARCHAR;   -- NULL while the dataset is withdrawn
      ALTER TABLE dataset_withdrawals ADD COLUMN reinstated_by VARCHAR;
      ALTER TABLE dataset_withdrawals ADD COLUMN reinstate_reason VARCHAR;
    `,
  },
  {
    version: 11,
    name: 'audit chain head',
    sql: `
      -- the chain's last seq and hash, kept in the append's own transaction: finding the head
      -- was a top-N over the whole log on every append (slower as the log grew)
      CREATE TABLE audit_head (seq BIGINT NOT NULL, hash VARCHAR NOT NULL);
      INSERT INTO audit_head SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    `,
  },
  {
    version: 12,
    name: 'worker identities and job runs',
    sql: `
      -- each pds worker is an identity with its own credential (docs/architecture.md, "Workers");
      -- only the SHA-256 of its secret is kept
      CREATE TABLE workers (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        secret_sha256 VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        expires_at VARCHAR NOT NULL,
        rotated_at VARCHAR,
        revoked_at VARCHAR,
        revoked_by VARCHAR,
        revoke_reason VARCHAR
      );
      -- one row per run of a job: who executes it (embedded, or a worker id), the API's own plan
      -- for it (analysis and expected result columns, the only facts disclosure control uses),
      -- and the lease: only its holder may report, and the job runs again only after it expires
      CREATE TABLE job_runs (
        job_id VARCHAR NOT NULL,
        attempt INTEGER NOT NULL,
        executor VARCHAR NOT NULL,
        plan VARCHAR NOT NULL,
        claimed_at VARCHAR NOT NULL,
        lease_expires_at VARCHAR NOT NULL,
        reported_at VARCHAR,
        PRIMARY KEY (job_id, attempt)
      );
    `,
  },
  {
    version: 13,
    name: 'file paths relative to DATA_DIR',
    sql: `
      -- a copied or restored DATA_DIR serves its own files (docs/architecture.md §14)
      UPDATE contracts SET snapshot_path = 'snapshots/' || regexp_extract(snapshot_path, '([^/]+)$', 1)
        WHERE snapshot_path LIKE '/%';
      UPDATE outputs SET file = 'outputs/' || regexp_extract(file, '([^/]+)$', 1) WHERE file LIKE '/%';
    `,
  },
  {
    version: 14,
    name: 'no secondary index on an updated column',
    sql: `
      -- jobs.status changes at every transition; DuckDB's ART index on an updated column can come to
      -- disagree with the table (docs/architecture.md §14), and a scan of jobs by status is cheap
      DROP INDEX IF EXISTS jobs_status;
    `,
  },
  {
    version: 15,
    name: 'job threads, output votes that can request changes',
    sql: `
      -- reviewers' comments (joined at consolidation) and the operator's and bureau's replies
      CREATE TABLE job_comments (
        job_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        author VARCHAR NOT NULL,
        org VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        body VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        PRIMARY KEY (job_id, seq)
      );
      -- output_reviews.decision may now also be 'request-changes'; outputs.status 'changes-requested'
    `,
  },
  {
    version: 16,
    name: 'decision overrides',
    sql: `
      -- an approval against a risk preview that breaks the policy: {reason, warnings, by} (JSON)
      ALTER TABLE applications ADD COLUMN decision_override VARCHAR;
    `,
  },
  {
    version: 17,
    name: 'feedback to providers, acknowledgements of reports',
    sql: `
      -- seed 002 第二十二条: an operator's feedback on data it used, and its provider's answer
      CREATE TABLE dataset_feedback (
        id VARCHAR PRIMARY KEY,
        dataset VARCHAR NOT NULL,
        provider VARCHAR NOT NULL,
        operator_org VARCHAR NOT NULL,
        contract_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,              -- data-quality | usage
        subject VARCHAR NOT NULL,
        body VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        due_at VARCHAR NOT NULL,
        answer VARCHAR,
        answered_by VARCHAR,
        answered_at VARCHAR
      );
      -- seed 002 第三十四条(四): the operator's statement on a risk report about it, bureau-sealed
      CREATE TABLE report_acknowledgements (
        report_id VARCHAR NOT NULL,
        org VARCHAR NOT NULL,
        acknowledged_by VARCHAR NOT NULL,
        statement VARCHAR NOT NULL,
        acknowledged_at VARCHAR NOT NULL,
        jws VARCHAR NOT NULL,
        PRIMARY KEY (report_id, org)
      );
    `,
  },
  {
    version: 18,
    name: 'revisions of jobs sent back by reviewers',
    sql: `ALTER TABLE jobs ADD COLUMN revision_of VARCHAR; -- the changes-requested job this one revises`,
  },
  {
    version: 19,
    name: 'console sign-ins',
    sql: `CREATE TABLE console_sign_ins (
      jti VARCHAR PRIMARY KEY,     -- a sign-in link's id (used once), or an OIDC sign-in's own id
      via VARCHAR NOT NULL,        -- link | oidc
      sub VARCHAR NOT NULL,
      org VARCHAR NOT NULL,
      roles VARCHAR NOT NULL,      -- JSON array
      signed_in_at VARCHAR NOT NULL
    );`,
  },
  {
    version: 20,
    name: 'snapshot builds after the decision',
    sql: `CREATE TABLE snapshot_builds (
      contract_id VARCHAR PRIMARY KEY,
      application_id VARCHAR NOT NULL UNIQUE,
      operator_org VARCHAR NOT NULL,
      status VARCHAR NOT NULL,     -- building | failed | sealed
      claims VARCHAR NOT NULL,     -- the claims the bureau decided, to sign with the snapshot's once it is sealed (JSON)
      term_months INTEGER NOT NULL,
      decided_by VARCHAR NOT NULL, -- the deciding actor (JSON): the contract is signed in its name
      request_id VARCHAR,
      attempts INTEGER NOT NULL,
      error VARCHAR,               -- the last attempt's error (code: message)
      created_at VARCHAR NOT NULL,
      updated_at VARCHAR NOT NULL
    );`,
  },
  {
    version: 21,
    name: 'spot checks of remote work',
    sql: `
      -- a remote worker's run the API executed again on its own runner before releasing it
      -- (docs/architecture.md §4): why it was checked, both results' canonical hashes, the verdict
      CREATE TABLE spot_checks (
        job_id VARCHAR NOT NULL,
        attempt INTEGER NOT NULL,
        worker_id VARCHAR NOT NULL,
        reasons VARCHAR NOT NULL,      -- JSON array: sampled | new-credential | near-threshold
        result VARCHAR NOT NULL,       -- matched | mismatched | inconclusive
        worker_sha256 VARCHAR NOT NULL,
        api_sha256 VARCHAR,            -- NULL when the API's own run did not finish
        checked_at VARCHAR NOT NULL,
        PRIMARY KEY (job_id, attempt)
      );
    `,
  },
  {
    version: 22,
    name: 'the public register',
    sql: `
      -- seed 003 第三十五条: the measures the bureau publishes, each entry chained to the one before
      -- (prev_hash; genesis 64 zeros), hashed (entry_hash: SHA-256 of the canonical body) and sealed
      -- by the bureau (jws). body is the canonical JSON that was hashed and signed; the columns beside
      -- it are the same public fields, for reading. Nothing here names a person.
      CREATE TABLE register_entries (
        seq INTEGER PRIMARY KEY,
        kind VARCHAR NOT NULL,            -- restriction | suspension | resumption | revocation | dataset-withdrawal | violation
        recorded_at VARCHAR NOT NULL,
        published_at VARCHAR NOT NULL,    -- recorded_at + the policy's delay: public from then on
        contract_id VARCHAR,
        operator_org VARCHAR,
        scenario_title VARCHAR,
        datasets VARCHAR,                 -- JSON array
        action VARCHAR,
        effective_at VARCHAR,
        reason_category VARCHAR,
        statement VARCHAR,
        body VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL,
        entry_hash VARCHAR NOT NULL UNIQUE,
        jws VARCHAR NOT NULL,
        idempotency_key VARCHAR UNIQUE,   -- a recorded violation's Idempotency-Key: a retry answers the same entry
        request_sha256 VARCHAR
      );
    `,
  },
  {
    version: 23,
    name: 'destruction records',
    sql: `
      -- one row for every deletion of durable data (docs/architecture.md §19; seed 003 第三十九条):
      -- written pending, with the files' hashes, in a transaction before any file is unlinked;
      -- sealed by the bureau key and marked done after; start-up completes the pending ones
      CREATE TABLE destruction_records (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,          -- snapshot | output
        subject_id VARCHAR NOT NULL,    -- the contract (snapshot) or the output; one record per kind and subject
        contract_id VARCHAR NOT NULL,
        operator_org VARCHAR NOT NULL,
        why VARCHAR NOT NULL,           -- term-ended | revoked | retention | request
        actor VARCHAR NOT NULL,         -- JSON {sub, role, org}; housekeeping for retention
        request_id VARCHAR,
        files VARCHAR NOT NULL,         -- JSON [{path, sha256, bytes}], path relative to DATA_DIR, hashed before deletion
        status VARCHAR NOT NULL,        -- pending | done
        requested_at VARCHAR NOT NULL,
        destroyed_at VARCHAR,
        jws VARCHAR,                    -- the sealed record (typ pds-destruction+jwt), once done
        jws_sha256 VARCHAR
      );
    `,
  },
];
