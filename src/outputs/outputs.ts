import fs from 'node:fs';
import path from 'node:path';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../audit/index.ts';
import type { DestructionService, DestructionWhy } from '../destruction/index.ts';
import { type ContractService, type VerifiedContract } from '../contracts/index.ts';
import { actorOf, canSeeOperatorWork, type Principal } from '../auth/index.ts';
import { candidates, type CheckReport, type EarlierOutput, type Fingerprint } from '../disclosure/index.ts';
import { PdsError } from '../errors/index.ts';
import type { KeyRing } from '../keys/index.ts';
import {
  ensureFreeSpace,
  isDiskFull,
  resolveStored,
  storedPath,
  type JsonValue,
  type Store,
  type Tx,
} from '../store/index.ts';
import { sha256 } from '../digest/index.ts';
import { csvOf, jsonOf, ParquetWriter, type OutputFormat } from './formats.ts';
import { signManifest, type Manifest } from './manifest.ts';
import { ballotsFor, loadBallots, VOTES_TO_CONSOLIDATE, type Ballot } from './review.ts';
import type { OutputJobs, ReleaseDecision } from './jobs.ts';
import { withholdUnverified } from './withhold.ts';
import { outputIdFor } from '../ids/index.ts';

/**
 * Outputs after a job: their release (at once, or by two different bureau reviewers), the signed
 * manifest, and downloads (docs/architecture.md §12; seed 002 第二十六条, seed 003 第三十四条).
 */

export interface OutputView {
  id: string;
  jobId: string;
  contractId: string;
  status: 'released' | 'held' | 'rejected' | 'changes-requested';
  columns: { name: string; type: string }[];
  rowCount: number;
  cellsSuppressed: number;
  checks: CheckReport[];
  /** Why a held output waits for review. */
  heldBecause: string[];
  /**
   * A held output withheld because the worker that ran it was caught forging (forgery.ts): the
   * worker, the forged job and when, as facts a reader says in its own words (issue 33).
   */
  withheld?: Withheld;
  /** The votes this principal may read (independent until consolidated: see review.ts). */
  reviews: Ballot[];
  /** How many votes are in, and how many consolidate the review. */
  votes: { recorded: number; needed: number };
  sha256: string;
  releasedAt: string | null;
  releasedBy: string | null;
  createdAt: string;
}

/** The manifest without its release facts: fixed when the output is recorded, completed at release. */
export type ManifestDraft = Omit<Manifest, 'releasedAt' | 'releasedBy' | 'reviewers'>;

/** Two different bureau users must approve a held output (docs/architecture.md §12, §9: no single insider). */
export const APPROVALS_TO_RELEASE = VOTES_TO_CONSOLIDATE;

type Row = Record<string, string | number | null>;

/** The forgery an output was withheld for, from its `output.withheld` audit entry. */
export interface Withheld {
  workerId: string;
  forgedJobId: string;
  at: string;
}

/** The latest `output.withheld` entry of an output, if any (forgery.ts writes its details). */
async function withheldFor(reader: Pick<Tx, 'one'>, id: string): Promise<Withheld | undefined> {
  const r = await reader.one<{ details: string; at: string }>(
    `SELECT details, recorded_at AS at FROM audit_log WHERE action = 'output.withheld' AND object_id = $1
      ORDER BY seq DESC LIMIT 1`,
    [id],
  );
  if (!r) return undefined;
  const d = JSON.parse(r.details) as { worker?: unknown; forgedJobId?: unknown };
  return typeof d.worker === 'string' && typeof d.forgedJobId === 'string'
    ? { workerId: d.worker, forgedJobId: d.forgedJobId, at: r.at }
    : undefined;
}

export interface StoredOutput extends Omit<OutputView, 'reviews' | 'votes' | 'withheld'> {
  operatorOrg: string;
  file: string;
  manifestJws: string | null;
  draft: ManifestDraft | null;
}

/** An output's files as `keep` wrote them: the rows they hold and each form's SHA-256. */
export interface OutputForms {
  rows: JsonValue[][];
  formats: Record<OutputFormat, string>;
}

/** How many of an operator's latest outputs each new one is compared with. */
const FINGERPRINTS_COMPARED = 400;
/** Rows of earlier outputs' fingerprints kept parsed (~300 bytes each with their candidates). */
const EARLIER_ROWS_KEPT = 200_000;
/** What a kept fingerprint counts against EARLIER_ROWS_KEPT: its rows, and at least one. */
const keptRows = (f: Fingerprint): number => Math.max(1, f.rows.length);

