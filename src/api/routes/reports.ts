import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { actorOf } from '../../auth/index.ts';
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
  example,
} from '../schemas/index.ts';
import * as ex from '../schemas/examples/reports.ts';
import type { Routes } from './scope.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

/** The page is self-contained: nothing may load, nothing may run. */
const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Risk assessment reports (seed 002 第三十四条(四)): made by risk staff and the bureau, read by them and, its own, by an operator. */
export const reportRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  reportMaking(app, platform);
  reportReads(app, platform);
  acknowledgement(app, platform);
};

/** A stored report as the API answers it: the report, its signature and where its page is. */
const signed = (id: string, r: StoredReport) => ({
  report: r.report,
  jws: r.jws,
  html: `/v1/reports/${id}.html`,
  ...(r.asSigned !== undefined ? { asSigned: r.asSigned } : {}),
});

/** A report made on demand, on one contract, one operator or the whole domain. */
function reportMaking(app: Routes, { reports, policies }: Platform): void {
  app.post(
    '/v1/reports',
    {
      config: {
        roles: ['risk', 'bureau'],
        rateLimit: { max: policies.sandbox.quotas.reportsPerMinute, timeWindow: 60_000 },
      },
      schema: {
        tags: ['reports'],
        operationId: 'createReport',
        summary:
          'Make a signed risk assessment report for a contract, an operator or the whole domain, for a period (default: the current one so far)',
        description:
          'Risk and bureau staff. Generates and signs a risk assessment report (风险评估报告) on one contract, one operator or the whole domain (`domain: true`) for a period (a quarter, month or year; without one, the current period so far, marked partial): its figures against the previous period, the rating with the findings and rules behind it, and recommendations. Refused: not exactly one subject, a subject that does not exist (400, 404), too many reports a minute (429).',
        body: example(ReportBody, ex.createReportRequest),
        response: { 201: example(SignedReport, ex.createReportResponse), ...errors, 429: ProblemRef },
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
      const made = (await reports.generate(subject, actor, 'demand', req.id))!;
      return reply.code(201).header('location', `/v1/reports/${made.report.id}`).send(signed(made.report.id, made));
    },
  );
}

/** Reports listed, and one read as JSON or as its page. */
function reportReads(app: Routes, { reports, store }: Platform): void {
  app.get(
    '/v1/reports',
    {
      config: { roles: ['risk', 'bureau', 'operator'] },
      schema: {
        tags: ['reports'],
        operationId: 'listReports',
        summary: "Reports, newest first (an operator: its own contracts' and its own)",
        querystring: ReportListQuery,
        description:
          'Risk and bureau staff see every report; an operator those on its own contracts and on itself. Filter by subject, period or rating. Providers are refused (403).',
        response: {
          200: example(Type.Object({ reports: Type.Array(ReportSummaryView) }), ex.listReportsResponse),
          ...errors,
        },
      },
    },
    async (req) => ({ reports: await reports.list(req.query, req.principal) }),
  );

  app.get(
    '/v1/reports/:id.html',
    {
      config: { roles: ['risk', 'bureau', 'operator'] },
      schema: {
        tags: ['reports'],
        operationId: 'getReportHtml',
        summary: 'The report as a self-contained HTML page with charts',
        description:
          'Risk and bureau staff, or the operator the report is on (as GET /v1/reports/{id}). The same report as one self-contained zh-CN HTML page (text/html) with its charts inline, to print or archive; the example is abridged.',
        params: IdParams,
        response: { 200: example(Type.String({ description: 'text/html' }), ex.getReportHtmlResponse), ...errors },
      },
    },
    async (req, reply) => {
      const { html } = await reports.get(req.params.id, req.principal);
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
        description:
          "Risk and bureau staff, or the operator the report is on. The report as JSON, its bureau signature (`jws`, over the report's and the page's sha256) and the operator's acknowledgements. 404 for a report the caller may not read.",
        params: IdParams,
        response: { 200: example(SignedReport, ex.getReportResponse), ...errors },
      },
    },
    async (req) => ({
      ...signed(req.params.id, await reports.get(req.params.id, req.principal)),
      acknowledgements: await listAcknowledgements(store, req.params.id),
    }),
  );
}

/** The operator a report is on acknowledges it (seed 002 第三十四条(四)). */
function acknowledgement(app: Routes, { store, keys }: Platform): void {
  const ackDeps = { store, keys, now: () => new Date() };

  app.post(
    '/v1/reports/:id/acknowledgement',
    {
      config: { roles: ['operator'] },
      schema: {
        tags: ['reports'],
        operationId: 'acknowledgeReport',
        summary:
          'The operator a report is about acknowledges it with a statement, sealed by the bureau with the report’s signature (seed 002 第三十四条(四))',
        description:
          "Operators only, on a report about their own contracts or organisation. Records what the operator did or says about the report, sealed by the bureau with the report's signature. Refused: a report on another operator (403 or 404).",
        params: IdParams,
        body: example(AcknowledgementBody, ex.acknowledgeReportRequest),
        response: { 201: example(AcknowledgementView, ex.acknowledgeReportResponse), ...errors },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await acknowledgeReport(ackDeps, req.principal, req.params.id, req.body.statement, req.id)),
  );
}
