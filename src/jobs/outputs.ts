import fs from 'node:fs';
import path from 'node:path';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../audit/index.ts';
import {
  actorOf,
  canSeeOperatorWork,
  type ContractService,
  type Principal,
  type VerifiedContract,
} from '../contracts/index.ts';
import type { CheckReport, Fingerprint } from '../disclosure/index.ts';
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
import { sha256, withholdKeys } from '../digest/index.ts';
import { RESERVED_PREFIX, type SandboxLimits } from '../sandbox/index.ts';
import { runOnDummyData, type DummyRun } from './dummy-run.ts';
import { csvOf, jsonOf, ParquetWriter, type OutputFormat } from './formats.ts';
import { signManifest, type Manifest } from './manifest.ts';
import { loadJob, loadRun, transition, type JobReason } from './job-store.ts';
import type { RunPlan } from './plan.ts';
import { ballotsFor, consolidate, VOTES_TO_CONSOLIDATE, type Ballot, type ReviewOutcome, type Vote } from './review.ts';
import { addComment, listComments, type Comment } from './thread.ts';
import type { ReleaseDecision } from './release.ts';
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
  /** The votes this principal may read (independent until consolidated: see review.ts). */
  reviews: Ballot[];
  /** How many votes are in, and how many consolidate the review. */
  votes: { recorded: number; needed: number };
  sha256: string;
  releasedAt: string | null;
  releasedBy: string | null;
  createdAt: string;
}

/** What a reviewer reads beside a held output: nothing is reviewed blind (docs/architecture.md §12). */
export interface ReviewPacket {
  output: OutputView;
  job: {
    id: string;
    name: string | null;
    sql: string;
    submittedBy: string;
    createdAt: string;
    dp: { bounds: Record<string, [number, number]> } | null;
  };
  /** The API's own analysis of the SQL when it ran: what it reads and what actually ran. */
  analysis: {
    mode: string;
    tables: string[];
    readsColumns: string[];
    ranSql: string;
    resultColumns: { name: string; type: string }[];
  } | null;
  /** The output's first rows, as the operator would receive them. */
  preview: { columns: { name: string; type: string }[]; rows: JsonValue[][]; totalRows: number };
  /** The same SQL on the contract's dummy data (dummy-run.ts); null for a job that never ran. */
  dummy: DummyRun | null;
  thread: Comment[];
}

/** Rows of an output shown in its review packet. */
const PREVIEW_ROWS = 200;

/** The manifest without its release facts: fixed when the output is recorded, completed at release. */
export type ManifestDraft = Omit<Manifest, 'releasedAt' | 'releasedBy' | 'reviewers'>;

/** Two different bureau users must approve a held output (docs/architecture.md §12, §9: no single insider). */
export const APPROVALS_TO_RELEASE = VOTES_TO_CONSOLIDATE;

type Row = Record<string, string | number | null>;

interface StoredOutput extends Omit<OutputView, 'reviews' | 'votes'> {
  operatorOrg: string;
  file: string;
  manifestJws: string | null;
  draft: ManifestDraft | null;
}

/** How many of an operator's latest outputs each new one is compared with. */
const FINGERPRINTS_COMPARED = 400;

export class OutputService {
  private readonly parquet: ParquetWriter;

  constructor(
    private readonly deps: {
      store: Store;
      keys: KeyRing;
      contracts: ContractService;
      dataDir: string;
      now: () => Date;
      /** Free space DATA_DIR keeps beyond an output's own size (config MIN_FREE_MB). */
      minFreeBytes?: number;
      /** The sandbox's limits, for the replay of a reviewed query on dummy data. */
      limits?: SandboxLimits;
    },
  ) {
    this.parquet = new ParquetWriter(path.join(deps.dataDir, 'tmp'));
  }

