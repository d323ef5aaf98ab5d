import swagger from '@fastify/swagger';
import rateLimit from '@fastify/rate-limit';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { PdsError } from '../errors/index.ts';
import { consoleRoutes } from '../console/index.ts';
import type { Platform } from '../platform/index.ts';
import { requireAuth } from './auth.ts';
import { errorHandler, notFoundHandler } from './problem.ts';
import { applicationRoutes } from './routes/applications.ts';
import { auditRoutes } from './routes/audit.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { contractRoutes } from './routes/contracts.ts';
import { feedbackRoutes } from './routes/feedback.ts';
import { jobRoutes } from './routes/jobs.ts';
import { publicRoutes, whoAmI } from './routes/meta.ts';
import { publicRegisterRoutes, registerRoutes } from './routes/register.ts';
import { destructionRoutes } from './routes/destruction.ts';
import { outputRoutes } from './routes/outputs.ts';
import { reportRoutes } from './routes/reports.ts';
import type { Routes } from './routes/scope.ts';
import { templateRoutes } from './routes/templates.ts';
import { workerRoutes } from './routes/worker.ts';
import { Problem } from './schemas/index.ts';

/**
 * The API as a fastify plugin: external plugins first (OpenAPI), then the public routes, then
 * one encapsulated scope where every route needs a bearer token. Public routes are the visible
 * exceptions: health, the bureau's JWKS, the public register and the API description.
 */
export const app: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (fastify, { platform }) => {
  fastify.addSchema(Problem);
  edgeChecks(fastify);
  await description(fastify);
  publicRoutes(fastify, platform);
  // the public register: read without a token (seed 003 第三十五条: published)
  await fastify.register(publicRegisterRoutes, { platform });
  // the web console: its own scope, cookies and forms there only; it calls the API as its users
  await fastify.register(consoleRoutes, { platform });
  await fastify.register(authenticated, { platform });
};

/** What every request meets before a handler: problem+json errors, and input refused at the edge. */
function edgeChecks(fastify: Routes): void {
  fastify.setErrorHandler(errorHandler);
  // the API speaks JSON only: a text body is refused (415), not parsed into a string
  fastify.removeContentTypeParser('text/plain');
  // Ajv coerces "1e400" or "Infinity" in a query string to Infinity and lets it through its bounds:
  // a number that is not finite is a client's error, named here before any handler sees it
  fastify.addHook('preHandler', async (req) => {
    for (const [part, values] of [
      ['querystring', req.query],
      ['params', req.params],
    ] as const) {
      for (const [name, v] of Object.entries((values ?? {}) as Record<string, unknown>)) {
        if (typeof v === 'number' && !Number.isFinite(v))
          throw new PdsError('ERR_VALIDATION', `/${part}/${name}: must be a finite number`, {
            errors: [{ field: `/${part}/${name}`, message: 'must be a finite number' }],
          });
      }
    }
  });
  // text that is not well-formed Unicode (a lone surrogate) cannot be stored, hashed into the audit
  // chain or rendered: refused at the edge, naming the field (issue 32)
  fastify.addHook('preValidation', async (req) => {
    for (const [part, value] of [
      ['body', req.body],
      ['querystring', req.query],
      ['params', req.params],
    ] as const) {
      const bad = illFormed(value, `/${part}`);
      if (bad)
        throw new PdsError('ERR_VALIDATION', `${bad}: is not well-formed Unicode (a lone surrogate)`, {
          errors: [{ field: bad, message: 'is not well-formed Unicode (a lone surrogate)' }],
        });
    }
  });
  fastify.setNotFoundHandler(notFoundHandler);
}

/** The OpenAPI document (GET /openapi.json) and its viewer (/docs). */
async function description(fastify: Routes): Promise<void> {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'pubdata-sandbox',
        version: '0.1.0',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
        description:
          'Privacy-preserving sandbox for the authorized operation of public data (公共数据授权运营). Errors are RFC 9457 problem+json with a stable `code`.',
      },
      // relative: the document describes whichever origin serves it
      servers: [{ url: '/', description: 'the server this document was read from' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await fastify.register(swaggerUi, { routePrefix: '/docs' });

  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger());
}

/** Every route here needs a bearer token, and a role from its `config.roles` (src/api/auth.ts). */
const authenticated: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (scope, { platform }) => {
  requireAuth(scope, platform);
  // per-user limits on the routes that write the store even when they refuse (each refused
  // submission is audited) or that cost much (a report verifies the whole trail); routes opt in
  await scope.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    keyGenerator: (req) => `${req.principal.org}/${req.principal.sub}`,
    errorResponseBuilder: (_req, ctx) =>
      new PdsError(
        'ERR_RATE_LIMITED',
        `at most ${ctx.max} of these requests a minute per user; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
        {
          extra: { retryAfterSeconds: Math.max(1, Math.ceil(ctx.ttl / 1000)) },
        },
      ),
  });
  whoAmI(scope);
  await scope.register(catalogRoutes, { platform });
  await scope.register(applicationRoutes, { platform });
  await scope.register(contractRoutes, { platform });
  await scope.register(jobRoutes, { platform });
  await scope.register(outputRoutes, { platform });
  await scope.register(workerRoutes, { platform });
  await scope.register(auditRoutes, { platform });
  await scope.register(reportRoutes, { platform });
  await scope.register(feedbackRoutes, { platform });
  await scope.register(templateRoutes, { platform });
  await scope.register(registerRoutes, { platform });
  await scope.register(destructionRoutes, { platform });
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The JSON pointer of the first string (or key) in `v` that holds a lone surrogate; undefined if none. */
export function illFormed(v: unknown, at: string, depth = 0): string | undefined {
  if (typeof v === 'string') return LONE_SURROGATE.test(v) ? at : undefined;
  if (v === null || typeof v !== 'object' || depth > 64) return undefined;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const here = `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (LONE_SURROGATE.test(k)) return here;
    const found = illFormed(x, here, depth + 1);
    if (found) return found;
  }
  return undefined;
}
