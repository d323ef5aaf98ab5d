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
  example,
} from '../schemas/index.ts';
import * as ex from '../schemas/examples/outputs.ts';
import type { Routes } from './scope.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** Outputs: the bureau's review queue, two-reviewer release, signed manifests, downloads. */
export const outputRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  outputReads(app, platform);
  outputReview(app, platform);
  outputDownloads(app, platform);
};

/** Outputs listed and read. */
function outputReads(app: Routes, { outputs }: Platform): void {
  app.get(
    '/v1/outputs',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['outputs'],
        operationId: 'listOutputs',
        summary: 'Outputs you may see; status=held is the bureau review queue',
        description:
          "Operators (their organisation's outputs), bureau and risk staff. Outputs (产出) with their status and disclosure checks; `status=held` is the bureau's review queue. A reviewer sees no vote but its own until both votes are in.",
        querystring: OutputListQuery,
        response: { 200: example(Type.Array(OutputView), ex.listOutputsResponse), ...errors },
      },
    },
    async (req) => outputs.list(req.principal, req.query),
  );

  app.get(
    '/v1/outputs/:id',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['outputs'],
        operationId: 'getOutput',
        summary: 'Output metadata, every disclosure check applied, and its reviews',
        description:
          "Operators (their organisation's outputs), bureau and risk staff. The output's columns and row count, each disclosure check applied with its parameters and effect (cells suppressed, noise, rounding), why it is held, the votes and, once released, by whom and when. 404 for an output the caller may not see.",
        params: IdParams,
        response: { 200: example(OutputView, ex.getOutputResponse), ...errors },
      },
    },
    async (req) => outputs.get(req.principal, req.params.id),
  );
}

/** A held output's review packet and the bureau's votes on it. */
function outputReview(app: Routes, { outputReviews }: Platform): void {
  app.get(
    '/v1/outputs/:id/review',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['outputs'],
        operationId: 'getReviewPacket',
        summary:
          "Everything behind an output, for its reviewers: the SQL, the analysis and the SQL that ran, every check, the rows, the job's thread",
        description:
          "Bureau and risk staff. The review packet (审核材料) of an output: the SQL as submitted and as it ran, the analysis, every check, a preview of the rows, the same SQL's run on dummy data and the job's thread. Reading it is audited. Operators are refused (403).",
        params: IdParams,
        response: { 200: example(ReviewPacket, ex.getReviewPacketResponse), ...errors },
      },
    },
    async (req) => outputReviews.packet(req.principal, req.params.id, req.id),
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
        description:
          "Bureau users other than the job's author. Records one vote on a held output; when the second reviewer has voted the votes are consolidated: two approvals release it (signed manifest), a rejection refuses it, a request for changes sends it back to the operator with the reasons in the job's thread. Rejecting or requesting changes needs a `reason`. Refused: an output not held, a second vote by the same user (409), the job's author (403).",
        params: IdParams,
        body: example(OutputReviewBody, ex.reviewOutputRequest),
        response: { 200: example(OutputView, ex.reviewOutputResponse), ...errors },
      },
    },
    async (req) => outputReviews.vote(req.principal, req.params.id, req.body, req.id),
  );
}

/** The data and its signed manifest. */
function outputDownloads(app: Routes, { outputs }: Platform): void {
  app.get(
    '/v1/outputs/:id/data',
    {
      config: { roles: ['operator', 'bureau'] },
      schema: {
        tags: ['outputs'],
        operationId: 'downloadOutput',
        summary: 'The data: released, to its operator; held, to bureau reviewers (404 otherwise)',
        description:
          "The operator organisation of a released output, or a bureau reviewer of a held one. The rows as CSV (default), JSON or Parquet, each form sealed by the output's signed manifest; every download is audited. 404 to anyone else, and for an output rejected or withheld.",
        params: IdParams,
        querystring: OutputDataQuery,
        response: {
          200: example(
            Type.String({ description: 'text/csv, application/json or application/vnd.apache.parquet' }),
            ex.downloadOutputResponse,
          ),
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const format = req.query.format ?? 'csv';
      const { body, contentType } = await outputs.data(req.principal, req.params.id, format, req.id);
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
        description:
          "Operators (their organisation's outputs), bureau and risk staff. The bureau-signed manifest (清单) of a released output: the sha256 of each download form, the contract, job, SQL, snapshot and policy hashes, every check and the data sources with their providers; verify a downloaded file with it and GET /.well-known/jwks.json (`pds verify-output`). Refused: an output not released (409).",
        params: IdParams,
        response: {
          200: example(Type.String({ description: 'application/jose' }), ex.getOutputManifestResponse),
          ...errors,
        },
      },
    },
    async (req, reply) => reply.type('application/jose').send(await outputs.manifest(req.principal, req.params.id)),
  );
}
