import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Platform } from '../platform/index.ts';
import AjvCompiler from '@fastify/ajv-compiler';
import { app } from './app.ts';
import { PdsError } from '../errors/index.ts';
import { BODY_LIMIT_BYTES, errorHandler } from './problem.ts';

/** fastify's default: the longest path parameter its router takes. */
const MAX_PARAM_LENGTH = 100;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Query strings, path parameters and headers are text: their numbers and booleans are coerced as
 * declared. Bodies are JSON and typed strictly: `"termMonths": "12"` or `"sql": 123` is refused,
 * never silently converted (a coerced value is not the one the client sent).
 */
function validators(): AjvCompiler.BuildCompilerFromPool {
  const lenient = AjvCompiler();
  const strict = AjvCompiler();
  const common = { removeAdditional: false, allErrors: true, useDefaults: true } as const;
  return (externalSchemas, options) => {
    const plugins = options?.plugins ?? [];
    const text = lenient(externalSchemas, { plugins, customOptions: { ...common, coerceTypes: 'array' } });
    const json = strict(externalSchemas, { plugins, customOptions: { ...common, coerceTypes: false } });
    // fastify hands the compiler a route definition, not a bare schema
    const pick = (route: AjvCompiler.RouteDefinition) => (route.httpPart === 'body' ? json : text)(route as never);
    return pick as unknown as ReturnType<AjvCompiler.BuildCompilerFromPool>;
  };
}

/** Builds the HTTP server around a platform; listening is the caller's choice (tests use inject). */
export async function createServer(platform: Platform, logger: Logger) {
  const fastify = Fastify({
    loggerInstance: logger,
    // a client's request id is kept when it is well formed, so one id follows a request across systems
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // the router's own refusals (a path parameter past its length, a malformed URL) are problem+json too
    frameworkErrors: (err, req, reply) => {
      const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      return errorHandler(
        new PdsError(
          tooLong ? 'ERR_URI_TOO_LONG' : 'ERR_VALIDATION',
          tooLong
            ? `a path parameter is longer than ${MAX_PARAM_LENGTH} characters; no identifier is that long`
            : 'the URL is not valid: a path component cannot be decoded',
        ),
        req,
        reply,
      );
    },
    schemaController: { compilersFactory: { buildValidator: validators() } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  fastify.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  await fastify.register(app, { platform });
  await fastify.ready();
  return fastify;
}

/** Listens until SIGINT/SIGTERM, then closes the server and the platform gracefully. */
export async function serve(platform: Platform, logger: Logger) {
  const fastify = await createServer(platform, logger);
  await fastify.listen({ port: platform.config.port, host: platform.config.host });
  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await fastify.close();
    await platform.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  // an invalidated control store is never served from: stop, and let the supervisor restart us
  platform.store.onFatal((reason) => {
    logger.fatal({ reason }, 'the control store failed; exiting for a restart');
    setTimeout(() => process.exit(70), 2000).unref();
    void fastify.close().finally(() => process.exit(70));
  });
  return fastify;
}
