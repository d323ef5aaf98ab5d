import type { FastifyInstance, FastifyRequest } from 'fastify';
import { USER_ROLES, type Role } from '../auth/index.ts';
import type { Principal } from '../auth/index.ts';
import { PdsError } from '../errors/index.ts';
import type { Platform } from '../platform/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Roles allowed on the route; any person's role when absent (never a worker's). */
    roles?: readonly Role[];
  }
}

/**
 * Authentication for an encapsulated scope: every route registered inside needs a valid bearer
 * token, and a role from its `config.roles`. Runs on `onRequest`, before body validation, so an
 * anonymous caller learns nothing about the route's schema.
 */
export function requireAuth(scope: FastifyInstance, platform: Platform): void {
  scope.decorateRequest('principal', undefined as unknown as Principal);
  scope.addHook('onRequest', async (req: FastifyRequest) => {
    const header = req.headers.authorization;
    if (!header) throw new PdsError('ERR_AUTH_MISSING_TOKEN', 'send Authorization: Bearer <token>');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new PdsError('ERR_AUTH_INVALID_TOKEN', 'the Authorization header is not a bearer token');
    req.principal = await platform.verifyToken(match[1]!);
    // default deny for workers: a worker credential reaches only the routes that name its role
    const allowed = req.routeOptions.config.roles ?? USER_ROLES;
    if (!allowed.some((r) => req.principal.roles.includes(r))) {
      throw new PdsError('ERR_AUTH_FORBIDDEN', `this action needs the role ${allowed.join(' or ')}`);
    }
  });
}
