import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CONTRACT_TRANSITIONS, type ContractAction } from '../../contracts/index.ts';
import type { Platform } from '../../platform/index.ts';
import type { Routes } from './scope.ts';
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
  example,
} from '../schemas/index.ts';
import { PublishedChangeBody } from '../schemas/register.ts';
import * as ex from '../schemas/examples/contracts.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef };

const LIFECYCLE: Record<ContractAction, { summary: string; description: string }> = {
  suspend: {
    summary: "Suspend a contract (the emergency plan's kill switch): its queued and running jobs are cancelled",
    description:
      "Bureau and risk staff. Suspends (暂停) an active contract at once: no job may be submitted under it, its queued and running jobs are cancelled, and the reason is recorded in the audit trail and the contract's reports; the public register shows the suspension with `reasonCategory` and `statement` (never `reason`). Refused: a contract not active (409), a statement carrying a person's identifier (400).",
  },
  resume: {
    summary: 'Resume a suspended contract',
    description:
      'Bureau only. Makes a suspended contract active again, within its term, with the reason recorded, and published in the register as policies/register.yaml says. Refused: a contract not suspended, or one whose dataset is still withdrawn (409).',
  },
  revoke: {
    summary: 'Revoke a contract for good: its unfinished jobs fail and its snapshot is deleted',
    description:
      'Bureau only. Ends an active or suspended contract for good (撤销): its unfinished jobs fail, its snapshot is deleted, and nothing more runs or is released under it; what was released stays verifiable; the public register shows the revocation with `reasonCategory` and `statement`. Refused: a contract already revoked, expired or not yet signed (409).',
  },
};
const LIFECYCLE_EXAMPLES = {
  suspend: [ex.suspendContractRequest, ex.suspendContractResponse],
  resume: [ex.resumeContractRequest, ex.resumeContractResponse],
  revoke: [ex.revokeContractRequest, ex.revokeContractResponse],
} as const;

/** Contracts: read by whoever may see them; suspended, resumed or revoked by the bureau (suspended by risk staff too). */
export const contractRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  contractReads(app, platform);
  contractLifecycle(app, platform);
  dummyData(app, platform);
  assessments(app, platform);
};

/** A contract, its ε account and its signed form. */
function contractReads(app: Routes, { contracts, jobs }: Platform): void {
  app.get(
    '/v1/contracts',
    {
      schema: {
        tags: ['contracts'],
        operationId: 'listContracts',
        summary: 'Contracts the caller may see, newest first',
        description:
          "Any user. An operator sees its organisation's contracts (合约), a provider those granting its datasets, bureau and risk staff all; filter by `status` or `dataset`.",
        querystring: ContractListQuery,
        response: { 200: example(Type.Array(ContractView), ex.listContractsResponse), ...errors },
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
        description:
          'Any user who may see it (as in the list): its status, the claims the bureau signed (datasets and masking rules, disclosure terms, ε budget, the sealed snapshot) and, while it is `building`, the progress of its snapshot. 404 for a contract the caller may not see.',
        params: IdParams,
        response: { 200: example(ContractView, ex.getContractResponse), ...errors },
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
        description:
          "Any user who may see the contract. A dp (差分隐私) contract's privacy budget: ε for the term, spent, remaining, what one query is charged and how many are left; for an aggregate or custom contract the ε fields are null.",
        params: IdParams,
        response: { 200: example(BudgetView, ex.getContractBudgetDpResponse), ...errors },
      },
    },
    async (req) => jobs.budget(req.principal, req.params.id),
  );

  app.get(
    '/v1/contracts/:id/jws',
    {
      schema: {
        tags: ['contracts'],
        operationId: 'getContractJws',
        summary: 'The signed contract (compact JWS); verify it with /.well-known/jwks.json',
        description:
          'Any user who may see the contract. The contract as the bureau signed it (application/jose, EdDSA), to keep and verify offline against GET /.well-known/jwks.json. Refused: a contract not signed yet (`building` or `failed`: 409).',
        params: IdParams,
        response: {
          200: example(Type.String({ description: 'application/jose' }), ex.getContractJwsResponse),
          ...errors,
        },
      },
    },
    async (req, reply) =>
      reply.type('application/jose').send(await contracts.getContractJws(req.principal, req.params.id)),
  );
}

