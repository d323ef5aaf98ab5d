import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CONTRACT_TRANSITIONS, type ContractAction } from '../../contracts/index.ts';
import type { Platform } from '../../platform/index.ts';
import {
  AssessmentBody,
  AssessmentView,
  BudgetView,
  ContractListQuery,
  ContractView,
  DummyDataQuery,
  IdParams,
  ProblemRef,
  StatusChangeBody,
} from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

const LIFECYCLE: Record<ContractAction, string> = {
  suspend: "Suspend a contract (the emergency plan's kill switch): its queued and running jobs are cancelled",
  resume: 'Resume a suspended contract',
  revoke: 'Revoke a contract for good: its unfinished jobs fail and its snapshot is deleted',
};

export const contractRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  const { contracts, effectiveness, builds } = platform;

  app.get(
    '/v1/contracts',
    {
      schema: {
        tags: ['contracts'],
        operationId: 'listContracts',
        summary: 'Contracts the caller may see, newest first',
        querystring: ContractListQuery,
        response: { 200: Type.Array(ContractView), ...errors },
      },
    },
    async (req) => contracts.listContracts(req.principal, req.query),
  );

  app.get(
    '/v1/contracts/:id',
    {
      schema: {
        tags: ['contracts'],
        operationId: 'getContract',
        summary: 'A contract, its status and its signed claims',
        params: IdParams,
        response: { 200: ContractView, ...errors },
      },
    },
    async (req) => contracts.getContract(req.principal, req.params.id),
  );

  app.get(
    '/v1/contracts/:id/budget',
    {
      schema: {
        tags: ['contracts'],
        operationId: 'getContractBudget',
        summary: "A dp contract's ε account: budget, spent, remaining, the charge per query, the latest charges",
        params: IdParams,
        response: { 200: BudgetView, ...errors },
      },
    },
    async (req) => platform.jobs.budget(req.principal, req.params.id),
  );

  app.get(
    '/v1/contracts/:id/jws',
    {
      schema: {
        tags: ['contracts'],
        operationId: 'getContractJws',
        summary: 'The signed contract (compact JWS); verify it with /.well-known/jwks.json',
        params: IdParams,
        response: { 200: Type.String({ description: 'application/jose' }), ...errors },
      },
    },
    async (req, reply) =>
      reply.type('application/jose').send(await contracts.getContractJws(req.principal, req.params.id)),
  );

  for (const [action, summary] of Object.entries(LIFECYCLE) as [ContractAction, string][]) {
    app.post(
      `/v1/contracts/:id/${action}`,
      {
        config: { roles: CONTRACT_TRANSITIONS[action].roles },
        schema: {
          tags: ['contracts'],
          operationId: `${action}Contract`,
          summary,
          params: IdParams,
          body: StatusChangeBody,
          response: { 200: ContractView, ...errors },
        },
      },
      async (req) => contracts.changeStatus(req.principal, req.params.id, action, req.body.reason, req.id),
    );
  }

  app.post(
    '/v1/contracts/:id/rebuild',
    {
      config: { roles: ['bureau'] },
      schema: {
        tags: ['contracts'],
        operationId: 'rebuildContract',
        summary: "Build a failed contract's snapshot again (the contract is signed when it is sealed)",
        params: IdParams,
        body: StatusChangeBody,
        response: { 202: ContractView, ...errors },
      },
    },
    async (req, reply) => {
      await contracts.getContract(req.principal, req.params.id);
      await builds.retry(req.principal, req.params.id, req.body.reason, req.id);
      return reply.code(202).send(await contracts.getContract(req.principal, req.params.id));
    },
  );

  app.get(
    '/v1/contracts/:id/dummy-data',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['contracts'],
        operationId: 'getDummyData',
        summary:
          "Dummy rows with exactly the snapshot's schema and masked formats, to write and test queries without the data — as JSON, a DuckDB database or a Parquet table",
        params: IdParams,
        querystring: DummyDataQuery,
        response: {
          200: {
            description: 'the dummy tables',
            content: {
              'application/json': {
                schema: Type.Record(
                  Type.String(),
                  Type.Object({
                    columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })),
                    rows: Type.Array(Type.Array(Type.Unknown())),
                  }),
                ),
              },
              'application/vnd.duckdb': { schema: Type.String({ format: 'binary' }) },
              'application/vnd.apache.parquet': { schema: Type.String({ format: 'binary' }) },
            },
          },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const opts = { rows: req.query.rows ?? 100, seed: req.query.seed ?? 1 };
      const format = req.query.format ?? 'json';
      // already JSON (made and serialized off the event loop): sent as it is
      if (format === 'json')
        return reply
          .type('application/json; charset=utf-8')
          .send(await platform.contracts.dummyData(req.principal, req.params.id, opts));
      const file = await platform.contracts.dummyDataFile(req.principal, req.params.id, {
        ...opts,
        format,
        ...(req.query.table ? { table: req.query.table } : {}),
      });
      const name = `${req.params.id}-dummy${format === 'parquet' && req.query.table ? `-${req.query.table}` : ''}`;
      return reply
        .type(format === 'duckdb' ? 'application/vnd.duckdb' : 'application/vnd.apache.parquet')
        .header('content-disposition', `attachment; filename="${name}.${format}"`)
        .send(file);
    },
  );

  app.get(
    '/v1/contracts/:id/assessments',
    {
      schema: {
        tags: ['contracts'],
        operationId: 'listAssessments',
        summary: 'Yearly effectiveness assessments of a contract',
        params: IdParams,
        response: { 200: Type.Array(AssessmentView), ...errors },
      },
    },
    async (req) => effectiveness.list(req.principal, req.params.id),
  );

  app.post(
    '/v1/contracts/:id/assessments',
    {
      config: { roles: ['bureau'] },
      schema: {
        tags: ['contracts'],
        operationId: 'recordAssessment',
        summary:
          'Record a yearly effectiveness assessment (seed 002 第三十五条); consecutive failing years revoke the contract',
        params: IdParams,
        body: AssessmentBody,
        response: {
          201: Type.Object({ assessment: AssessmentView, revoked: Type.Boolean(), contract: ContractView }),
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const { assessment, revoked } = await effectiveness.record(req.principal, req.params.id, req.body, req.id);
      return reply
        .code(201)
        .send({ assessment, revoked, contract: await contracts.getContract(req.principal, req.params.id) });
    },
  );
};
