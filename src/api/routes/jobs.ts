import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
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
} from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** Jobs: operators submit SQL under a contract; the bureau may cancel. */
export const jobRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.post(
    '/v1/jobs',
    {
      config: {
        roles: ['operator'],
        rateLimit: { max: platform.policies.sandbox.quotas.submissionsPerMinute, timeWindow: 60_000 },
      },
      schema: {
        tags: ['jobs'],
        operationId: 'submitJob',
        summary: 'Submit an analysis query under a contract',
        description:
          'Answers 202 with the job. With an Idempotency-Key header, a retried submission answers the same job again (with Idempotent-Replayed: true).',
        headers: SubmitHeaders,
        body: JobBody,
        response: { 202: JobView, ...errors, 422: ProblemRef, 429: ProblemRef },
      },
    },
    async (req, reply) => {
      const { job, created } = await platform.jobs.submit(req.principal, req.body, {
        requestId: req.id,
        idempotencyKey: req.headers['idempotency-key'],
      });
      if (!created) reply.header('idempotent-replayed', 'true');
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(job);
    },
  );

  app.post(
    '/v1/jobs/validate',
    {
      config: {
        roles: ['operator'],
        rateLimit: { max: 4 * platform.policies.sandbox.quotas.submissionsPerMinute, timeWindow: 60_000 },
      },
      schema: {
        tags: ['jobs'],
        operationId: 'validateJob',
        summary: 'Check SQL against a contract without running it',
        description:
          'The same analysis, rewrite and binding as a submission, and the same reasons; nothing runs, no data is read, no job is made. A syntax or binder error is not counted against the operator; an escape or singling-out attempt is audited and counted in the risk reports as a refused job is.',
        body: ValidateBody,
        response: { 200: Validation, ...errors, 429: ProblemRef },
      },
    },
    async (req) => platform.jobs.validate(req.principal, req.body, req.id),
  );

  app.post(
    '/v1/jobs/preview',
    {
      config: {
        roles: ['operator'],
        rateLimit: { max: 4 * platform.policies.sandbox.quotas.submissionsPerMinute, timeWindow: 60_000 },
      },
      schema: {
        tags: ['jobs'],
        operationId: 'previewJob',
        summary:
          'Validate SQL and, for a dp query, say what it will cost (ε), what is left after it, and each measure’s noise and 95 % error — without running or charging it',
        body: ValidateBody,
        response: { 200: PreviewView, ...errors, 429: ProblemRef },
      },
    },
    async (req) => platform.jobs.preview(req.principal, req.body, req.id),
  );

  app.post(
    '/v1/jobs/dummy-run',
    {
      config: {
        roles: ['operator'],
        rateLimit: { max: platform.policies.sandbox.quotas.submissionsPerMinute, timeWindow: 60_000 },
      },
      schema: {
        tags: ['jobs'],
        operationId: 'runOnDummyData',
        summary: "Run SQL in the sandbox on the contract's dummy data",
        description:
          "The same analysis as a submission first (a refusal answers `valid: false` with its reasons, audited as validate audits); a valid query then runs in the sandbox over invented rows with the snapshot's schema. No job is made, nothing is charged, no real data is read.",
        body: ValidateBody,
        response: {
          200: Type.Object({
            validation: Validation,
            dummy: Type.Union([DummyRunResult, Type.Null()], {
              description: 'null: the SQL did not pass the analysis',
            }),
          }),
          ...errors,
          429: ProblemRef,
        },
      },
    },
    async (req) => platform.jobs.dummyRun(req.principal, req.body, req.id),
  );

  app.get(
    '/v1/jobs',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['jobs'],
        operationId: 'listJobs',
        summary: 'Jobs you may see, newest first (an operator: its organisation’s), one page at a time',
        querystring: JobListQuery,
        response: { 200: JobList, ...errors },
      },
    },
    async (req) => {
      const { since, limit, ...rest } = req.query;
      return platform.jobs.listJobs(req.principal, {
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
        params: IdParams,
        response: { 200: JobView, ...errors },
      },
    },
    async (req) => platform.jobs.getJob(req.principal, req.params.id),
  );

  app.post(
    '/v1/jobs/:id/cancel',
    {
      config: { roles: ['operator', 'bureau'] },
      schema: {
        tags: ['jobs'],
        operationId: 'cancelJob',
        summary: 'Cancel a queued or running job',
        params: IdParams,
        response: { 200: JobView, ...errors },
      },
    },
    async (req) => platform.jobs.cancel(req.principal, req.params.id, req.id),
  );

  app.get(
    '/v1/jobs/:id/thread',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['jobs'],
        operationId: 'getJobThread',
        summary: "A job's thread: the reviewers' comments (once their votes are consolidated) and the replies",
        params: IdParams,
        response: { 200: Type.Array(Comment), ...errors },
      },
    },
    async (req) => platform.jobs.thread(req.principal, req.params.id),
  );

  app.post(
    '/v1/jobs/:id/thread',
    {
      config: { roles: ['operator', 'bureau'] },
      schema: {
        tags: ['jobs'],
        operationId: 'commentOnJob',
        summary: "Reply in a job's thread (its operator, or a bureau user)",
        params: IdParams,
        body: CommentBody,
        response: { 201: Comment, ...errors },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await platform.jobs.comment(req.principal, req.params.id, req.body.body, req.id)),
  );
};
