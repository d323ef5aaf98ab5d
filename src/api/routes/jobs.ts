import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Platform } from '../../platform/index.ts';
import { IdParams, JobBody, JobView, ProblemRef, SubmitHeaders } from '../schemas/index.ts';

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

  app.get(
    '/v1/jobs/:id',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['jobs'],
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
        summary: 'Cancel a queued or running job',
        params: IdParams,
        response: { 200: JobView, ...errors },
      },
    },
    async (req) => platform.jobs.cancel(req.principal, req.params.id, req.id),
  );
};
