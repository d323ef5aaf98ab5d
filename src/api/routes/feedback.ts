import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import { AnswerBody, FeedbackBody, FeedbackListQuery, FeedbackView, IdParams, ProblemRef } from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };
const DatasetParams = Type.Object({ id: Type.String({ pattern: '^[a-z_][a-z0-9_]*$', maxLength: 64 }) });

/** Operators' feedback to providers on data they used, and the providers' answers (seed 002 第二十二条). */
export const feedbackRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.post(
    '/v1/datasets/:id/feedback',
    {
      config: { roles: ['operator'] },
      schema: {
        tags: ['feedback'],
        operationId: 'fileFeedback',
        summary:
          "Feedback to a dataset's provider on its quality or your use of it, under a contract that grants it; the answer is due in the review deadline's working days",
        params: DatasetParams,
        body: FeedbackBody,
        response: { 201: FeedbackView, ...errors },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await platform.feedback.file(req.principal, req.params.id, req.body, req.id)),
  );

  app.get(
    '/v1/feedback',
    {
      schema: {
        tags: ['feedback'],
        operationId: 'listFeedback',
        summary: "Feedback you may see, newest first: a provider's inbox, an operator's own, everything for staff",
        querystring: FeedbackListQuery,
        response: { 200: Type.Array(FeedbackView), ...errors },
      },
    },
    async (req) => platform.feedback.list(req.principal, req.query),
  );

  app.post(
    '/v1/feedback/:id/answer',
    {
      config: { roles: ['provider'] },
      schema: {
        tags: ['feedback'],
        operationId: 'answerFeedback',
        summary: "The dataset's provider answers a piece of feedback, once",
        params: IdParams,
        body: AnswerBody,
        response: { 200: FeedbackView, ...errors },
      },
    },
    async (req) => platform.feedback.answer(req.principal, req.params.id, req.body.body, req.id),
  );
};
