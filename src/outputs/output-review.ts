/**
 * Reviewing held outputs (review.ts has the rules): the packet a reviewer reads, the votes, and
 * their consolidation into a release, a rejection or a request for changes (docs/architecture.md
 * §12, §15; seed 002 第二十六条). Release signs through the OutputService.
 */
import fs from 'node:fs';
import { appendAudit, SYSTEM_ACTOR, type Actor } from '../audit/index.ts';
import { type ContractService } from '../contracts/index.ts';
import { actorOf, type Principal } from '../auth/index.ts';
import { withholdKeys } from '../digest/index.ts';
import type { DestructionService } from '../destruction/index.ts';
import { isPdsError, PdsError } from '../errors/index.ts';
import type { SandboxLimits } from '../sandbox/index.ts';
import type { JsonValue, Store, Tx } from '../store/index.ts';
import { runOnDummyData, type DummyRun } from './dummy-run.ts';
import type { OutputJobs } from './jobs.ts';
import { moveOutput } from './states.ts';
import type { OutputService, OutputView, StoredOutput } from './outputs.ts';
import { consolidate, loadBallots, type Ballot, type ReviewOutcome, type Vote } from './review.ts';
import { addComment, listComments, type Comment } from './thread.ts';

/** What a reviewer reads beside a held output: nothing is reviewed blind (docs/architecture.md §12). */
export interface ReviewPacket {
  output: OutputView;
  job: {
    id: string;
    name: string | null;
    sql: string;
    submittedBy: string;
    createdAt: string;
    dp: NonNullable<import('./jobs.ts').JobOfOutput['dp']> | null;
    /** The changes-requested job this one revises: its packet and thread hold the earlier round. */
    revisionOf: string | null;
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

export class OutputReviewService {
  constructor(
    private readonly deps: {
      store: Store;
      contracts: ContractService;
      outputs: OutputService;
      /** The job part's moves and reads (jobs.ts). */
      jobs: OutputJobs;
      /** Completes the destruction of the data of an output not released (recorded by `conclude`). */
      destruction: DestructionService;
      dataDir: string;
      now: () => Date;
      /** The sandbox's limits, for the replay of a reviewed query on dummy data. */
      limits: SandboxLimits;
      /** Free space DATA_DIR keeps (config MIN_FREE_MB): no replay below it. */
      minFreeBytes?: number;
    },
  ) {}

  /** A held (or reviewed) output with everything behind it, for bureau reviewers and risk staff; audited. */
  async packet(p: Principal, id: string, requestId?: string): Promise<ReviewPacket> {
    const o = await this.deps.outputs.visible(p, id);
    const job = (await this.deps.jobs.job(this.deps.store, o.jobId))!;
    const plan = await this.deps.jobs.lastRun(this.deps.store, job);
    // a consolidated output that was not released has no data left
    const data = fs.existsSync(o.file) ? this.deps.outputs.stored(o) : { columns: o.columns, rows: [] };
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
      output: await this.deps.outputs.view(o, p),
      job: {
        id: job.id,
        name: job.name,
        sql: job.sql,
        submittedBy: job.submittedBy,
        createdAt: job.createdAt,
        dp: job.dp ?? null,
        revisionOf: job.revisionOf,
      },
      analysis: plan
        ? {
            mode: plan.mode,
            tables: plan.tables,
            readsColumns: plan.readsColumns,
            // the contract's perturbation key is in the rewritten SQL: withheld, even from the bureau
            ranSql: withholdKeys(plan.sql),
            resultColumns: plan.resultColumns,
          }
        : null,
      preview: { columns: data.columns, rows: data.rows.slice(0, PREVIEW_ROWS), totalRows: data.rows.length },
      dummy: plan
        ? await runOnDummyData(
            {
              contracts: this.deps.contracts,
              dataDir: this.deps.dataDir,
              limits: this.deps.limits,
              minFreeBytes: this.deps.minFreeBytes ?? 0,
            },
            p,
            o.contractId,
            job.sql,
            PREVIEW_ROWS,
            // the replay is beside the packet: a full disk leaves it out, saying why, not the packet
          ).catch((err: unknown): DummyRun => {
            if (isPdsError(err) && err.code === 'ERR_STORAGE_FULL')
              return { ok: false, code: err.code, message: err.detail };
            throw err;
          })
        : null,
      thread: await listComments(this.deps.store, job.id),
    };
  }

  /**
   * A bureau user's vote on a held output (review.ts): approve, reject or request changes, with a
   * reason for the last two. Votes are independent until the second one, which consolidates them:
   * released (signed, if the contract is still active), rejected, or returned to the operator with
   * the reviewers' comments in the job's thread. The job's author never reviews it.
   */
  async vote(
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
    let destroy: string | undefined;
    const view = await this.deps.store.write(async (tx) => {
      const o = await this.deps.outputs.load(id, tx);
      if (!o) throw new PdsError('ERR_NOT_FOUND', `output ${id} not found`);
      if (o.status !== 'held') throw new PdsError('ERR_OUTPUT_NOT_HELD', `output ${id} is ${o.status}`);
      const job = await this.deps.jobs.job(tx, o.jobId);
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
        'output_reviews',
      );
      // the vote itself stays out of the trail until consolidation: bureau users read the trail too
      await appendAudit(tx, {
        actor,
        action: 'output.review.submitted',
        objectType: 'output',
        objectId: id,
        requestId,
      });
      const ballots = await loadBallots(tx, id);
      const outcome = consolidate(ballots);
      if (outcome) destroy = await this.conclude(tx, o, ballots, outcome, actor, at, requestId);
      return this.deps.outputs.view((await this.deps.outputs.load(id, tx))!, p, tx);
    });
    if (destroy) await this.deps.destruction.complete(destroy); // an output not released is not kept
    return view;
  }

  /**
   * Records a consolidated review; when the output is not released, records the destruction of its
   * data (why `request`: the reviewers') and answers the record, to complete after the commit.
   */
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
      const jws = await this.deps.outputs.sign(o.draft!, at, approvals.join(', '), o.operatorOrg, approvals);
      await moveOutput(tx, this.deps.jobs, 'approve', {
        outputId: o.id,
        jobId: o.jobId,
        sets: { manifest_jws: jws, released_at: at, released_by: approvals.join(', ') },
        job: { reasons: [], finishedAt: at },
        audit: { actor, requestId, details: { sha256: o.sha256, reviewers: approvals } },
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
    await moveOutput(tx, this.deps.jobs, outcome === 'rejected' ? 'reject' : 'requestChanges', {
      outputId: o.id,
      jobId: o.jobId,
      job: {
        reasons: [
          outcome === 'rejected'
            ? { code: 'ERR_OUTPUT_REJECTED', message: `rejected by the reviewers: ${message}` }
            : {
                code: 'ERR_CHANGES_REQUESTED',
                message: `the reviewers ask for changes: ${message} (see the job's thread)`,
              },
        ],
        finishedAt: at,
      },
      audit: { actor, requestId, reason: message },
    });
    return this.deps.outputs.planDestruction(tx, o, 'request', actor, requestId);
  }
}
