import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import { example, JobView, ProblemRef, SubmitHeaders } from '../schemas/index.ts';
import * as ex from '../schemas/examples/templates.ts';
import { TemplateListQuery, TemplateRunBody, TemplateRunParams, TemplateView } from '../schemas/templates.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** Query templates: the bureau's published, parameterised queries; operators run them as jobs. */
export const templateRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.get(
    '/v1/templates',
    {
      config: { roles: ['operator', 'provider', 'bureau', 'risk'] },
      schema: {
        tags: ['templates'],
        operationId: 'listTemplates',
        summary: 'The published query templates, or those a contract can run',
        description:
          'Any signed-in role (operator, provider, bureau, risk staff) may list the query templates (查询模板) the bureau publishes in policies/templates.yaml. With `contractId`, only the templates whose mode and columns that contract grants; an unknown contract is 404.',
        querystring: TemplateListQuery,
        response: { 200: example(Type.Array(TemplateView), ex.listTemplatesResponse), ...errors },
      },
    },
    async (req) => platform.templates.list(req.principal, req.query.contractId),
  );

  app.post(
    '/v1/contracts/:id/templates/:templateId/run',
    {
      config: {
        roles: ['operator'],
        rateLimit: { max: platform.policies.sandbox.quotas.submissionsPerMinute, timeWindow: 60_000 },
      },
      schema: {
        tags: ['templates'],
        operationId: 'runTemplate',
        summary: 'Run a query template under a contract',
        description:
          'An operator of the contract runs a query template (运行查询模板). Checks each parameter against its type (a code of its list, a whole number within its bounds, a month) and binds it as a literal, then submits the SQL as a job: the same analysis, disclosure control and release as any job. Answers 202 with the job; a parameter outside its type is ERR_TEMPLATE_PARAMETER naming it.',
        params: TemplateRunParams,
        headers: SubmitHeaders,
        body: example(TemplateRunBody, ex.runTemplateRequest),
        response: { 202: example(JobView, ex.runTemplateResponse), ...errors, 422: ProblemRef, 429: ProblemRef },
      },
    },
    async (req, reply) => {
      const { job, created } = await platform.templates.run(
        req.principal,
        {
          contractId: req.params.id,
          templateId: req.params.templateId,
          parameters: req.body.parameters,
          ...(req.body.name ? { name: req.body.name } : {}),
        },
        { requestId: req.id, idempotencyKey: req.headers['idempotency-key'] },
      );
      if (!created) reply.header('idempotent-replayed', 'true');
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(job);
    },
  );
};
