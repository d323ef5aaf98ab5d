import fs from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Platform } from '../../platform/index.ts';
import { ClaimRequest, JobId, LeaseRenewal, LeaseView, OutcomeReport, RunSpec } from '../../protocol/index.ts';
import { fromFastify } from '../problem.ts';
import { ProblemRef } from '../schemas/index.ts';

/**
 * The worker protocol's bodies are checked by the protocol's own compiled TypeBox schemas, not by
 * the API's Ajv: that one coerces types (for query strings), and a coerced outcome is not the one
 * the worker sent — a count of 1 would become `true`.
 */
function exactly(schema: TSchema) {
  const check = Compile(schema);
  return (data: unknown) => {
    if (check.Check(data)) return { value: data };
    const validation = [...check.Errors(data)]
      .slice(0, 10)
      .map((e) => ({ instancePath: e.instancePath, message: e.message, keyword: 'schema', params: {} }));
    return {
      error: Object.assign(new Error('body does not follow the run protocol'), {
        validation,
        validationContext: 'body',
      }),
    };
  };
}

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef, 404: ProblemRef, 409: ProblemRef, 422: ProblemRef };
const closed = { additionalProperties: false } as const;

const WorkerView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('revoked'), Type.Literal('expired')]),
    createdBy: Type.String(),
    createdAt: Type.String(),
    expiresAt: Type.String(),
    rotatedAt: Type.Union([Type.String(), Type.Null()]),
    revokedAt: Type.Union([Type.String(), Type.Null()]),
    revokedBy: Type.Union([Type.String(), Type.Null()]),
    revokeReason: Type.Union([Type.String(), Type.Null()]),
  },
  closed,
);
const Credential = Type.Object(
  {
    worker: WorkerView,
    credential: Type.String({
      description:
        "the worker's secret credential (pdsw.<id>.<secret>): shown once, give it to that worker only (PDS_WORKER_TOKEN)",
    }),
  },
  closed,
);
const WorkerParams = Type.Object({ id: Type.String({ pattern: '^wrk_[a-z0-9]{8,40}$' }) }, closed);
const TtlDays = Type.Optional(
  Type.Integer({ minimum: 1, maximum: 365, description: 'days the credential is valid; default 30' }),
);

/**
 * The run protocol's calls, for registered workers only (docs/architecture.md, "The run
 * protocol"): claim a job with its ticket, fetch its snapshot (a worker without the API's disk),
 * keep the lease, hand back the raw outcome. And the bureau's register of workers.
 */
export const workerRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  const { runs, workers } = platform;
  const by = (req: { principal: import('../../contracts/index.ts').Principal; id: string }) => ({
    kind: 'worker' as const,
    principal: req.principal,
    requestId: req.id,
  });

  app.post(
    '/v1/worker/claims',
    {
      config: { roles: ['worker'] },
      validatorCompiler: ({ schema }) => exactly(schema as TSchema),
      schema: {
        tags: ['worker'],
        operationId: 'claimRun',
        summary: 'Claim a queued job (or one whose lease expired) for one run; 204 when there is nothing to run',
        body: ClaimRequest,
        response: { 200: RunSpec, 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      const spec = await runs.claim(
        req.body.jobId,
        { ...by(req), osSandbox: req.body.osSandbox ?? 'unreported' },
        req.body.ticket,
      );
      return spec ? spec : reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/worker/snapshots/:sha256',
    {
      config: { roles: ['worker'] },
      schema: {
        tags: ['worker'],
        operationId: 'getRunSnapshot',
        summary:
          'The snapshot of a run this worker holds, by its SHA-256 (a worker without the API’s disk caches it); recorded in the audit trail',
        params: Type.Object({ sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, closed),
        querystring: Type.Object({ jobId: JobId, attempt: Type.Integer({ minimum: 1 }) }, closed),
        response: {
          200: {
            description: 'the snapshot file; verify its SHA-256 before use',
            content: { 'application/vnd.duckdb': { schema: Type.String({ format: 'binary' }) } },
          },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const file = await runs.snapshotForRun(req.query.jobId, req.query.attempt, req.params.sha256, by(req));
      const stat = await fs.promises.stat(file);
      return reply
        .type('application/vnd.duckdb')
        .header('content-length', stat.size)
        .header('cache-control', 'no-store')
        .send(fs.createReadStream(file));
    },
  );

  app.post(
    '/v1/worker/leases',
    {
      config: { roles: ['worker'] },
      validatorCompiler: ({ schema }) => exactly(schema as TSchema),
      schema: {
        tags: ['worker'],
        operationId: 'renewLease',
        summary: 'Renew the lease on a run this worker holds',
        body: LeaseRenewal,
        response: { 200: LeaseView, ...errors },
      },
    },
    async (req) => runs.renew(req.body.jobId, req.body.attempt, by(req)),
  );

  app.post(
    '/v1/worker/outcomes',
    {
      config: { roles: ['worker'] },
      validatorCompiler: ({ schema }) => exactly(schema as TSchema),
      bodyLimit: platform.policies.sandbox.limits.maxResultBytes * 2 + 1024 * 1024,
      // an outcome off the protocol (an invented analysis, dp plan or field) is evidence: recorded, and its run fails
      attachValidation: true,
      schema: {
        tags: ['worker'],
        operationId: 'submitOutcome',
        summary: 'Hand back the raw outcome of a run this worker holds',
        body: OutcomeReport,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      if (req.validationError) {
        await runs.refuseOutcome(
          req.body as unknown,
          by(req),
          fromFastify(req.validationError as import('fastify').FastifyError)?.detail ??
            'the outcome does not follow the run protocol',
        );
      }
      await runs.report(req.body.jobId, req.body.attempt, req.body.outcome, by(req));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/workers',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['workers'],
        operationId: 'listWorkers',
        summary: 'Registered workers and the state of their credentials',
        response: { 200: Type.Array(WorkerView), ...errors },
      },
    },
    async () => workers.list(),
  );

  app.post(
    '/v1/workers',
    {
      config: { roles: ['bureau'] },
      schema: {
        tags: ['workers'],
        operationId: 'registerWorker',
        summary: 'Register a worker and mint its credential (shown once)',
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), ttlDays: TtlDays }, closed),
        response: { 201: Credential, ...errors },
      },
    },
    async (req, reply) => reply.code(201).send(await workers.register(req.principal, req.body, req.id)),
  );

  app.post(
    '/v1/workers/:id/rotate',
    {
      config: { roles: ['bureau'] },
      schema: {
        tags: ['workers'],
        operationId: 'rotateWorkerCredential',
        summary: 'A new credential for a worker; the old one stops working at once',
        params: WorkerParams,
        body: Type.Object({ ttlDays: TtlDays }, closed),
        response: { 200: Credential, ...errors },
      },
    },
    async (req) => workers.rotate(req.principal, req.params.id, req.body, req.id),
  );

  app.post(
    '/v1/workers/:id/revoke',
    {
      config: { roles: ['bureau'] },
      schema: {
        tags: ['workers'],
        operationId: 'revokeWorker',
        summary: 'Revoke a worker: its credential stops working at once and its leases are not renewed',
        params: WorkerParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, closed),
        response: { 200: WorkerView, ...errors },
      },
    },
    async (req) => workers.revoke(req.principal, req.params.id, req.body.reason, req.id),
  );
};