  async close(): Promise<void> {
    await this.parquet.close();
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

  /** Removes an output's data written by a transaction that did not commit. */
  discard(file: string): void {
    for (const f of [file, `${file}.tmp`, this.parquetFile(file)]) fs.rmSync(f, { force: true });
  }

  /**
   * Records a decided output inside the caller's transaction (the one that made the decision):
   * writes its data, signs the manifest when it is released, and moves the job to released or
   * held. The caller discards `file` if the transaction does not commit.
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
    },
  ): Promise<void> {
    const { job, claims, decision: d, at, file } = input;
    const outputId = outputIdFor(job.id);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const csv = csvOf(d.columns, d.rows);
    const csvSha256 = sha256(csv);
    const body = JSON.stringify({ columns: d.columns, rows: d.rows });
    ensureFreeSpace(path.dirname(file), (this.deps.minFreeBytes ?? 0) + Buffer.byteLength(body), 'keep an output');
    try {
      fs.writeFileSync(`${file}.tmp`, body, { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
    } catch (err) {
      fs.rmSync(`${file}.tmp`, { force: true });
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
    // the Parquet form is written once, here, so the bytes sealed are the bytes served
    const parquetFile = this.parquetFile(file);
    await this.parquet.write(d.columns, csv, parquetFile);
    const formats = {
      csv: csvSha256,
      json: sha256(jsonOf(d.columns, d.rows)),
      parquet: sha256(fs.readFileSync(parquetFile)),
    };
    const release = d.decision === 'released';
    const draft: ManifestDraft = {
      output: {
        id: outputId,
        sha256: csvSha256,
        format: 'text/csv',
        rows: d.rows.length,
        columns: d.columns.map((c) => c.name),
        formats,
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
        csvSha256,
        storedPath(this.deps.dataDir, file),
        jws,
        release ? at : null,
        release ? 'auto' : null,
        at,
        release ? null : JSON.stringify(d.reasons),
        JSON.stringify(draft),
        d.fingerprint ? JSON.stringify(d.fingerprint) : null,
      ],
    );
    await transition(
      tx,
      job.id,
      ['running'],
      status,
      { outputId, finishedAt: at },
      { actor: SYSTEM_ACTOR, details: { outputId, ranBy: input.ranBy } },
    );
    await appendAudit(tx, {
      actor: SYSTEM_ACTOR,
      action: `output.${status}`,
      objectType: 'output',
      objectId: outputId,
      details: {
        sha256: csvSha256,
        rows: d.rows.length,
        cellsSuppressed: d.cellsSuppressed,
        checks: d.checks.map((c) => c.check),
        ranBy: input.ranBy,
      },
    });
  }

  /**
   * Fingerprints of the operator's latest released or held outputs, under any of its contracts,
   * for the differencing check (docs/architecture.md §12): trackers may span contracts.
   */
  async fingerprints(
    tx: Tx,
    operatorOrg: string,
    contractId: string,
  ): Promise<{ outputId: string; sameContract: boolean; fingerprint: Fingerprint }[]> {
    const rows = await tx.all<{ id: string; contract_id: string; units_fingerprint: string }>(
      `SELECT id, contract_id, units_fingerprint FROM outputs
       WHERE operator_org = $1 AND status IN ('released', 'held') AND units_fingerprint IS NOT NULL
       ORDER BY created_at DESC LIMIT ${FINGERPRINTS_COMPARED}`,
      [operatorOrg],
    );
    return rows.map((r) => ({
      outputId: r.id,
      sameContract: r.contract_id === contractId,
      fingerprint: JSON.parse(r.units_fingerprint) as Fingerprint,
    }));
  }

  private async load(id: string, tx?: Tx): Promise<StoredOutput | undefined> {
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

  private async reviews(id: string, tx?: Tx): Promise<Ballot[]> {
    const rows = await (tx ?? this.deps.store).all<Row>(
      'SELECT * FROM output_reviews WHERE output_id = $1 ORDER BY reviewed_at',
      [id],
    );
    return rows.map((r) => ({
      reviewer: String(r.reviewer),
      decision: r.decision as Vote,
      reason: (r.reason as string | null) ?? null,
      reviewedAt: String(r.reviewed_at),
    }));
  }

  private async view(o: StoredOutput, p: Principal, tx?: Tx): Promise<OutputView> {
    const { operatorOrg: _o, file: _f, manifestJws: _m, draft: _d, ...view } = o;
    const ballots = await this.reviews(o.id, tx);
    return {
      ...view,
      reviews: ballotsFor(p, ballots, o.status !== 'held'),
      votes: { recorded: ballots.length, needed: VOTES_TO_CONSOLIDATE },
    };
  }

  /** The stored output, if this principal may see it; otherwise 404 (existence is not disclosed). */
  private async visible(p: Principal, id: string): Promise<StoredOutput> {
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

  /** A held (or reviewed) output with everything behind it, for bureau reviewers and risk staff; audited. */
  async reviewPacket(p: Principal, id: string, requestId?: string): Promise<ReviewPacket> {
    const o = await this.visible(p, id);
    const job = (await loadJob(this.deps.store, o.jobId))!;
    const run = job.attempts > 0 ? await loadRun<RunPlan>(this.deps.store, job.id, job.attempts) : undefined;
    const plan = run?.plan;
    const data = fs.existsSync(o.file)
      ? (JSON.parse(fs.readFileSync(o.file, 'utf8')) as {
          columns: ReviewPacket['preview']['columns'];
          rows: JsonValue[][];
        })
      : { columns: o.columns, rows: [] };
    await this.deps.store.write((tx) =>
      appendAudit(tx, {
        actor: actorOf(p, p.roles.includes('bureau') ? 'bureau' : 'risk'),
        action: 'output.inspected',
        objectType: 'output',
        objectId: id,
        requestId,
        details: { view: 'review' },
      }),
    );
    return {
      output: await this.view(o, p),
      job: {
        id: job.id,
        name: job.name,
        sql: job.sql,
        submittedBy: job.submittedBy,
        createdAt: job.createdAt,
        dp: job.dp ?? null,
      },
      analysis: plan
        ? {
            mode: plan.mode,
            tables: plan.tables,
            readsColumns: plan.readsColumns ?? [],
            // the contract's perturbation key is in the rewritten SQL: withheld, even from the bureau
            ranSql: withholdKeys(plan.sql),
            resultColumns: (plan.expected ?? [])
              .filter((c) => !c.name.startsWith(RESERVED_PREFIX))
              .map((c) => ({ name: c.name, type: c.type })),
          }
        : null,
      preview: { columns: data.columns, rows: data.rows.slice(0, PREVIEW_ROWS), totalRows: data.rows.length },
      dummy:
        plan && this.deps.limits
          ? await runOnDummyData(
              { contracts: this.deps.contracts, dataDir: this.deps.dataDir, limits: this.deps.limits },
              p,
              o.contractId,
              job.sql,
              PREVIEW_ROWS,
            )
          : null,
      thread: await listComments(this.deps.store, job.id),
    };
  }

  async manifest(p: Principal, id: string): Promise<string> {
    const o = await this.visible(p, id);
    if (o.status !== 'released' || !o.manifestJws)
      throw new PdsError('ERR_OUTPUT_NOT_RELEASED', `output ${id} is ${o.status}`);
    return o.manifestJws;
  }

  /**
   * A bureau user's vote on a held output (review.ts): approve, reject or request changes, with a
   * reason for the last two. Votes are independent until the second one, which consolidates them:
   * released (signed, if the contract is still active), rejected, or returned to the operator with
   * the reviewers' comments in the job's thread. The job's author never reviews it.
   */
  async review(
    p: Principal,
    id: string,
    input: { decision: Vote; reason?: string },
    requestId?: string,
  ): Promise<OutputView> {
    if (input.decision !== 'approve' && !input.reason?.trim()) {
      throw new PdsError('ERR_VALIDATION', `a vote to ${input.decision} needs a reason the operator can act on`, {
        errors: [{ field: '/body/reason', message: `required when decision is ${input.decision}` }],
      });
    }
    const actor: Actor = actorOf(p, 'bureau');
    let removeFile: string | undefined;
    const view = await this.deps.store.write(async (tx) => {
      const o = await this.load(id, tx);
      if (!o) throw new PdsError('ERR_NOT_FOUND', `output ${id} not found`);
      if (o.status !== 'held') throw new PdsError('ERR_OUTPUT_NOT_HELD', `output ${id} is ${o.status}`);
      const job = await loadJob(tx, o.jobId);
      if (job?.submittedBy === p.sub)
        throw new PdsError(
          'ERR_REVIEW_OWN_WORK',
          `${p.sub} submitted job ${o.jobId}: its author never reviews its output`,
        );
      const mine = await tx.one('SELECT 1 AS x FROM output_reviews WHERE output_id = $1 AND reviewer = $2', [
        id,
        p.sub,
      ]);
      if (mine)
        throw new PdsError(
          'ERR_REVIEW_DUPLICATE',
          `${p.sub} has already reviewed output ${id}; the next vote must come from another bureau user`,
        );
      const at = this.deps.now().toISOString();
      await tx.run(
        'INSERT INTO output_reviews (output_id, reviewer, decision, reason, reviewed_at) VALUES ($1, $2, $3, $4, $5)',
        [id, p.sub, input.decision, input.reason ?? null, at],
      );
      // the vote itself stays out of the trail until consolidation: bureau users read the trail too
      await appendAudit(tx, {
        actor,
        action: 'output.review.submitted',
        objectType: 'output',
        objectId: id,
        requestId,
      });
      const ballots = await this.reviews(id, tx);
      const outcome = consolidate(ballots);
      if (outcome) removeFile = await this.conclude(tx, o, ballots, outcome, actor, at, requestId);
      return this.view((await this.load(id, tx))!, p, tx);
    });
    if (removeFile) this.discard(removeFile); // an output not released is not kept
    return view;
  }

  /** Records a consolidated review; answers the data file to remove when the output is not released. */
  private async conclude(
    tx: Tx,
    o: StoredOutput,
    ballots: Ballot[],
    outcome: ReviewOutcome,
    actor: Actor,
    at: string,
    requestId?: string,
  ): Promise<string | undefined> {
    await appendAudit(tx, {
      actor,
      action: 'output.review.consolidated',
      objectType: 'output',
      objectId: o.id,
      requestId,
      details: {
        outcome,
        votes: ballots.map((b) => ({ reviewer: b.reviewer, decision: b.decision, reason: b.reason })),
      },
    });
    if (outcome === 'released') {
      const approvals = ballots.map((b) => b.reviewer);
      await this.deps.contracts.assertActive(tx, o.contractId);
      const jws = await this.sign(o.draft!, at, approvals.join(', '), o.operatorOrg, approvals);
      await tx.run(
        `UPDATE outputs SET status = 'released', manifest_jws = $1, released_at = $2, released_by = $3 WHERE id = $4`,
        [jws, at, approvals.join(', '), o.id],
      );
      await this.finishJob(tx, o.jobId, 'released', [], at);
      await appendAudit(tx, {
        actor,
        action: 'output.released',
        objectType: 'output',
        objectId: o.id,
        requestId,
        details: { sha256: o.sha256, reviewers: approvals },
      });
      return undefined;
    }
    const said = ballots.filter((b) => b.decision !== 'approve' && b.reason);
    for (const b of said)
      await addComment(tx, o.jobId, {
        author: b.reviewer,
        org: actor.org,
        role: 'bureau',
        body: `${b.decision === 'reject' ? 'rejected' : 'changes requested'}: ${b.reason!}`,
        createdAt: at,
      });
    const message = said.map((b) => b.reason).join(' / ');
    await tx.run('UPDATE outputs SET status = $1 WHERE id = $2', [outcome, o.id]);
    await this.finishJob(
      tx,
      o.jobId,
      outcome,
      [
        outcome === 'rejected'
          ? { code: 'ERR_OUTPUT_REJECTED', message: `rejected by the reviewers: ${message}` }
          : {
              code: 'ERR_CHANGES_REQUESTED',
              message: `the reviewers ask for changes: ${message} (see the job's thread)`,
            },
      ],
      at,
    );
    await appendAudit(tx, {
      actor,
      action: outcome === 'rejected' ? 'output.rejected' : 'output.changes_requested',
      objectType: 'output',
      objectId: o.id,
      requestId,
      reason: message,
    });
    return o.file;
  }

  private async finishJob(
    tx: Tx,
    jobId: string,
    status: 'released' | 'rejected' | 'changes-requested',
    reasons: JobReason[],
    at: string,
  ): Promise<void> {
    await transition(tx, jobId, ['held'], status, { reasons, finishedAt: at }, { actor: SYSTEM_ACTOR });
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
    const data = JSON.parse(fs.readFileSync(o.file, 'utf8')) as {
      columns: { name: string; type: string }[];
      rows: JsonValue[][];
    };
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
