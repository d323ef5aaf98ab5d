import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import type { Routes } from './scope.ts';
import {
  Comment,
  CommentBody,
  IdParams,
  JobBody,
  JobList,
  JobListQuery,
  JobView,
  PreviewView,
  ProblemRef,
  SubmitHeaders,
  ValidateBody,
  DummyRunResult,
  Validation,
  example,
} from '../schemas/index.ts';
import * as ex from '../schemas/examples/jobs.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** Operators only, at most `max` requests a minute each (a refused submission is audited too). */
const operatorsAtMost = (max: number) => ({ roles: ['operator'] as const, rateLimit: { max, timeWindow: 60_000 } });

/** Jobs: operators submit SQL under a contract; the bureau may cancel. */
export const jobRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  submission(app, platform);
  trials(app, platform);
  jobReads(app, platform);
  jobFollowUp(app, platform);
};

/** A query submitted to run under a contract. */
function submission(app: Routes, { jobs, policies }: Platform): void {
  app.post(
    '/v1/jobs',
    {
      config: operatorsAtMost(policies.sandbox.quotas.submissionsPerMinute),
      schema: {
        tags: ['jobs'],
        operationId: 'submitJob',
        summary: 'Submit an analysis query under a contract',
        description:
          "Operators only, under an active contract of their organisation. Queues a SQL query (作业) to run in the sandbox over the contract's masked snapshot; its output passes disclosure control and is released, held for bureau review (custom mode, or a check that holds) or refused. A dp job gives `dp.bounds` for each summed or averaged column and is charged ε. Answers 202 with the job; with an Idempotency-Key header, a retried submission answers the same job again (with Idempotent-Replayed: true). Refused: a contract not active (409), SQL the analysis refuses — a function off the allowlist, a table or column not granted, singling out (422 naming the rule) —, a dp query over the remaining budget (409), too many submissions a minute (429).",
        headers: SubmitHeaders,
        body: example(JobBody, ex.submitJobRequest),
        response: { 202: example(JobView, ex.submitJobResponse), ...errors, 422: ProblemRef, 429: ProblemRef },
      },
    },
    async (req, reply) => {
      const { job, created } = await jobs.submit(req.principal, req.body, {
        requestId: req.id,
        idempotencyKey: req.headers['idempotency-key'],
      });
      if (!created) reply.header('idempotent-replayed', 'true');
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(job);
    },
  );
}

/** SQL tried without a job: validated, priced (ε) or run on dummy data. */
function trials(app: Routes, { jobs, policies }: Platform): void {
  const { submissionsPerMinute } = policies.sandbox.quotas;

  app.post(
    '/v1/jobs/validate',
    {
      config: operatorsAtMost(4 * submissionsPerMinute),
      schema: {
        tags: ['jobs'],
        operationId: 'validateJob',
        summary: 'Check SQL against a contract without running it',
        description:
          'Operators only, under a contract of their organisation. The same analysis, rewrite and binding as a submission, and the same reasons; nothing runs, no data is read, no job is made. A syntax or binder error is not counted against the operator; an escape or singling-out attempt is audited and counted in the risk reports as a refused job is. A refusal of the SQL answers 200 with `valid: false`; a contract the caller may not use answers 403 or 404.',
        body: example(ValidateBody, ex.validateJobRequest),
        response: { 200: example(Validation, ex.validateJobResponse), ...errors, 429: ProblemRef },
      },
    },
    async (req) => jobs.validate(req.principal, req.body, req.id),
  );

  app.post(
    '/v1/jobs/preview',
    {
      config: operatorsAtMost(4 * submissionsPerMinute),
      schema: {
        tags: ['jobs'],
        operationId: 'previewJob',
        summary:
          'Validate SQL and, for a dp query, say what it will cost (ε), what is left after it, and each measure’s noise and 95 % error — without running or charging it',
        description:
          "Operators only, under a contract of their organisation. Validates the SQL as POST /v1/jobs/validate does and, under a dp contract, says what it would be charged (ε), the budget left after it, whether it is affordable and each measure's noise and 95 % error for the bounds given; nothing runs and nothing is charged. `dp` is null for an aggregate or custom contract.",
        body: example(ValidateBody, ex.previewJobDpRequest),
        response: { 200: example(PreviewView, ex.previewJobDpResponse), ...errors, 429: ProblemRef },
      },
    },
    async (req) => jobs.preview(req.principal, req.body, req.id),
  );

  app.post(
    '/v1/jobs/dummy-run',
    {
      config: operatorsAtMost(submissionsPerMinute),
      schema: {
        tags: ['jobs'],
        operationId: 'runOnDummyData',
        summary: "Run SQL in the sandbox on the contract's dummy data",
        description:
          "Operators only, under a contract of their organisation. The same analysis as a submission first (a refusal answers `valid: false` with its reasons, audited as validate audits); a valid query then runs in the sandbox over invented rows with the snapshot's schema. No job is made, nothing is charged, no real data is read.",
        body: example(ValidateBody, ex.runOnDummyDataRequest),
        response: {
          200: example(
            Type.Object({
              validation: Validation,
              dummy: Type.Union([DummyRunResult, Type.Null()], {
                description: 'null: the SQL did not pass the analysis',
              }),
            }),
            ex.runOnDummyDataResponse,
          ),
          ...errors,
          429: ProblemRef,
        },
      },
    },
    async (req) => jobs.dummyRun(req.principal, req.body, req.id),
  );
}

