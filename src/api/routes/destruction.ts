import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import { DestructionListQuery, DestructionRecordView } from '../schemas/destruction.ts';
import { IdParams, ProblemRef, example } from '../schemas/index.ts';
import * as ex from '../schemas/examples/destruction.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef };

/** Destruction records (seed 003 第三十九条（四）: destroying data is supervised; docs/architecture.md §19). */
export const destructionRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.get(
    '/v1/destruction-records',
    {
      config: { roles: ['bureau', 'risk', 'operator'] },
      schema: {
        tags: ['destruction'],
        operationId: 'listDestructionRecords',
        summary: 'Destruction records: every deletion of a snapshot or of an output’s data, sealed by the bureau',
        description:
          "Bureau and risk staff see every record; an operator those of its own contracts. Each record (销毁记录) says what was deleted (the files and their SHA-256 taken before deletion), why (term-ended, revoked, retention, request), who asked, when, and how (unlinked: not overwritten); once done it carries the bureau's seal to check offline with `pds verify-destruction`. Filter by `contract`; oldest first, at most 500.",
        querystring: DestructionListQuery,
        response: {
          200: example(Type.Object({ records: Type.Array(DestructionRecordView) }), ex.listDestructionRecordsResponse),
          ...errors,
        },
      },
    },
    async (req) => ({
      records: await platform.destruction.list(req.principal, { contractId: req.query.contract }),
    }),
  );

  app.get(
    '/v1/destruction-records/:id',
    {
      config: { roles: ['bureau', 'risk', 'operator'] },
      schema: {
        tags: ['destruction'],
        operationId: 'getDestructionRecord',
        summary: 'One destruction record, with its seal',
        description:
          "Bureau and risk staff; the operator of the record's contract. The record as `GET /v1/destruction-records` lists it; save the answer (or its `jws`) and check it offline with `pds verify-destruction <file>`. Another operator's record, or none, answers 404.",
        params: IdParams,
        response: { 200: example(DestructionRecordView, ex.getDestructionRecordResponse), ...errors },
      },
    },
    async (req) => platform.destruction.get(req.principal, req.params.id),
  );
};