/** Suspend, resume, revoke; and a failed snapshot built again. */
function contractLifecycle(app: Routes, { contracts, builds }: Platform): void {
  for (const action of Object.keys(LIFECYCLE) as ContractAction[]) {
    app.post(
      `/v1/contracts/:id/${action}`,
      {
        config: { roles: CONTRACT_TRANSITIONS[action].roles },
        schema: {
          tags: ['contracts'],
          operationId: `${action}Contract`,
          ...LIFECYCLE[action],
          params: IdParams,
          body: example(PublishedChangeBody, LIFECYCLE_EXAMPLES[action][0]),
          response: { 200: example(ContractView, LIFECYCLE_EXAMPLES[action][1]), ...errors },
        },
      },
      async (req) => {
        const { reason, reasonCategory, statement } = req.body;
        return contracts.changeStatus(req.principal, req.params.id, action, reason, req.id, {
          reasonCategory,
          statement,
        });
      },
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
        description:
          'Bureau only. Starts the snapshot build of a contract whose build failed (disk full, a dataset changed under it) again, with the reason recorded; answers 202 with the contract `building`, signed when the snapshot is sealed. Refused: a contract whose build has not failed (409).',
        params: IdParams,
        body: example(StatusChangeBody, ex.rebuildContractRequest),
        response: { 202: example(ContractView, ex.rebuildContractResponse), ...errors },
      },
    },
    async (req, reply) => {
      await contracts.getContract(req.principal, req.params.id);
      await builds.retry(req.principal, req.params.id, req.body.reason, req.id);
      return reply.code(202).send(await contracts.getContract(req.principal, req.params.id));
    },
  );
}

/** Synthetic rows in the snapshot's schema, to write queries without the data. */
function dummyData(app: Routes, { contracts }: Platform): void {
  app.get(
    '/v1/contracts/:id/dummy-data',
    {
      config: { roles: ['operator', 'bureau', 'risk'] },
      schema: {
        tags: ['contracts'],
        operationId: 'getDummyData',
        summary:
          "Dummy rows with exactly the snapshot's schema and masked formats, to write and test queries without the data — as JSON, a DuckDB database or a Parquet table",
        description:
          "Operators of the contract, bureau and risk staff. Synthetic rows (模拟数据) in the snapshot's tables, columns and masked formats — no real row — to write and test SQL before submitting it. `format=duckdb` answers one database file of every table, `format=parquet` one table (`table`). Refused: a contract not signed yet (409); a full disk answers 507.",
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
                example: ex.getDummyDataResponse,
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
          .send(await contracts.dummyData(req.principal, req.params.id, opts));
      const file = await contracts.dummyDataFile(req.principal, req.params.id, {
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
}

/** The bureau's yearly effectiveness assessments (seed 002 第三十五条). */
function assessments(app: Routes, { contracts, effectiveness }: Platform): void {
  app.get(
    '/v1/contracts/:id/assessments',
    {
      schema: {
        tags: ['contracts'],
        operationId: 'listAssessments',
        summary: 'Yearly effectiveness assessments of a contract',
        description:
          "Any user who may see the contract. The bureau's yearly effectiveness assessments (成效评估) of it, oldest first.",
        params: IdParams,
        response: { 200: example(Type.Array(AssessmentView), ex.listAssessmentsResponse), ...errors },
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
        description:
          "Bureau only. Records the yearly assessment of a contract: its indicators, measured values and targets, and whether it passed. Consecutive failing years (policies/workflow.yaml) revoke the contract in the same step (`revoked: true`). Refused: a year outside the contract's term (400), a year already assessed (409).",
        params: IdParams,
        body: example(AssessmentBody, ex.recordAssessmentRequest),
        response: {
          201: example(
            Type.Object({ assessment: AssessmentView, revoked: Type.Boolean(), contract: ContractView }),
            ex.recordAssessmentResponse,
          ),
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
}