/** Jobs listed and read. */
function jobReads(app: Routes, { jobs }: Platform): void {
  app.get(
    '/v1/jobs',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['jobs'],
        operationId: 'listJobs',
        summary: 'Jobs you may see, newest first (an operator: its organisation’s), one page at a time',
        description:
          "Operators, bureau and risk staff. An operator sees its organisation's jobs, staff every job; filter by contract, status or submission time, and page with `before` (the previous page's `next`). Providers are refused (403).",
        querystring: JobListQuery,
        response: { 200: example(JobList, ex.listJobsResponse), ...errors },
      },
    },
    async (req) => {
      const { since, limit, ...rest } = req.query;
      return jobs.listJobs(req.principal, {
        ...rest,
        ...(since ? { since: new Date(since).toISOString() } : {}),
        limit: limit ?? 100,
      });
    },
  );

  app.get(
    '/v1/jobs/:id',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['jobs'],
        operationId: 'getJob',
        summary: 'A job and its status',
        description:
          "Operators (their organisation's jobs), bureau and risk staff. The job's status, why it was refused or failed (`reasons`, each with its code and the sandbox layer that stopped it) and its output once there is one. Poll it after a submission until it leaves queued and running. 404 for a job the caller may not see.",
        params: IdParams,
        response: { 200: example(JobView, ex.getJobResponse), ...errors },
      },
    },
    async (req) => jobs.getJob(req.principal, req.params.id),
  );
}

/** What follows a submission: a cancellation, the thread of comments and replies. */
function jobFollowUp(app: Routes, { jobs }: Platform): void {
  app.post(
    '/v1/jobs/:id/cancel',
    {
      config: { roles: ['operator', 'bureau'] },
      schema: {
        tags: ['jobs'],
        operationId: 'cancelJob',
        summary: 'Cancel a queued or running job',
        description:
          "The job's operator organisation, or the bureau. Stops a queued or running job (its runner is killed); nothing is released or charged. Refused: a job already finished (409).",
        params: IdParams,
        response: { 200: example(JobView, ex.cancelJobResponse), ...errors },
      },
    },
    async (req) => jobs.cancel(req.principal, req.params.id, req.id),
  );

  app.get(
    '/v1/jobs/:id/thread',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['jobs'],
        operationId: 'getJobThread',
        summary: "A job's thread: the reviewers' comments (once their votes are consolidated) and the replies",
        description:
          "Operators (their organisation's jobs), bureau and risk staff. The reviewers' comments on the job's held output, shown once both votes are in so that neither reviewer sees the other's first, and the operator's and the bureau's replies, oldest first.",
        params: IdParams,
        response: { 200: example(Type.Array(Comment), ex.getJobThreadResponse), ...errors },
      },
    },
    async (req) => jobs.thread(req.principal, req.params.id),
  );

  app.post(
    '/v1/jobs/:id/thread',
    {
      config: { roles: ['operator', 'bureau'] },
      schema: {
        tags: ['jobs'],
        operationId: 'commentOnJob',
        summary: "Reply in a job's thread (its operator, or a bureau user)",
        description:
          "The job's operator organisation, or a bureau user. Adds a reply to the job's thread, e.g. to explain a revision after changes were requested. Risk staff read the thread but do not write in it (403).",
        params: IdParams,
        body: example(CommentBody, ex.commentOnJobRequest),
        response: { 201: example(Comment, ex.commentOnJobResponse), ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await jobs.comment(req.principal, req.params.id, req.body.body, req.id)),
  );
}
