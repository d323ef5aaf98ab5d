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
  example,
} from '../schemas/index.ts';
import * as ex from '../schemas/examples/applications.ts';
import type { Routes } from './scope.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** Applications, provider reviews and the bureau's decision (seed 002 第三十四条). */
export const applicationRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  filing(app, platform);
  applicationReads(app, platform);
  decisions(app, platform);
};

/** An operator files an application, or first sees what it would be granted. */
function filing(app: Routes, { applications }: Platform): void {
  app.post(
    '/v1/applications',
    {
      config: { roles: ['operator'] },
      schema: {
        tags: ['applications'],
        operationId: 'createApplication',
        summary: 'Apply for one scenario (一场景一申请)',
        description:
          "Operators only. Files an application (申请) for one scenario: the datasets and columns it needs, each column's masking rule (default: the catalog's), the mode (aggregate, dp or custom), the term and the emergency plan. Each dataset's provider then reviews it (POST /v1/applications/{id}/reviews) and the bureau decides. The answer carries what would be granted, the snapshot's re-identification risk and the policy's `warnings` (approving past them needs an override). Refused: a column on the negative list or a masking rule the catalog does not allow for it (400 naming the field), a dataset withdrawn from operation (409), an `operatorOrg` not the caller's own (403).",
        body: example(ApplicationBody, ex.createApplicationRequest),
        response: { 201: example(ApplicationView, ex.createApplicationResponse), ...errors },
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
        description:
          'Operators only. Computes what an application with these datasets, columns, masking choices and mode would be granted, the re-identification risk of its snapshot (k, prosecutor risk, the class sizes) and the warnings an approval would have to override; nothing is stored or audited. Refused as POST /v1/applications would refuse the same choices (400, 409).',
        body: example(ApplicationPreviewBody, ex.previewApplicationRequest),
        response: { 200: example(ApplicationPreview, ex.previewApplicationResponse), ...errors },
      },
    },
    async (req) => applications.previewApplication(req.principal, req.body),
  );
}

/** Applications listed and read, and the reviews owed on them. */
function applicationReads(app: Routes, { applications }: Platform): void {
  app.get(
    '/v1/applications',
    {
      schema: {
        tags: ['applications'],
        operationId: 'listApplications',
        summary: 'Applications the caller may see, newest first',
        description:
          "Any user. An operator sees its organisation's applications, a provider those naming its datasets, bureau and risk staff all of them; `status` filters, `limit` caps the page (default 100).",
        querystring: ApplicationListQuery,
        response: { 200: example(Type.Array(ApplicationView), ex.listApplicationsResponse), ...errors },
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
        description:
          "Any user who may see it (as in the list): the application, its grants, risk preview, each provider's review and the bureau's decision. 404 for an application the caller may not see, as for one that does not exist.",
        params: IdParams,
        response: { 200: example(ApplicationView, ex.getApplicationResponse), ...errors },
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
        description:
          "Providers, bureau and risk staff. The reviews (审核) a provider owes on applications for its datasets, soonest due first, with the deadline policies/workflow.yaml sets in working days; the bureau and risk staff see every provider's. Operators are refused (403).",
        querystring: ReviewListQuery,
        response: { 200: example(Type.Array(ReviewQueueItem), ex.listReviewQueueResponse), ...errors },
      },
    },
    async (req) => applications.listReviews(req.principal, req.query),
  );
}

/** Each provider's review of its dataset, then the bureau's decision. */
function decisions(app: Routes, { applications }: Platform): void {
  app.post(
    '/v1/applications/:id/reviews',
    {
      config: { roles: ['provider'] },
      schema: {
        tags: ['applications'],
        operationId: 'reviewApplication',
        summary: "A provider's review of its dataset (一需求一审核)",
        description:
          'Providers only, for their own datasets. Approves or rejects one dataset of a pending application; a rejection needs a `reason`, which the operator reads. Refused: a dataset of another provider (403), a dataset the application does not ask for (400), an application already decided or a dataset already reviewed (409).',
        params: IdParams,
        body: example(ReviewBody, ex.reviewApplicationRequest),
        response: { 200: example(ApplicationView, ex.reviewApplicationResponse), ...errors },
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
        description:
          'Bureau only. Approves or rejects an application whose datasets every provider has approved; the bureau may tighten its terms (term, k, row cap, ε, columns) but not loosen the policy. An approval whose risk preview breaks the policy needs `override.reason`, recorded in the signed contract (合约) and the audit trail. Answers 202 with the contract `building` (its masked snapshot is being built), 200 for a rejection. Refused: reviews still pending or rejected, no override where the preview has warnings, terms looser than policy (409, 400).',
        params: IdParams,
        body: example(DecisionBody, ex.decideApplicationRequest),
        response: {
          202: example(DecisionResult, ex.decideApplicationResponse),
          200: example(DecisionResult, ex.rejectApplicationResponse),
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const { application, contract } = await applications.decide(req.principal, req.params.id, req.body, req.id);
      return reply
        .code(contract ? 202 : 200)
        .send({ application, contractId: contract?.id ?? null, contract: contract ?? null });
    },
  );
}