/** What the manifest of a decided output says (signed now when released, on approval when held). */
function manifestDraftOf(
  input: {
    job: { id: string; contractId: string; sql: string };
    claims: VerifiedContract;
    decision: ReleaseDecision;
    ranBy: string;
    forms: OutputForms;
  },
  outputId: string,
): ManifestDraft {
  const { job, claims, decision: d, forms } = input;
  return {
    output: {
      id: outputId,
      sha256: forms.formats.csv,
      format: 'text/csv',
      rows: d.rows.length,
      columns: d.columns.map((c) => c.name),
      formats: forms.formats,
    },
    contractId: job.contractId,
    jobId: job.id,
    sqlSha256: sha256(job.sql),
    snapshotHash: claims.snapshot.hash,
    policyHash: claims.policyHash,
    checks: d.checks,
    cellsSuppressed: d.cellsSuppressed,
    epsilonSpent: d.epsilonSpent,
    ranBy: input.ranBy,
    dataSources: claims.datasets.map((ds) => ({
      dataset: ds.dataset,
      provider: ds.provider,
      providerName: ds.providerName,
    })),
  };
}

export class OutputService {
  private readonly parquet: ParquetWriter;
  /**
   * Earlier outputs' fingerprints and the check's candidates from them, by output id. Each release
   * compares with up to FINGERPRINTS_COMPARED of them inside the release transaction; reading and
   * parsing them all there every time cost more than the check itself.
   */
  private readonly earlier = new Map<string, { fingerprint: Fingerprint; candidates: ReturnType<typeof candidates> }>();
  private earlierRows = 0;

  constructor(
    private readonly deps: {
      store: Store;
      keys: KeyRing;
      contracts: ContractService;
      /** The job part's moves and reads (jobs.ts): the only way an output moves its job. */
      jobs: OutputJobs;
      dataDir: string;
      now: () => Date;
      /** Free space DATA_DIR keeps beyond an output's own size (config MIN_FREE_MB). */
      minFreeBytes?: number;
      /** Rows of earlier outputs' fingerprints kept parsed (default EARLIER_ROWS_KEPT). */
      earlierRowsKept?: number;
      /** Records every deletion of an output's data (docs/architecture.md §19). */
      destruction: DestructionService;
    },
  ) {
    this.parquet = new ParquetWriter(path.join(deps.dataDir, 'tmp'));
  }

  async close(): Promise<void> {
    await this.parquet.close();
  }

  /** A caught forgery's consequence for outputs (withhold.ts), in the caller's transaction. */
  withholdUnverified(tx: Tx, workerId: string, why: string, context: { forgedJobId: string }): Promise<string[]> {
    return withholdUnverified(tx, this.deps.jobs, workerId, why, context);
  }

  /** Where an output's Parquet form is kept, beside its data. */
  private parquetFile(file: string): string {
    return file.replace(/\.json$/, '.parquet');
  }

  /** Signs the manifest of an output being released; `releasedBy` is 'auto' or the reviewers. */
  async sign(
    draft: ManifestDraft,
    releasedAt: string,
    releasedBy: string,
    operatorOrg: string,
    reviewers?: string[],
  ): Promise<string> {
    const manifest: Manifest = { ...draft, releasedAt, releasedBy, ...(reviewers ? { reviewers } : {}) };
    return signManifest(this.deps.keys.bureau, manifest, operatorOrg);
  }

  /** Where an output's data is kept (inside the domain, mode 0600). */
  fileFor(outputId: string): string {
    return path.join(this.deps.dataDir, 'outputs', `${outputId}.json`);
  }

  /** Every file holding an output's data: its rows and its Parquet form (csv and json are rendered from the rows). */
  dataFiles(file: string): string[] {
    return [file, this.parquetFile(file)];
  }

  /** Records the deletion of an output's data, every form, inside `tx`; complete it after the commit (src/destruction). */
  planDestruction(
    tx: Tx,
    o: StoredOutput,
    why: DestructionWhy,
    actor: Actor,
    requestId?: string,
  ): Promise<string | undefined> {
    return this.deps.destruction.plan(tx, {
      kind: 'output',
      subjectId: o.id,
      contractId: o.contractId,
      operatorOrg: o.operatorOrg,
      why,
      actor,
      requestId,
      files: this.dataFiles(o.file).map((file) => ({ file })),
    });
  }

