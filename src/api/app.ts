import swagger from '@fastify/swagger';
import rateLimit from '@fastify/rate-limit';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { PdsError } from '../errors/index.ts';
import { consoleRoutes } from '../console/index.ts';
import { sameSecret } from '../digest/index.ts';
import { scrape } from '../metrics/index.ts';
import { describeOsSandbox } from '../sandbox/index.ts';
import { DataDirEncryptionSchema } from '../store/index.ts';
import { bureauJwks } from '../keys/index.ts';
import type { Platform } from '../platform/index.ts';
import { requireAuth } from './auth.ts';
import { errorHandler, notFoundHandler } from './problem.ts';
import { applicationRoutes } from './routes/applications.ts';
import { auditRoutes } from './routes/audit.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { contractRoutes } from './routes/contracts.ts';
import { destructionRoutes } from './routes/destruction.ts';
import { feedbackRoutes } from './routes/feedback.ts';
import { jobRoutes } from './routes/jobs.ts';
import { outputRoutes } from './routes/outputs.ts';
import { reportRoutes } from './routes/reports.ts';
import { templateRoutes } from './routes/templates.ts';
import { workerRoutes } from './routes/worker.ts';
import { example, Problem, ProblemRef } from './schemas/index.ts';
import * as ex from './schemas/examples/meta.ts';

/**
 * The API as a fastify plugin: external plugins first (OpenAPI), then the public routes, then
 * one encapsulated scope where every route needs a bearer token. Public routes are the visible
 * exceptions: health, the bureau's JWKS and the API description.
 */
export const app: FastifyPluginAsyncTypebox<{ platform: Platform }> = async (fastify, { platform }) => {
  fastify.addSchema(Problem);
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

  // Prometheus, with its own credential (METRICS_TOKEN): a scraper is neither a person nor a worker
  fastify.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    const token = platform.config.metricsToken;
    if (!token) throw new PdsError('ERR_NOT_FOUND', 'metrics are off on this server: set METRICS_TOKEN');
    const presented = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!presented) throw new PdsError('ERR_AUTH_MISSING_TOKEN', 'send Authorization: Bearer <METRICS_TOKEN>');
    if (!sameSecret(token, presented))
      throw new PdsError('ERR_AUTH_INVALID_TOKEN', 'this is not the metrics credential');
    const { body, contentType } = await scrape(
      platform.store,
      platform.dataDirEncryption,
      await platform.housekeeping.dueCounts(),
    );
    return reply.type(contentType).header('cache-control', 'no-store').send(body);
  });

  fastify.get(
    '/healthz',
    {
      schema: {
        tags: ['meta'],
        operationId: 'getHealth',
        summary: 'Liveness',
        description:
          "Anyone, without a token. `ok` while the control store answers: the executor in use, the store's schema version, the OS layer around the runners and whether DATA_DIR is encrypted at rest (`dataDirEncryption`, checked at start-up). 500 when the store failed (the process exits), 503 while it is damaged (reads of what is intact go on, writes do not).",
        security: [],
        response: {
          200: example(
            Type.Object({
              status: Type.Literal('ok'),
              executor: Type.String(),
              storeVersion: Type.Integer(),
              sandbox: Type.Object({
                os: Type.String({
                  description:
                    "the OS layer around this API's runners: 'bubblewrap …', 'off (SANDBOX_OS=off)', or 'in workers' (each reports its own with every claim)",
                }),
              }),
              dataDirEncryption: DataDirEncryptionSchema,
            }),
            ex.getHealthResponse,
          ),
          500: ProblemRef,
          503: ProblemRef,
        },
      },
    },
    async () => {
      // a control store DuckDB invalidated is not served from: unhealthy, and the process exits (serve)
      const failure = platform.store.failure;
      if (failure) throw new PdsError('ERR_STORE_UNAVAILABLE', `the control store failed: ${failure}`);
      // damaged mid-run: reads of what is intact go on, writes do not (src/store)
      if (platform.store.damage) throw platform.store.damage;
      return {
        status: 'ok' as const,
        executor: platform.executor.kind,
        storeVersion: await platform.store.version(),
        sandbox: { os: describeOsSandbox(platform.osSandbox) },
        dataDirEncryption: platform.dataDirEncryption,
      };
    },
  );

  fastify.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['meta'],
        operationId: 'getJwks',
        summary: "The bureau's public keys: verify contracts and output manifests",
        description:
          "Anyone, without a token. The bureau's public signing keys (JWKS) that verify signed contracts, output manifests, risk reports and audit checkpoints; cached for five minutes. Retired keys stay listed so what they signed still verifies.",
        security: [],
        // only public members are listed, so the serializer could not emit a private `d` even by mistake
        response: {
          200: example(
            Type.Object({
              keys: Type.Array(
                Type.Object(
                  {
                    kty: Type.Optional(Type.String()),
                    crv: Type.Optional(Type.String()),
                    x: Type.Optional(Type.String()),
                    kid: Type.Optional(Type.String()),
                    alg: Type.Optional(Type.String()),
                    use: Type.Optional(Type.String()),
                  },
                  { additionalProperties: false },
                ),
              ),
            }),
            ex.getJwksResponse,
          ),
        },
      },
    },
    async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(bureauJwks(platform.keys)),
  );

  // the web console: its own scope, cookies and forms there only; it calls the API as its users
  await fastify.register(consoleRoutes, { platform });

  await fastify.register(async (scope) => {
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
    scope.get(
      '/v1/me',
      {
        schema: {
          tags: ['meta'],
          operationId: 'whoAmI',
          summary: 'Who the token is for: subject, organisation and roles (what `pds login` checks)',
          description:
            'Any user with a valid token (not a worker credential). Echoes the subject, organisation and roles the API read from the token. Refused: no token, or one that does not verify (401).',
          response: {
            200: example(
              Type.Object({ sub: Type.String(), org: Type.String(), roles: Type.Array(Type.String()) }),
              ex.whoAmIResponse,
            ),
            401: ProblemRef,
            403: ProblemRef,
          },
        },
      },
      async (req) => ({ sub: req.principal.sub, org: req.principal.org, roles: req.principal.roles }),
    );
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
    await scope.register(destructionRoutes, { platform });
  });
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
