import { Type } from 'typebox';
import { PdsError } from '../../errors/index.ts';
import { sameSecret } from '../../digest/index.ts';
import { bureauJwks } from '../../keys/index.ts';
import { scrape } from '../../metrics/index.ts';
import type { Platform } from '../../platform/index.ts';
import { describeOsSandbox } from '../../sandbox/index.ts';
import { DataDirEncryptionSchema } from '../../store/index.ts';
import { example, ProblemRef } from '../schemas/index.ts';
import * as ex from '../schemas/examples/meta.ts';
import type { Routes } from './scope.ts';

/** The routes outside the token scope, the visible exceptions: metrics, health and the bureau's JWKS. */
export function publicRoutes(app: Routes, platform: Platform): void {
  metrics(app, platform);
  health(app, platform);
  jwks(app, platform);
}

/** Prometheus, with its own credential (METRICS_TOKEN): a scraper is neither a person nor a worker. */
function metrics(app: Routes, { config, store, dataDirEncryption, housekeeping }: Platform): void {
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    const token = config.metricsToken;
    if (!token) throw new PdsError('ERR_NOT_FOUND', 'metrics are off on this server: set METRICS_TOKEN');
    const presented = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!presented) throw new PdsError('ERR_AUTH_MISSING_TOKEN', 'send Authorization: Bearer <METRICS_TOKEN>');
    if (!sameSecret(token, presented))
      throw new PdsError('ERR_AUTH_INVALID_TOKEN', 'this is not the metrics credential');
    const { body, contentType } = await scrape(store, dataDirEncryption, await housekeeping.dueCounts());
    return reply.type(contentType).header('cache-control', 'no-store').send(body);
  });
}

function health(app: Routes, { store, executor, osSandbox, dataDirEncryption }: Platform): void {
  app.get(
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
      const failure = store.failure;
      if (failure) throw new PdsError('ERR_STORE_UNAVAILABLE', `the control store failed: ${failure}`);
      // damaged mid-run: reads of what is intact go on, writes do not (src/store)
      if (store.damage) throw store.damage;
      return {
        status: 'ok' as const,
        executor: executor.kind,
        storeVersion: await store.version(),
        sandbox: { os: describeOsSandbox(osSandbox) },
        dataDirEncryption: dataDirEncryption,
      };
    },
  );
}

function jwks(app: Routes, { keys }: Platform): void {
  app.get(
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
    async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(bureauJwks(keys)),
  );
}

/** Who the token is for: inside the token scope, any person. */
export function whoAmI(scope: Routes): void {
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
}