  /** Removes an output's data written by a transaction that did not commit: never recorded, so no destruction record. */
  discard(file: string): void {
    for (const f of [file, `${file}.tmp`, this.parquetFile(file)]) fs.rmSync(f, { force: true });
  }

  /**
   * Keeps an output's data and its Parquet form before the transaction that records it (writing
   * them inside would hold every other store write meanwhile); answers the hashes its manifest
   * seals. The caller discards `file` if that transaction does not record the output.
   */
  async keep(file: string, columns: { name: string; type: string }[], rows: JsonValue[][]): Promise<OutputForms> {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const csv = csvOf(columns, rows);
    const body = JSON.stringify({ columns, rows });
    ensureFreeSpace(path.dirname(file), (this.deps.minFreeBytes ?? 0) + Buffer.byteLength(body), 'keep an output');
    try {
      fs.writeFileSync(`${file}.tmp`, body, { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
      // the Parquet form is written once, here, so the bytes sealed are the bytes served
      const parquetFile = this.parquetFile(file);
      await this.parquet.write(columns, csv, parquetFile);
      return {
        rows,
        formats: {
          csv: sha256(csv),
          json: sha256(jsonOf(columns, rows)),
          parquet: sha256(fs.readFileSync(parquetFile)),
        },
      };
    } catch (err) {
      this.discard(file);
      if (isDiskFull(err))
        throw new PdsError(
          'ERR_STORAGE_FULL',
          `the disk holding ${path.dirname(file)} is full; the output was not kept`,
          {
            cause: err,
            extra: { directory: path.dirname(file) },
          },
        );
      throw err;
    }
  }

  /**
   * Records a decided output inside the caller's transaction (the one that made the decision):
   * signs the manifest when it is released, and moves the job to released or held. Its files are
   * the ones `keep` wrote for the same rows.
   */
  async record(
    tx: Tx,
    input: {
      job: { id: string; contractId: string; operatorOrg: string; sql: string };
      claims: VerifiedContract;
      decision: ReleaseDecision;
      at: string;
      ranBy: string;
      file: string;
      forms: OutputForms;
    },
  ): Promise<void> {
    const { job, decision: d, at, file, forms } = input;
    if (forms.rows !== d.rows)
      throw new PdsError('ERR_INTERNAL', `the files kept for job ${job.id} are not of the rows decided`);
    const outputId = outputIdFor(job.id);
    const draft = manifestDraftOf(input, outputId);
    const release = d.decision === 'released';
    const jws = release ? await this.sign(draft, at, 'auto', job.operatorOrg) : null;
    const status = release ? 'released' : 'held';
    await tx.run(
      `INSERT INTO outputs (id, job_id, contract_id, operator_org, status, columns, row_count, cells_suppressed, checks, sha256, file, manifest_jws, released_at, released_by, created_at, held_because, manifest_draft, units_fingerprint)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
      [
        outputId,
        job.id,
        job.contractId,
        job.operatorOrg,
        status,
        JSON.stringify(d.columns),
        d.rows.length,
        d.cellsSuppressed,
        JSON.stringify(d.checks),
        draft.output.sha256,
        storedPath(this.deps.dataDir, file),
        jws,
        release ? at : null,
        release ? 'auto' : null,
        at,
        release ? null : JSON.stringify(d.reasons),
        JSON.stringify(draft),
        d.fingerprint ? JSON.stringify(d.fingerprint) : null,
      ],
      'outputs',
    );
    await this.deps.jobs.move(
      tx,
      job.id,
      status === 'released' ? 'release' : 'hold',
      { outputId, finishedAt: at },
      { actor: SYSTEM_ACTOR, details: { outputId, ranBy: input.ranBy } },
    );
    await appendAudit(tx, {
      actor: SYSTEM_ACTOR,
      action: `output.${status}`,
      objectType: 'output',
      objectId: outputId,
      details: {
        sha256: draft.output.sha256,
        rows: d.rows.length,
        cellsSuppressed: d.cellsSuppressed,
        checks: d.checks.map((c) => c.check),
        ranBy: input.ranBy,
        // the bureau's record of answers from earlier cells and of pairs one or two people apart
        ...(d.record ? { earlierAnswers: d.record } : {}),
      },
    });
  }

  /**
   * Fingerprints of the operator's latest released or held outputs, under any of its contracts,
   * for the differencing check (docs/architecture.md §12): trackers may span contracts.
   */
  async fingerprints(tx: Pick<Tx, 'all' | 'one'>, operatorOrg: string, contractId: string): Promise<EarlierOutput[]> {
    // the bulk read below must find every id the first found: one statement text for both
    const latest = (columns: string) =>
      `SELECT ${columns} FROM outputs
       WHERE operator_org = $1 AND status IN ('released', 'held') AND units_fingerprint IS NOT NULL
       ORDER BY created_at DESC, id DESC LIMIT ${FINGERPRINTS_COMPARED}`;
    const rows = await tx.all<{ id: string; contract_id: string }>(latest('id, contract_id'), [operatorOrg]);
    const missing = rows.filter((r) => !this.earlier.has(r.id)).map((r) => r.id);
    const remember = (id: string, json: string) => {
      const fingerprint = JSON.parse(json) as Fingerprint;
      this.earlier.set(id, { fingerprint, candidates: candidates(id, fingerprint) });
      this.earlierRows += keptRows(fingerprint);
    };
    // usually one is new (the operator's previous output): read by id; after a restart, all at once
    if (missing.length <= 4) {
      for (const id of missing) {
        const r = await tx.one<{ f: string }>('SELECT units_fingerprint AS f FROM outputs WHERE id = $1', [id]);
        remember(id, r!.f);
      }
    } else {
      const all = await tx.all<{ id: string; f: string }>(latest('id, units_fingerprint AS f'), [operatorOrg]);
      for (const r of all) if (!this.earlier.has(r.id)) remember(r.id, r.f);
    }
    const out = rows.map((r) => ({
      outputId: r.id,
      sameContract: r.contract_id === contractId,
      ...this.earlier.get(r.id)!,
    }));
    // the most recently used last, so the first is the one to drop: the newest output of these last
    for (const r of [...rows].reverse()) {
      const kept = this.earlier.get(r.id)!;
      this.earlier.delete(r.id);
      this.earlier.set(r.id, kept);
    }
    for (const [id, kept] of this.earlier) {
      if (this.earlierRows <= (this.deps.earlierRowsKept ?? EARLIER_ROWS_KEPT)) break;
      this.earlier.delete(id);
      this.earlierRows -= keptRows(kept.fingerprint);
    }
    return out;
  }

  /** An output's kept data: its columns and rows, as disclosure control left them. */
  stored(o: StoredOutput): { columns: { name: string; type: string }[]; rows: JsonValue[][] } {
    return JSON.parse(fs.readFileSync(o.file, 'utf8')) as {
      columns: { name: string; type: string }[];
      rows: JsonValue[][];
    };
  }

  /** The stored output (for output-review.ts too). */
  async load(id: string, tx?: Tx): Promise<StoredOutput | undefined> {
    const r = await (tx ?? this.deps.store).one<Row>('SELECT * FROM outputs WHERE id = $1', [id]);
    if (!r) return undefined;
    return {
      id,
      jobId: String(r.job_id),
      contractId: String(r.contract_id),
      status: r.status as OutputView['status'],
      columns: JSON.parse(String(r.columns)) as OutputView['columns'],
      rowCount: Number(r.row_count),
      cellsSuppressed: Number(r.cells_suppressed),
      checks: JSON.parse(String(r.checks)) as CheckReport[],
      heldBecause: r.held_because ? (JSON.parse(String(r.held_because)) as string[]) : [],
      sha256: String(r.sha256),
      releasedAt: (r.released_at as string | null) ?? null,
      releasedBy: (r.released_by as string | null) ?? null,
      createdAt: String(r.created_at),
      operatorOrg: String(r.operator_org),
      file: resolveStored(this.deps.dataDir, String(r.file)),
      manifestJws: (r.manifest_jws as string | null) ?? null,
      draft: r.manifest_draft ? (JSON.parse(String(r.manifest_draft)) as ManifestDraft) : null,
    };
  }

  /** An output as this principal may see it, its votes as review.ts allows. */
  async view(o: StoredOutput, p: Principal, tx?: Tx): Promise<OutputView> {
    const { operatorOrg: _o, file: _f, manifestJws: _m, draft: _d, ...view } = o;
    const ballots = await loadBallots(tx ?? this.deps.store, o.id);
    const withheld = o.status === 'held' ? await withheldFor(tx ?? this.deps.store, o.id) : undefined;
    return {
      ...view,
      ...(withheld ? { withheld } : {}),
      reviews: ballotsFor(p, ballots, o.status !== 'held'),
      votes: { recorded: ballots.length, needed: VOTES_TO_CONSOLIDATE },
    };
  }

  /** The stored output, if this principal may see it; otherwise 404 (existence is not disclosed). */
  async visible(p: Principal, id: string): Promise<StoredOutput> {
    const o = await this.load(id);
    if (!o || !canSeeOperatorWork(p, o.operatorOrg)) throw new PdsError('ERR_NOT_FOUND', `output ${id} not found`);
    return o;
  }

  async get(p: Principal, id: string): Promise<OutputView> {
    return this.view(await this.visible(p, id), p);
  }

  /** Outputs a principal may see; the bureau's review queue is `status=held`. */
  async list(p: Principal, filter: { status?: OutputView['status']; contractId?: string }): Promise<OutputView[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (!p.roles.includes('bureau') && !p.roles.includes('risk')) {
      params.push(p.org);
      where.push(`operator_org = $${params.length}`);
    }
    if (filter.status) {
      params.push(filter.status);
      where.push(`status = $${params.length}`);
    }
    if (filter.contractId) {
      params.push(filter.contractId);
      where.push(`contract_id = $${params.length}`);
    }
    const rows = await this.deps.store.all<{ id: string }>(
      `SELECT id FROM outputs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at LIMIT 500`,
      params,
    );
    const out: OutputView[] = [];
    for (const { id } of rows) out.push(await this.view((await this.load(id))!, p));
    return out;
  }

  async manifest(p: Principal, id: string): Promise<string> {
    const o = await this.visible(p, id);
    if (o.status !== 'released' || !o.manifestJws)
      throw new PdsError('ERR_OUTPUT_NOT_RELEASED', `output ${id} is ${o.status}`);
    return o.manifestJws;
  }

  /**
   * The data: a released output to its own operator; a held one to bureau reviewers. Anyone else,
   * and an operator asking for data not released, gets 404. Every read is recorded.
   */
  async data(
    p: Principal,
    id: string,
    format: OutputFormat,
    requestId?: string,
  ): Promise<{ body: Buffer | string; contentType: string }> {
    const o = await this.visible(p, id);
    const owner = p.roles.includes('operator') && p.org === o.operatorOrg;
    const reviewer = p.roles.includes('bureau') && o.status === 'held';
    if (!(owner && o.status === 'released') && !reviewer)
      throw new PdsError('ERR_NOT_FOUND', `output ${id} has no data for you`);
    await this.deps.destruction.assertKept('output', id);
    const data = this.stored(o);
    const csv = csvOf(data.columns, data.rows);
    if (sha256(csv) !== o.sha256)
      throw new PdsError('ERR_INTERNAL', `stored output ${id} does not match its recorded hash`);
    let body: Buffer | string = csv;
    if (format === 'json') body = jsonOf(data.columns, data.rows);
    if (format === 'parquet') {
      const file = this.parquetFile(o.file);
      // an output recorded before Parquet was kept gets its Parquet form now (its manifest seals csv only)
      if (!fs.existsSync(file)) await this.parquet.write(data.columns, csv, file);
      body = fs.readFileSync(file);
    }
    const sealed = o.draft?.output.formats?.[format];
    if (sealed && sha256(body) !== sealed)
      throw new PdsError('ERR_INTERNAL', `the ${format} form of output ${id} does not match its sealed hash`);
    await this.deps.store.write((tx) =>
      appendAudit(tx, {
        actor: actorOf(p, owner ? 'operator' : 'bureau'),
        action: owner ? 'output.downloaded' : 'output.inspected',
        objectType: 'output',
        objectId: id,
        requestId,
        details: { format },
      }),
    );
    const contentType = {
      csv: 'text/csv; charset=utf-8',
      json: 'application/json',
      parquet: 'application/vnd.apache.parquet',
    };
    return { body, contentType: contentType[format] };
  }
}
