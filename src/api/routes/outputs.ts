import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import {
  IdParams,
  OutputDataQuery,
  OutputListQuery,
  OutputReviewBody,
  OutputView,
  ProblemRef,
  ReviewPacket,
} from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** Outputs: the bureau's review queue, two-reviewer release, signed manifests, downloads. */
export const outputRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.get(
    '/v1/outputs',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['outputs'],
        operationId: 'listOutputs',
        summary: 'Outputs you may see; status=held is the bureau review queue',
        querystring: OutputListQuery,
        response: { 200: Type.Array(OutputView), ...errors },
      },
    },
    async (req) => platform.outputs.list(req.principal, req.query),
  );

  app.get(
    '/v1/outputs/:id',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['outputs'],
        operationId: 'getOutput',
        summary: 'Output metadata, every disclosure check applied, and its reviews',
        params: IdParams,
        response: { 200: OutputView, ...errors },
      },
    },
    async (req) => platform.outputs.get(req.principal, req.params.id),
  );

  app.get(
    '/v1/outputs/:id/review',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['outputs'],
        operationId: 'getReviewPacket',
        summary:
          "Everything behind an output, for its reviewers: the SQL, the analysis and the SQL that ran, every check, the rows, the job's thread",
        params: IdParams,
        response: { 200: ReviewPacket, ...errors },
      },
    },
    async (req) => platform.outputReviews.packet(req.principal, req.params.id, req.id),
  );

  app.post(
    '/v1/outputs/:id/reviews',
    {
      config: { roles: ['bureau'] },
      schema: {
        tags: ['outputs'],
        operationId: 'reviewOutput',
        summary:
          'Vote on a held output (approve, reject, request-changes): two bureau users vote independently, then the votes are consolidated',
        params: IdParams,
        body: OutputReviewBody,
        response: { 200: OutputView, ...errors },
      },
    },
    async (req) => platform.outputReviews.vote(req.principal, req.params.id, req.body, req.id),
  );

  app.get(
    '/v1/outputs/:id/data',
    {
      config: { roles: ['operator', 'bureau'] },
      schema: {
        tags: ['outputs'],
        operationId: 'downloadOutput',
        summary: 'The data: released, to its operator; held, to bureau reviewers (404 otherwise)',
        params: IdParams,
        querystring: OutputDataQuery,
        response: {
          200: Type.String({ description: 'text/csv, application/json or application/vnd.apache.parquet' }),
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const format = req.query.format ?? 'csv';
      const { body, contentType } = await platform.outputs.data(req.principal, req.params.id, format, req.id);
      return reply
        .type(contentType)
        .header('content-disposition', `attachment; filename="${req.params.id}.${format}"`)
        .send(body);
    },
  );

  app.get(
    '/v1/outputs/:id/manifest',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['outputs'],
        operationId: 'getOutputManifest',
        summary: 'The signed manifest of a released output (compact JWS)',
        params: IdParams,
        response: { 200: Type.String({ description: 'application/jose' }), ...errors },
      },
    },
    async (req, reply) =>
      reply.type('application/jose').send(await platform.outputs.manifest(req.principal, req.params.id)),
  );
};
