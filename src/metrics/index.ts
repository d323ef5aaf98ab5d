/**
 * Prometheus metrics (`GET /metrics`, prom-client; docs/operations.md "Metrics"). Two kinds:
 * timings observed where they happen (a run's queue and run time, a snapshot's build, an audit
 * append) in this process's histograms; and the state of the domain (jobs by status and mode,
 * the queue's depth, refusals by layer and rule, suppressed cells, ε spent, spot checks of remote
 * workers and the outputs a caught forgery withheld) read from the control store at each scrape —
 * the store is the truth, so these survive a restart and never count a rolled-back transaction.
 */
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DataDirEncryption, Store } from '../store/index.ts';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'pds_' });

const SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export const runSeconds = new Histogram({
  name: 'pds_job_run_seconds',
  help: 'from a run start to its outcome recorded (claim, sandbox, disclosure, store), by mode and final status',
  labelNames: ['mode', 'status'],
  buckets: SECONDS,
  registers: [registry],
});
export const queueSeconds = new Histogram({
  name: 'pds_job_queue_seconds',
  help: 'from submission to the run start, by mode',
  labelNames: ['mode'],
  buckets: SECONDS,
  registers: [registry],
});
export const snapshotBuildSeconds = new Histogram({
  name: 'pds_snapshot_build_seconds',
  help: "a contract's masked snapshot, built and sealed",
  buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  registers: [registry],
});
export const auditAppendSeconds = new Histogram({
  name: 'pds_audit_append_seconds',
  help: 'one audit entry hashed onto the chain (inside its transaction)',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
  registers: [registry],
});

const jobs = new Gauge({
  name: 'pds_jobs',
  help: 'jobs in the control store, by status and mode',
  labelNames: ['status', 'mode'],
  registers: [registry],
});
const queueDepth = new Gauge({
  name: 'pds_queue_depth',
  help: 'jobs queued and not yet started',
  registers: [registry],
});
const refusals = new Gauge({
  name: 'pds_job_refusals',
  help: 'rejected jobs so far, by the sandbox layer and the named rule that stopped them',
  labelNames: ['layer', 'rule'],
  registers: [registry],
});
const cellsSuppressed = new Gauge({
  name: 'pds_cells_suppressed',
  help: 'cells suppressed by disclosure control in every output so far',
  registers: [registry],
});
const spotChecks = new Gauge({
  name: 'pds_worker_spot_checks',
  help: "remote workers' results the API re-executed before release, by result (matched, mismatched: a forgery caught, inconclusive)",
  labelNames: ['result'],
  registers: [registry],
});
const outputsWithheld = new Gauge({
  name: 'pds_outputs_withheld',
  help: 'outputs withheld because the worker that produced them was caught forging another run',
  registers: [registry],
});
const retentionDue = new Gauge({
  name: 'pds_retention_due',
  help: 'data whose retention has run out (policies/retention.yaml) and that housekeeping has not deleted yet, by kind (snapshot, output)',
  labelNames: ['kind'],
  registers: [registry],
});
// a count read from the store, so it survives restarts as a counter would not (records are never deleted)
const destructionRecords = new Gauge({
  name: 'pds_destruction_records_total',
  help: 'destruction records sealed (data deleted), by kind and why (term-ended, revoked, retention, request)',
  labelNames: ['kind', 'why'],
  registers: [registry],
});
const epsilonSpent = new Gauge({
  name: 'pds_epsilon_spent',
  help: 'ε charged to dp contracts so far, by contract mode (dp)',
  registers: [registry],
});

const dataDirEncrypted = new Gauge({
  name: 'pds_data_dir_encrypted',
  help: '1 when DATA_DIR is on an encrypted device or directory (how: dm-crypt, fscrypt, ecryptfs), else 0; state tells not-encrypted from unknown (checked at start-up)',
  labelNames: ['state', 'how'],
  registers: [registry],
});

/** The domain's state, read from the store into the gauges: called by each scrape. */
export async function refreshFromStore(store: Store): Promise<void> {
  const [byStatus, depth, refused, cells, eps, checks, withheld, destroyed] = await Promise.all([
    store.all<{ status: string; mode: string | null; n: number }>(
      `SELECT j.status, json_extract_string(c.claims, '$.mode') AS mode, count(*)::INTEGER AS n
         FROM jobs j LEFT JOIN contracts c ON c.id = j.contract_id GROUP BY ALL`,
    ),
    store.one<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM jobs WHERE status = 'queued'`),
    store.all<{ layer: string | null; rule: string | null; n: number }>(
      `SELECT json_extract_string(r, '$.layer') AS layer, json_extract_string(r, '$.rule') AS rule, count(*)::INTEGER AS n
         FROM (SELECT unnest(json_extract(reasons, '$[*]')) AS r FROM jobs WHERE status = 'rejected') GROUP BY ALL`,
    ),
    store.one<{ n: number | null }>('SELECT sum(cells_suppressed)::BIGINT AS n FROM outputs'),
    store.one<{ n: number | null }>('SELECT sum(epsilon_micro)::BIGINT AS n FROM privacy_ledger'),
    store.all<{ result: string; n: number }>('SELECT result, count(*)::INTEGER AS n FROM spot_checks GROUP BY ALL'),
    store.one<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM audit_log WHERE action = 'output.withheld'`),
    store.all<{ kind: string; why: string; n: number }>(
      `SELECT kind, why, count(*)::INTEGER AS n FROM destruction_records WHERE status = 'done' GROUP BY ALL`,
    ),
  ]);
  jobs.reset();
  for (const r of byStatus) jobs.set({ status: r.status, mode: r.mode ?? 'unknown' }, r.n);
  queueDepth.set(depth?.n ?? 0);
  refusals.reset();
  for (const r of refused) refusals.set({ layer: r.layer ?? 'unknown', rule: r.rule ?? 'none' }, r.n);
  cellsSuppressed.set(Number(cells?.n ?? 0));
  epsilonSpent.set(Number(eps?.n ?? 0) / 1e6);
  // every result is present, so an alert on mismatched sees 0 before the first forgery
  for (const result of ['matched', 'mismatched', 'inconclusive'])
    spotChecks.set({ result }, checks.find((c) => c.result === result)?.n ?? 0);
  outputsWithheld.set(withheld?.n ?? 0);
  destructionRecords.reset();
  for (const r of destroyed) destructionRecords.set({ kind: r.kind, why: r.why }, r.n);
}

/** The scrape: the store's state read, then every metric in the text exposition format. */
export async function scrape(
  store: Store,
  dataDirEncryption: DataDirEncryption,
  /** What retention says is due now, by kind (Housekeeping.dueCounts). */
  due: Record<string, number> = {},
): Promise<{ body: string; contentType: string }> {
  await refreshFromStore(store);
  retentionDue.reset();
  for (const [kind, n] of Object.entries(due)) retentionDue.set({ kind }, n);
  // one series, of this process's DATA_DIR: an alert on `== 0` catches not-encrypted and unknown alike
  dataDirEncrypted.reset();
  dataDirEncrypted.set(
    { state: dataDirEncryption.state, how: dataDirEncryption.how ?? 'none' },
    dataDirEncryption.state === 'encrypted' ? 1 : 0,
  );
  return { body: await registry.metrics(), contentType: registry.contentType };
}
