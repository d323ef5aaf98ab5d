import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import { IdParams, JobBody, JobView, OutputDataQuery, OutputView, ProblemRef } from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** Jobs and their outputs: operators submit SQL and download only what was released. */
export const jobRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.post('/v1/jobs', {
    config: { roles: ['operator'] },
    schema: { tags: ['jobs'], summary: 'Submit an analysis query under a contract', body: JobBody, response: { 202: JobView, ...errors } },
  }, async (req, reply) => {
    const job = await platform.jobs.submit(req.principal, req.body, req.id);
    return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(job);
  });

  app.get('/v1/jobs/:id', {
    config: { roles: ['operator', 'bureau', 'risk'] },
    schema: { tags: ['jobs'], summary: 'A job and its status', params: IdParams, response: { 200: JobView, ...errors } },
  }, async (req) => platform.jobs.getJob(req.principal, req.params.id));

  app.post('/v1/jobs/:id/cancel', {
    config: { roles: ['operator', 'bureau'] },
    schema: { tags: ['jobs'], summary: 'Cancel a queued or running job', params: IdParams, response: { 200: JobView, ...errors } },
  }, async (req) => platform.jobs.cancel(req.principal, req.params.id, req.id));

  app.get('/v1/outputs/:id', {
    config: { roles: ['operator', 'bureau', 'risk'] },
    schema: { tags: ['outputs'], summary: 'Output metadata and every disclosure check applied', params: IdParams, response: { 200: OutputView, ...errors } },
  }, async (req) => platform.jobs.getOutput(req.principal, req.params.id));

  app.get('/v1/outputs/:id/data', {
    config: { roles: ['operator'] },
    schema: {
      tags: ['outputs'], summary: 'The released data, to its operator only', params: IdParams, querystring: OutputDataQuery,
      response: { 200: Type.String({ description: 'text/csv or application/json' }), ...errors },
    },
  }, async (req, reply) => {
    const { body, contentType } = await platform.jobs.getOutputData(req.principal, req.params.id, req.query.format ?? 'csv', req.id);
    return reply.type(contentType).header('content-disposition', `attachment; filename="${req.params.id}.${req.query.format ?? 'csv'}"`).send(body);
  });

  app.get('/v1/outputs/:id/manifest', {
    config: { roles: ['operator', 'bureau', 'risk'] },
    schema: {
      tags: ['outputs'], summary: 'The signed manifest of a released output (compact JWS)', params: IdParams,
      response: { 200: Type.String({ description: 'application/jose' }), ...errors },
    },
  }, async (req, reply) => reply.type('application/jose').send(await platform.jobs.getManifest(req.principal, req.params.id)));
};
