import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { listAudit, verifyAudit } from '../../audit/index.ts';
import type { Platform } from '../../platform/index.ts';
import { AuditEntryView, AuditQuery, AuditVerification, ProblemRef } from '../schemas/index.ts';

const errors = { 400: ProblemRef, 401: ProblemRef, 403: ProblemRef };

/** The audit trail, read by the bureau and risk staff (seed 004 第四十九条). */
export const auditRoutes: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (app, { platform }) => {
  app.get('/v1/audit', {
    config: { roles: ['bureau', 'risk'] },
    schema: { tags: ['audit'], summary: 'Audit entries in order', querystring: AuditQuery, response: { 200: Type.Object({ entries: Type.Array(AuditEntryView) }), ...errors } },
  }, async (req) => ({
    entries: await listAudit(platform.store, { afterSeq: req.query.after, limit: req.query.limit, objectId: req.query.objectId, action: req.query.action }),
  }));

  app.get('/v1/audit/verify', {
    config: { roles: ['bureau', 'risk'] },
    schema: { tags: ['audit'], summary: 'Verify the hash chain; names the first bad entry', response: { 200: AuditVerification, ...errors } },
  }, async () => verifyAudit(platform.store));
};
