import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import {
  AnswerBody,
  FeedbackBody,
  FeedbackListQuery,
  FeedbackView,
  IdParams,
  ProblemRef,
  example,
} from '../schemas/index.ts';
import * as ex from '../schemas/examples/catalog.ts';

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
        description:
          "Operators only, under one of their contracts that grants the dataset. Sends the dataset's provider feedback (反馈) on its quality or on the operator's use of it; the provider's answer is due within the review deadline's working days and the feedback shows as overdue after. Refused: a contract of another organisation or one that does not grant the dataset (403, 409).",
        params: DatasetParams,
        body: example(FeedbackBody, ex.fileFeedbackRequest),
        response: { 201: example(FeedbackView, ex.fileFeedbackResponse), ...errors },
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
        description:
          'Any user: a provider sees the feedback on its datasets (its inbox), an operator its own, bureau and risk staff all of it. `open=true` lists what is not answered yet.',
        querystring: FeedbackListQuery,
        response: { 200: example(Type.Array(FeedbackView), ex.listFeedbackResponse), ...errors },
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
        description:
          "The provider of the dataset the feedback is on. Answers it, once; the operator reads the answer in the same record. Refused: feedback on another provider's dataset (403), feedback already answered (409).",
        params: IdParams,
        body: example(AnswerBody, ex.answerFeedbackRequest),
        response: { 200: example(FeedbackView, ex.answerFeedbackResponse), ...errors },
      },
    },
    async (req) => platform.feedback.answer(req.principal, req.params.id, req.body.body, req.id),
  );
};
