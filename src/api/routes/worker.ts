import fs from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Principal } from '../../auth/index.ts';
import type { Platform } from '../../platform/index.ts';
import { ClaimRequest, JobId, LeaseRenewal, LeaseView, OutcomeReport, RunSpec } from '../../protocol/index.ts';
import { fromFastify } from '../problem.ts';
import { example, ProblemRef } from '../schemas/index.ts';
import * as ex from '../schemas/examples/workers.ts';
import type { Routes } from './scope.ts';

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
  runStart(app, platform);
  runEnd(app, platform);
  workerRegister(app, platform);
};

/** The worker a run-protocol call comes from, as the run controller records it. */
const by = (req: { principal: Principal; id: string }) => ({
  kind: 'worker' as const,
  principal: req.principal,
  requestId: req.id,
});

/** A run begins: the job claimed with its ticket, its snapshot fetched. */
function runStart(app: Routes, { runs }: Platform): void {
  app.post(
    '/v1/worker/claims',
    {
      config: { roles: ['worker'] },
      validatorCompiler: ({ schema }) => exactly(schema as TSchema),
      schema: {
        tags: ['worker'],
        operationId: 'claimRun',
        summary: 'Claim a queued job (or one whose lease expired) for one run; 204 when there is nothing to run',
        description:
          'Registered workers only (a `pdsw.` credential). Claims one run of a job taken from the queue, with the ticket the queue carried: the answer is the final SQL to execute as it is, the snapshot to run it on, the limits and the lease to keep renewing. 204 when the job is no longer to be run (finished, cancelled, claimed by another worker under a live lease). Refused: a wrong ticket, a revoked or expired credential (403), a user token (403).',
        body: example(ClaimRequest, ex.claimRunRequest),
        response: { 200: example(RunSpec, ex.claimRunResponse), 204: Type.Null(), ...errors },
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
        description:
          "Registered workers only, for a run they hold (named by `jobId` and `attempt`). Streams the run's sealed snapshot as a DuckDB file (binary: no example); the worker checks its SHA-256 before running on it. Refused: a run the worker does not hold, a hash that is not the run's (403, 404).",
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
}

/** A run held and ended: its lease renewed, its raw outcome handed back. */
function runEnd(app: Routes, { runs, policies }: Platform): void {
  app.post(
    '/v1/worker/leases',
    {
      config: { roles: ['worker'] },
      validatorCompiler: ({ schema }) => exactly(schema as TSchema),
      schema: {
        tags: ['worker'],
        operationId: 'renewLease',
        summary: 'Renew the lease on a run this worker holds',
        description:
          'Registered workers only, for a run they hold. Extends the lease on the run; a worker that stops renewing loses the job to the next claim. Refused: a run of another worker, or one already reported (409).',
        body: example(LeaseRenewal, ex.renewLeaseRequest),
        response: { 200: example(LeaseView, ex.renewLeaseResponse), ...errors },
      },
    },
    async (req) => runs.renew(req.body.jobId, req.body.attempt, by(req)),
  );

  app.post(
    '/v1/worker/outcomes',
    {
      config: { roles: ['worker'] },
      validatorCompiler: ({ schema }) => exactly(schema as TSchema),
      bodyLimit: policies.sandbox.limits.maxResultBytes * 2 + 1024 * 1024,
      // an outcome off the protocol (an invented analysis, dp plan or field) is evidence: recorded, and its run fails
      attachValidation: true,
      schema: {
        tags: ['worker'],
        operationId: 'submitOutcome',
        summary: 'Hand back the raw outcome of a run this worker holds',
        description:
          "Registered workers only, for a run they hold. Hands back the engine's raw result (columns and rows) or its error; the API checks it against its own plan, may re-execute it as a spot check, and only then applies disclosure control and releases or holds it. An outcome is taken once. Answers 204 with no body. Refused: a run of another worker or one already reported (409), rows that do not fit the plan (422).",
        body: example(OutcomeReport, ex.submitOutcomeRequest),
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
}

/** The bureau's register of workers and their credentials. */
function workerRegister(app: Routes, { workers }: Platform): void {
  app.get(
    '/v1/workers',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['workers'],
        operationId: 'listWorkers',
        summary: 'Registered workers and the state of their credentials',
        description:
          'Bureau and risk staff. Every registered worker (计算节点) with the state of its credential: active, revoked (by whom, why) or expired.',
        response: { 200: example(Type.Array(WorkerView), ex.listWorkersResponse), ...errors },
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
        description:
          'Bureau only. Registers a worker and mints its credential, valid for `ttlDays` (default 30): the credential is in this answer only, never stored in the clear — give it to that worker alone (PDS_WORKER_TOKEN).',
        body: example(
          Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), ttlDays: TtlDays }, closed),
          ex.registerWorkerRequest,
        ),
        response: { 201: example(Credential, ex.registerWorkerResponse), ...errors },
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
        description:
          'Bureau only. Mints a new credential for a worker; the old one stops working at once. Refused: a revoked worker (409).',
        body: example(Type.Object({ ttlDays: TtlDays }, closed), ex.rotateWorkerCredentialRequest),
        response: { 200: example(Credential, ex.rotateWorkerCredentialResponse), ...errors },
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
        description:
          'Bureau only. Revokes a worker for good, with the reason recorded: its credential stops working at once and its leases are not renewed, so its runs go to other workers. Refused: a worker already revoked (409).',
        body: example(
          Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) }, closed),
          ex.revokeWorkerRequest,
        ),
        response: { 200: example(WorkerView, ex.revokeWorkerResponse), ...errors },
      },
    },
    async (req) => workers.revoke(req.principal, req.params.id, req.body.reason, req.id),
  );
}
