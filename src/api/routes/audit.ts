import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { appendAudit, exportAudit, listAudit, verifyAudit } from '../../audit/index.ts';
import { actorOf } from '../../auth/index.ts';
import type { Platform } from '../../platform/index.ts';
import { AuditEntryView, AuditQuery, AuditVerification, ProblemRef, example } from '../schemas/index.ts';
import * as ex from '../schemas/examples/audit.ts';
import type { Routes } from './scope.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef };

/** The audit trail, read by the bureau and risk staff (seed 004 第四十九条). */
export const auditRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  auditReads(app, platform);
  auditExport(app, platform);
};

/** The trail read in order, and verified. */
function auditReads(app: Routes, { store, keys }: Platform): void {
  app.get(
    '/v1/audit',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['audit'],
        operationId: 'listAuditEntries',
        summary: 'Audit entries in order',
        description:
          "Bureau and risk staff. Entries of the hash-chained audit trail (审计日志) in order: who did what to which object, when, why, with the request id and each entry's hash and its predecessor's. Page with `after` (the last `seq` read); filter by object or action. Operators and providers are refused (403).",
        querystring: AuditQuery,
        response: {
          200: example(Type.Object({ entries: Type.Array(AuditEntryView) }), ex.listAuditEntriesResponse),
          ...errors,
        },
      },
    },
    async (req) => ({
      entries: await listAudit(store, {
        afterSeq: req.query.after,
        limit: req.query.limit,
        objectId: req.query.objectId,
        action: req.query.action,
      }),
    }),
  );

  app.get(
    '/v1/audit/verify',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['audit'],
        operationId: 'verifyAuditTrail',
        summary: 'Verify the hash chain and the signed checkpoints; names the first bad entry',
        description:
          "Bureau and risk staff. Recomputes every entry's hash and checks each signed checkpoint against the bureau's keys; `ok: false` names the first entry that does not verify and why.",
        response: { 200: example(AuditVerification, ex.verifyAuditTrailResponse), ...errors },
      },
    },
    async () => verifyAudit(store, keys.bureauVerifier()),
  );
}

/** The whole trail taken away as JSON Lines; taking it is itself audited. */
function auditExport(app: Routes, { store }: Platform): void {
  app.get(
    '/v1/audit/export',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['audit'],
        operationId: 'exportAuditTrail',
        summary: 'The whole audit trail and its signed checkpoints as JSON Lines',
        description:
          'Bureau and risk staff. The whole trail and its signed checkpoints as JSON Lines (application/x-ndjson), to keep outside the server; taking the copy is itself audited. The example shows one entry and one checkpoint.',
        response: {
          200: example(Type.String({ description: 'application/x-ndjson' }), ex.exportAuditTrailResponse),
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const lines = await exportAudit(store);
      // taking a copy of the trail is itself recorded: who, and up to which entry
      const upTo = lines.split('\n').filter((l) => l.startsWith('{"type":"entry"')).length;
      await store.write((tx) =>
        appendAudit(tx, {
          actor: actorOf(req.principal, req.principal.roles.includes('bureau') ? 'bureau' : 'risk'),
          action: 'audit.exported',
          objectType: 'audit',
          objectId: 'audit_log',
          requestId: req.id,
          details: { entries: upTo },
        }),
      );
      return reply
        .type('application/x-ndjson')
        .header('content-disposition', 'attachment; filename="audit.jsonl"')
        .send(lines);
    },
  );
}
