import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Platform } from '../../platform/index.ts';
import { ProblemRef, example } from '../schemas/index.ts';
import {
  RegisterHeadSchema,
  RegisterPageSchema,
  RegisterQuery,
  ViolationBody,
  ViolationResult,
} from '../schemas/register.ts';
import * as ex from '../schemas/examples/register.ts';

/**
 * The public register (seed 003 第三十五条: 限制或者关闭 … 并予以公布): read by anyone without a
 * token (registered outside the authenticated scope), written by the measures themselves and by
 * the bureau's record of a violation (inside it).
 */
export const publicRegisterRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.get(
    '/v1/register',
    {
      schema: {
        tags: ['register'],
        operationId: 'getRegister',
        summary: "The public register of the bureau's measures: entries sealed and chained, with the signed head",
        description:
          "Anyone, without a token. The public register (公示名录): suspensions, resumptions and revocations of contracts, dataset withdrawals, restrictions and recorded violations, as policies/register.yaml publishes them — the operating company, scenario, datasets, action, date, a reason category and the bureau's public statement; never a person, an internal reason or a query. Paged by `after` (a seq) and `limit` (≤ 500); every page carries the head the bureau sealed just now. Pages put together ({format, head, entries}) are the copy `pds verify-register` checks offline against /.well-known/jwks.json. Refused: a bad `after` or `limit` (400).",
        security: [],
        querystring: RegisterQuery,
        response: { 200: example(RegisterPageSchema, ex.getRegisterResponse), 400: ProblemRef },
      },
    },
    async (req, reply) => reply.header('cache-control', 'no-cache').send(await platform.register.page(req.query)),
  );

  app.get(
    '/v1/register/head',
    {
      schema: {
        tags: ['register'],
        operationId: 'getRegisterHead',
        summary: 'The signed head of the public register: how many entries, and the last one’s hash',
        description:
          "Anyone, without a token. The register's head as the bureau seals it now: the number of public entries and the last entry's hash (64 zeros while there is none). A copy that ends before it, or elsewhere, was cut or rewritten.",
        security: [],
        response: { 200: example(RegisterHeadSchema, ex.getRegisterHeadResponse) },
      },
    },
    async (_req, reply) => reply.header('cache-control', 'no-cache').send(await platform.register.head()),
  );
};

export const registerRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.post(
    '/v1/register/violations',
    {
      config: { roles: ['bureau'] },
      schema: {
        tags: ['register'],
        operationId: 'recordViolation',
        summary: 'Record a violation (or a restriction imposed) under a contract, for the public register',
        description:
          'Bureau only. Records a violation by an operator under one of its contracts, or a restriction of access the bureau imposed, with a reason category from the closed list and a public statement written for publication; the internal `reason` goes to the audit trail only. Answers 201 with the register entry (null when policies/register.yaml publishes none of this kind). With an Idempotency-Key header a retry answers the same entry. Refused: a statement carrying an ID number, a mobile number, an e-mail address or a query (400, ERR_REGISTER_STATEMENT_PERSONAL), a contract that does not exist or is not signed (404, 409), the key reused for another record (422).',
        body: example(ViolationBody, ex.recordViolationRequest),
        response: {
          201: example(ViolationResult, ex.recordViolationResponse),
          400: ProblemRef,
          401: ProblemRef,
          403: ProblemRef,
          404: ProblemRef,
          409: ProblemRef,
          422: ProblemRef,
        },
      },
    },
    async (req, reply) => {
      const { contractId, kind = 'violation', reasonCategory, statement, reason } = req.body;
      const c = await platform.contracts.getSignedContract(req.principal, contractId);
      const key = req.headers['idempotency-key'];
      const result = await platform.register.recordViolation(
        req.principal,
        {
          contractId,
          operatorOrg: c.operatorOrg,
          scenarioTitle: c.claims.scenario.name,
          datasets: c.claims.datasets.map((d) => d.dataset),
        },
        { kind, reasonCategory, statement, reason },
        {
          requestId: req.id,
          idempotencyKey: typeof key === 'string' && key.length > 0 ? key.slice(0, 200) : undefined,
        },
      );
      return reply.code(201).send(result);
    },
  );
};
