import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Platform } from '../../platform/index.ts';
import { ContractView, IdParams, ProblemRef } from '../schemas/index.ts';

const errors = { 401: ProblemRef, 403: ProblemRef, 404: ProblemRef };

export const contractRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.get('/v1/contracts/:id', {
    schema: { tags: ['contracts'], summary: 'A contract, its status and its signed claims', params: IdParams, response: { 200: ContractView, ...errors } },
  }, async (req) => platform.contracts.getContract(req.principal, req.params.id));

  app.get('/v1/contracts/:id/jws', {
    schema: {
      tags: ['contracts'], summary: 'The signed contract (compact JWS); verify it with /.well-known/jwks.json', params: IdParams,
      response: { 200: Type.String({ description: 'application/jose' }), ...errors },
    },
  }, async (req, reply) => reply.type('application/jose').send(await platform.contracts.getContractJws(req.principal, req.params.id)));
};
