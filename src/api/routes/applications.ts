import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import {
  ApplicationBody,
  ApplicationListQuery,
  ApplicationPreview,
  ApplicationPreviewBody,
  ApplicationView,
  DecisionBody,
  DecisionResult,
  IdParams,
  ProblemRef,
  ReviewBody,
  ReviewListQuery,
  ReviewQueueItem,
} from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** Applications, provider reviews and the bureau's decision (seed 002 第三十四条). */
export const applicationRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  const { applications } = platform;

  app.post(
    '/v1/applications',
    {
      config: { roles: ['operator'] },
      schema: {
        tags: ['applications'],
        operationId: 'createApplication',
        summary: 'Apply for one scenario (一场景一申请)',
        body: ApplicationBody,
        response: { 201: ApplicationView, ...errors },
      },
    },
    async (req, reply) => {
      const view = await applications.createApplication(req.principal, req.body, req.id);
      return reply.code(201).header('location', `/v1/applications/${view.id}`).send(view);
    },
  );

  app.post(
    '/v1/applications/preview',
    {
      config: { roles: ['operator'] },
      schema: {
        tags: ['applications'],
        operationId: 'previewApplication',
        summary:
          "What an application would be granted, its snapshot's re-identification risk and the policy's warnings — before filing it; nothing is stored",
        body: ApplicationPreviewBody,
        response: { 200: ApplicationPreview, ...errors },
      },
    },
    async (req) => applications.previewApplication(req.principal, req.body),
  );

  app.get(
    '/v1/applications',
    {
      schema: {
        tags: ['applications'],
        operationId: 'listApplications',
        summary: 'Applications the caller may see, newest first',
        querystring: ApplicationListQuery,
        response: { 200: Type.Array(ApplicationView), ...errors },
      },
    },
    async (req) => applications.listApplications(req.principal, req.query),
  );

  app.get(
    '/v1/applications/:id',
    {
      schema: {
        tags: ['applications'],
        operationId: 'getApplication',
        summary: 'An application with its reviews and decision',
        params: IdParams,
        response: { 200: ApplicationView, ...errors },
      },
    },
    async (req) => applications.getApplication(req.principal, req.params.id),
  );

  app.get(
    '/v1/reviews',
    {
      config: { roles: ['provider', 'bureau', 'risk'] },
      schema: {
        tags: ['applications'],
        operationId: 'listReviewQueue',
        summary:
          "Reviews by due date: a provider's queue, or every provider's for the bureau (?overdue=true: past their deadline)",
        querystring: ReviewListQuery,
        response: { 200: Type.Array(ReviewQueueItem), ...errors },
      },
    },
    async (req) => applications.listReviews(req.principal, req.query),
  );

  app.post(
    '/v1/applications/:id/reviews',
    {
      config: { roles: ['provider'] },
      schema: {
        tags: ['applications'],
        operationId: 'reviewApplication',
        summary: "A provider's review of its dataset (一需求一审核)",
        params: IdParams,
        body: ReviewBody,
        response: { 200: ApplicationView, ...errors },
      },
    },
    async (req) => applications.reviewApplication(req.principal, req.params.id, req.body, req.id),
  );

  app.post(
    '/v1/applications/:id/decision',
    {
      config: { roles: ['bureau'] },
      schema: {
        tags: ['applications'],
        operationId: 'decideApplication',
        summary:
          "The bureau's decision (一场景一协议); an approval answers 202 with the contract `building`: it is signed, and becomes `active`, when its snapshot is sealed",
        params: IdParams,
        body: DecisionBody,
        response: { 202: DecisionResult, 200: DecisionResult, ...errors },
      },
    },
    async (req, reply) => {
      const { application, contract } = await applications.decide(req.principal, req.params.id, req.body, req.id);
      return reply
        .code(contract ? 202 : 200)
        .send({ application, contractId: contract?.id ?? null, contract: contract ?? null });
    },
  );
};
