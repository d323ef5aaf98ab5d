import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { actorOf } from '../../contracts/index.ts';
import { PdsError } from '../../errors/index.ts';
import type { Platform } from '../../platform/index.ts';
import {
  acknowledgeReport,
  DOMAIN_SUBJECT,
  listAcknowledgements,
  type ReportRequest,
  type StoredReport,
} from '../../reports/index.ts';
import {
  AcknowledgementBody,
  AcknowledgementView,
  IdParams,
  ProblemRef,
  ReportBody,
  ReportListQuery,
  ReportSummaryView,
  SignedReport,
} from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** The page is self-contained: nothing may load, nothing may run. */
const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Risk assessment reports (seed 002 第三十四条(四)): made by risk staff and the bureau, read by them and, its own, by an operator. */
export const reportRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  const signed = (id: string, r: StoredReport) => ({
    report: r.report,
    jws: r.jws,
    html: `/v1/reports/${id}.html`,
    ...(r.asSigned !== undefined ? { asSigned: r.asSigned } : {}),
  });
  const ackDeps = { store: platform.store, keys: platform.keys, now: () => new Date() };

  app.post(
    '/v1/reports',
    {
      config: {
        roles: ['risk', 'bureau'],
        rateLimit: { max: platform.policies.sandbox.quotas.reportsPerMinute, timeWindow: 60_000 },
      },
      schema: {
        tags: ['reports'],
        operationId: 'createReport',
        summary:
          'Make a signed risk assessment report for a contract, an operator or the whole domain, for a period (default: the current one so far)',
        body: ReportBody,
        response: { 201: SignedReport, ...errors, 429: ProblemRef },
      },
    },
    async (req, reply) => {
      const { contractId, operatorOrg, domain, period } = req.body;
      if ([contractId, operatorOrg, domain].filter((x) => x !== undefined).length !== 1) {
        throw new PdsError('ERR_VALIDATION', 'name exactly one of contractId, operatorOrg or domain', {
          errors: [{ field: '/body', message: 'exactly one of contractId, operatorOrg, domain' }],
        });
      }
      const actor = actorOf(req.principal, req.principal.roles.includes('risk') ? 'risk' : 'bureau');
      const subject: ReportRequest = contractId
        ? { kind: 'contract', subject: contractId, period }
        : operatorOrg
          ? { kind: 'operator', subject: operatorOrg, period }
          : { kind: 'domain', subject: DOMAIN_SUBJECT, period };
      const made = (await platform.reports.generate(subject, actor, 'demand', req.id))!;
      return reply.code(201).header('location', `/v1/reports/${made.report.id}`).send(signed(made.report.id, made));
    },
  );

  app.get(
    '/v1/reports',
    {
      config: { roles: ['risk', 'bureau', 'operator'] },
      schema: {
        tags: ['reports'],
        operationId: 'listReports',
        summary: "Reports, newest first (an operator: its own contracts' and its own)",
        querystring: ReportListQuery,
        response: { 200: Type.Object({ reports: Type.Array(ReportSummaryView) }), ...errors },
      },
    },
    async (req) => ({ reports: await platform.reports.list(req.query, req.principal) }),
  );

  app.get(
    '/v1/reports/:id.html',
    {
      config: { roles: ['risk', 'bureau', 'operator'] },
      schema: {
        tags: ['reports'],
        operationId: 'getReportHtml',
        summary: 'The report as a self-contained HTML page with charts',
        params: IdParams,
        response: { 200: Type.String({ description: 'text/html' }), ...errors },
      },
    },
    async (req, reply) => {
      const { html } = await platform.reports.get(req.params.id, req.principal);
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', PAGE_CSP)
        .header('x-content-type-options', 'nosniff')
        .send(html);
    },
  );

  app.get(
    '/v1/reports/:id',
    {
      config: { roles: ['risk', 'bureau', 'operator'] },
      schema: {
        tags: ['reports'],
        operationId: 'getReport',
        summary: 'The report (JSON) and its bureau signature',
        params: IdParams,
        response: { 200: SignedReport, ...errors },
      },
    },
    async (req) => ({
      ...signed(req.params.id, await platform.reports.get(req.params.id, req.principal)),
      acknowledgements: await listAcknowledgements(platform.store, req.params.id),
    }),
  );

  app.post(
    '/v1/reports/:id/acknowledgement',
    {
      config: { roles: ['operator'] },
      schema: {
        tags: ['reports'],
        operationId: 'acknowledgeReport',
        summary:
          'The operator a report is about acknowledges it with a statement, sealed by the bureau with the report’s signature (seed 002 第三十四条(四))',
        params: IdParams,
        body: AcknowledgementBody,
        response: { 201: AcknowledgementView, ...errors },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await acknowledgeReport(ackDeps, req.principal, req.params.id, req.body.statement, req.id)),
  );
};
