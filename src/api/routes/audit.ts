import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { appendAudit, exportAudit, listAudit, verifyAudit } from '../../audit/index.ts';
import { actorOf } from '../../contracts/index.ts';
import type { Platform } from '../../platform/index.ts';
import { AuditEntryView, AuditQuery, AuditVerification, ProblemRef } from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef };

/** The audit trail, read by the bureau and risk staff (seed 004 第四十九条). */
export const auditRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.get(
    '/v1/audit',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['audit'],
        operationId: 'listAuditEntries',
        summary: 'Audit entries in order',
        querystring: AuditQuery,
        response: { 200: Type.Object({ entries: Type.Array(AuditEntryView) }), ...errors },
      },
    },
    async (req) => ({
      entries: await listAudit(platform.store, {
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
        response: { 200: AuditVerification, ...errors },
      },
    },
    async () => verifyAudit(platform.store, platform.keys.bureauVerifier()),
  );

  app.get(
    '/v1/audit/export',
    {
      config: { roles: ['bureau', 'risk'] },
      schema: {
        tags: ['audit'],
        operationId: 'exportAuditTrail',
        summary: 'The whole audit trail and its signed checkpoints as JSON Lines',
        response: { 200: Type.String({ description: 'application/x-ndjson' }), ...errors },
      },
    },
    async (req, reply) => {
      const lines = await exportAudit(platform.store);
      // taking a copy of the trail is itself recorded: who, and up to which entry
      const upTo = lines.split('\n').filter((l) => l.startsWith('{"type":"entry"')).length;
      await platform.store.write((tx) =>
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
};
