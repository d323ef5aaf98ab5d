import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Platform } from '../platform/index.ts';
import { app } from './app.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

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
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: true, coerceTypes: 'array', useDefaults: true } },
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
  return fastify;
}
