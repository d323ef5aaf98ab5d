import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ERRORS, type ErrorCode } from '../../errors/index.ts';
import type { RunOutcome } from '../../jobs/index.ts';
import { actorOf } from '../../contracts/index.ts';
import type { Platform } from '../../platform/index.ts';
import { ProblemRef } from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef };

const ClaimBody = Type.Object({
  jobId: Type.String({ maxLength: 64 }),
  rerun: Type.Optional(Type.Boolean({ description: 'the queue delivered this job again after its worker was lost' })),
}, { additionalProperties: false });

const OutcomeBody = Type.Object({
  jobId: Type.String({ maxLength: 64 }),
  attempt: Type.Integer({ minimum: 1 }),
  outcome: Type.Union([
    Type.Object({
      ok: Type.Literal(true),
      analysis: Type.Object({
        sql: Type.String(), mode: Type.Union([Type.Literal('aggregate'), Type.Literal('dp'), Type.Literal('custom')]),
        tables: Type.Array(Type.String()), unitsColumn: Type.Union([Type.String(), Type.Null()]),
        countColumns: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
        keyColumns: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
        dp: Type.Optional(Type.Object({}, { additionalProperties: true })),
        dominance: Type.Optional(Type.Array(Type.Object({
          column: Type.Integer({ minimum: 0 }), total: Type.String(), top: Type.String(), basis: Type.Union([Type.Literal('units'), Type.Literal('rows')]),
        }))),
      }),
      result: Type.Object({ columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String() })), rows: Type.Array(Type.Array(Type.Unknown())) }),
    }),
    Type.Object({
      ok: Type.Literal(false),
      error: Type.Object({ code: Type.String(), message: Type.String(), layer: Type.Optional(Type.String()), rule: Type.Optional(Type.String()) }),
    }),
  ]),
});

/**
 * What `pds worker` processes call: claim a job right before running it (the contract is checked
 * then), and hand back its raw outcome; disclosure control and the release happen here.
 */
export const workerRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.post('/v1/worker/claims', {
    config: { roles: ['worker'] },
    schema: {
      tags: ['worker'], summary: 'Claim a queued job for one run; 204 when there is nothing to run', body: ClaimBody,
      response: { 200: Type.Object({}, { additionalProperties: true }), 204: Type.Null(), ...errors },
    },
  }, async (req, reply) => {
    const spec = await platform.jobs.claim(req.body.jobId, { rerun: req.body.rerun, actor: actorOf(req.principal, 'worker'), requestId: req.id });
    return spec ? spec : reply.code(204).send(null);
  });

  app.post('/v1/worker/outcomes', {
    config: { roles: ['worker'] },
    bodyLimit: platform.policies.sandbox.limits.maxResultBytes * 2 + 1024 * 1024,
    schema: { tags: ['worker'], summary: 'Hand back the outcome of a claimed run', body: OutcomeBody, response: { 204: Type.Null(), ...errors } },
  }, async (req, reply) => {
    const { jobId, attempt, outcome } = req.body;
    // a worker may not invent codes: anything unknown is the infrastructure's failure
    const normalised = (outcome.ok ? outcome : { ok: false, error: { ...outcome.error, code: outcome.error.code in ERRORS ? outcome.error.code as ErrorCode : 'ERR_SANDBOX_FAILURE' } }) as RunOutcome;
    await platform.jobs.complete(jobId, attempt, normalised);
    return reply.code(204).send(null);
  });
};
