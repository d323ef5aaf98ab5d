import { addDestructionCommands } from './destruction.ts';
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { issueToken, USER_ROLES, type UserRole } from '../auth/index.ts';
import { PdsError } from '../errors/index.ts';
import { loadKeyRing } from '../keys/index.ts';
import { addAuditCommands } from './audit.ts';
import { addStoreCommands } from './store.ts';
import { addFeedbackCommands } from './feedback.ts';
import { addKeyCommands } from './keys.ts';
import { addOperatorCommands } from './operator.ts';
import { addQueueCommands } from './queues.ts';
import { addTemplateCommands } from './templates.ts';
import { addReportCommands } from './reports.ts';
import {
  configFrom,
  dataDirOption,
  isoTime,
  jwksFrom,
  jwksOption,
  portNumber,
  positiveInt,
  readJws,
} from './shared.ts';
import { addWorkerCommands } from './workers.ts';
import { contractLines, ingestLines, outputCheckLines, seedLines } from './offline-views.ts';
import { stepProgress } from './progress.ts';

// Each command loads what it runs when it runs (`await import`): `pds --help`, or a command over the
// API, never loads DuckDB, fastify or BullMQ (docs/architecture.md §15).

function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a non-negative integer');
  return Number(value);
}

/** A --redis value: a redis:// or rediss:// URL. */
function parseRedisUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PdsError('ERR_CONFIG', `--redis: ${JSON.stringify(raw)} is not a URL (redis://host:port)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new PdsError('ERR_CONFIG', `--redis: must be a redis:// or rediss:// URL, got ${url.protocol}`);
  return url;
}

export function buildCli(): Command {
  const program = new Command('pds')
    .description('pubdata-sandbox: privacy-preserving sandbox for the authorized operation of public data')
    .version('0.1.0')
    .showHelpAfterError();

  program
    .command('demo')
    .description('run the whole flow on synthetic data, end to end, printing each step')
    .addOption(
      new Option('--data-dir <dir>', 'keep the demo data here (default: a temporary directory, removed after)'),
    )
    .option('--rows <n>', 'synthetic population rows', positiveInt, 5000)
    .option('--json', 'print only the summary, as JSON')
    .option('--redis <url>', 'run the jobs through BullMQ on this Redis, with a separate pds worker process')
    .option('--serve', 'then keep the server up and print a web console sign-in link for each role')
    .option('--port <n>', 'with --serve: the port to listen on', portNumber, 8080)
    .action(
      async (opts: {
        dataDir?: string;
        rows: number;
        json?: boolean;
        redis?: string;
        serve?: boolean;
        port: number;
      }) => {
        const { runDemo } = await import('./demo.ts');
        const redisUrl = opts.redis ? parseRedisUrl(opts.redis) : undefined;
        const summary = await runDemo({
          dataDir: opts.dataDir,
          rows: opts.rows,
          json: opts.json === true,
          redisUrl,
          ...(opts.serve ? { serve: { port: opts.port, host: '127.0.0.1' } } : {}),
        });
        process.exitCode = summary.ok ? 0 : 1;
      },
    );

  program
    .command('worker')
    .description('take jobs from Redis (BullMQ) and run them in the sandbox; needs REDIS_URL and the API')
    .addOption(dataDirOption())
    .option('--api <url>', 'the API this worker reports to (default PDS_API_URL, else http://127.0.0.1:PORT)')
    .option('--concurrency <n>', 'jobs at once (default EXECUTOR_CONCURRENCY)', positiveInt)
    .option('--token <credential>', "this worker's own credential, from `pds workers add` (default PDS_WORKER_TOKEN)")
    .option(
      '--lock-ms <ms>',
      "how long a job's lock lives unrenewed: a killed worker's job runs again elsewhere after this",
      positiveInt,
      30_000,
    )
    .option(
      '--cache-mb <n>',
      'size of the cache of snapshots fetched from the API, on a machine without its disk (default WORKER_CACHE_MB, else 20480)',
      positiveInt,
    )
    .action(
      async (opts: {
        dataDir?: string;
        api?: string;
        concurrency?: number;
        token?: string;
        lockMs: number;
        cacheMb?: number;
      }) => {
        const [{ default: pino }, { startWorker }] = await Promise.all([import('pino'), import('../worker/index.ts')]);
        const config = configFrom(opts);
        if (!config.redisUrl)
          throw new PdsError('ERR_CONFIG', 'REDIS_URL: a worker takes its jobs from Redis; set REDIS_URL', {
            extra: { variable: 'REDIS_URL' },
          });
        const logger = pino({ level: config.logLevel });
        const apiUrl = new URL(opts.api ?? process.env.PDS_API_URL ?? `http://127.0.0.1:${config.port}`);
        const credential = opts.token ?? process.env.PDS_WORKER_TOKEN;
        if (!credential)
          throw new PdsError(
            'ERR_CONFIG',
            'PDS_WORKER_TOKEN: a worker needs its own credential; the bureau makes one with `pds workers add --name <name>`',
            { extra: { variable: 'PDS_WORKER_TOKEN' } },
          );
        const worker = await startWorker({
          redisUrl: config.redisUrl,
          prefix: config.queuePrefix,
          apiUrl,
          credential,
          dataDir: config.dataDir,
          concurrency: opts.concurrency ?? config.executorConcurrency,
          lockDurationMs: opts.lockMs,
          cacheBytes: (opts.cacheMb ?? config.workerCacheMb) * 1024 * 1024,
          logger,
          sandboxOs: config.sandboxOs,
        });
        const stop = async (signal: string) => {
          logger.info({ signal }, 'worker stopping: running jobs are interrupted and go back to the queue');
          await worker.close();
          process.exit(0);
        };
        process.once('SIGINT', () => void stop('SIGINT'));
        process.once('SIGTERM', () => void stop('SIGTERM'));
      },
    );

  program
    .command('serve')
    .description('run the API, with the embedded executor, or the BullMQ one when REDIS_URL is set')
    .addOption(dataDirOption())
    .action(async (opts: { dataDir?: string }) => {
      const [{ default: pino }, { createPlatform }, { serve }] = await Promise.all([
        import('pino'),
        import('../platform/index.ts'),
        import('../api/index.ts'),
      ]);
      const config = configFrom(opts);
      const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization'] });
      const platform = await createPlatform(config, logger);
      await serve(platform, logger);
    });

  program
    .command('seed')
    .description('generate synthetic public data into DATA_DIR/domain.duckdb (deterministic per seed)')
    .addOption(dataDirOption())
    .option('--rows <n>', 'population rows (linked tables scale with it)', positiveInt, 100_000)
    .option('--seed <s>', 'random seed: the same seed gives the same content', nonNegativeInt, 42)
    .option('--months <m>', 'months of social-insurance and utility records', positiveInt, 3)
    .option('--json', 'print the new dataset versions as JSON')
    .option('--quiet', 'no progress bar')
    .action(
      async (opts: {
        dataDir?: string;
        rows: number;
        seed: number;
        months: number;
        json?: boolean;
        quiet?: boolean;
      }) => {
        const { seedDomain } = await import('../domain/index.ts');
        const config = configFrom(opts);
        const started = performance.now();
        const progress = stepProgress('seed', opts.quiet === true);
        const versions = await seedDomain(config.dataDir, {
          rows: opts.rows,
          seed: opts.seed,
          months: opts.months,
          onStep: (n, i, t) => progress.step(n, i, t),
        });
        progress.stop();
        const elapsedMs = Math.round(performance.now() - started);
        console.log(
          opts.json
            ? JSON.stringify({ dataDir: config.dataDir, elapsedMs, datasets: versions })
            : seedLines(config.dataDir, versions, elapsedMs).join('\n'),
        );
      },
    );

  program
    .command('ingest')
    .description(
      'load a CSV or Parquet file as a new version of a catalog dataset (one transaction: a failure keeps the previous version)',
    )
    .addOption(dataDirOption())
    .requiredOption('--dataset <name>', 'catalog dataset, e.g. population')
    .requiredOption('--file <path>', 'a .csv (UTF-8, header row) or .parquet file')
    .option('--json', 'print the new version and findings as JSON')
    .option('--quiet', 'no progress bar')
    .action(async (opts: { dataDir?: string; dataset: string; file: string; json?: boolean; quiet?: boolean }) => {
      const [{ ingest }, { loadPolicies }] = await Promise.all([
        import('../domain/index.ts'),
        import('../policies/index.ts'),
      ]);
      const config = configFrom(opts);
      const { catalog } = loadPolicies(config.policiesDir);
      const progress = stepProgress('ingest', opts.quiet === true);
      const report = await ingest(config.dataDir, {
        dataset: opts.dataset,
        file: path.resolve(opts.file),
        catalog,
        onStep: (n, i, t) => progress.step(n, i, t),
      });
      progress.stop();
      console.log(opts.json ? JSON.stringify(report) : ingestLines(report).join('\n'));
    });

  program
    .command('token')
    .description("sign a user token with the embedded issuer of DATA_DIR (for the API's Authorization header)")
    .addOption(dataDirOption())
    .addOption(new Option('--role <role>', 'role').choices(USER_ROLES).makeOptionMandatory())
    .requiredOption('--org <org>', 'organisation id (e.g. org-psb)')
    .option('--sub <sub>', 'subject (user id)', 'cli-user')
    .option('--ttl <seconds>', 'lifetime in seconds', positiveInt, 12 * 3600)
    .option('--json', 'print {"token": …}')
    .action(
      async (opts: { dataDir?: string; role: UserRole; org: string; sub: string; ttl: number; json?: boolean }) => {
        const config = configFrom(opts);
        const keys = await loadKeyRing(config.dataDir);
        const token = await issueToken(keys, {
          sub: opts.sub,
          org: opts.org,
          roles: [opts.role],
          ttlSeconds: opts.ttl,
        });
        console.log(opts.json ? JSON.stringify({ token }) : token);
      },
    );

  program
    .command('login-link')
    .description('print a one-time web console sign-in link (embedded mode: no external identity provider)')
    .addOption(dataDirOption())
    .addOption(new Option('--role <role>', 'role').choices(USER_ROLES).makeOptionMandatory())
    .requiredOption('--org <org>', 'organisation id (e.g. org-psb)')
    .option('--sub <sub>', 'subject (user id)', 'console-user')
    .option('--ttl <seconds>', 'how long the link may wait to be used (at most a day)', positiveInt, 600)
    .option('--url <origin>', 'the console origin in the link (default PUBLIC_URL, else http://HOST:PORT)')
    .option('--json', 'print {"url": …, "expiresAt": …}')
    .action(
      async (opts: {
        dataDir?: string;
        role: UserRole;
        org: string;
        sub: string;
        ttl: number;
        url?: string;
        json?: boolean;
      }) => {
        const config = configFrom(opts);
        if (config.auth)
          throw new PdsError(
            'ERR_CONFIG',
            'AUTH_ISSUER is set: people sign in with the identity provider, not with links',
          );
        if (opts.ttl > 86_400) throw new PdsError('ERR_VALIDATION', '--ttl: at most 86400 seconds (a day)');
        const { issueLoginLink } = await import('../console/index.ts');
        const keys = await loadKeyRing(config.dataDir);
        const link = await issueLoginLink(keys, {
          sub: opts.sub,
          org: opts.org,
          role: opts.role,
          ttlSeconds: opts.ttl,
        });
        const origin = (
          opts.url ? new URL(opts.url) : (config.console.publicUrl ?? new URL(`http://${config.host}:${config.port}`))
        ).origin;
        const url = `${origin}/console/login?link=${link}`;
        const expiresAt = new Date(Date.now() + opts.ttl * 1000).toISOString();
        console.log(opts.json ? JSON.stringify({ url, expiresAt }) : url);
      },
    );

  addAuditCommands(program);
  addReportCommands(program);
  addStoreCommands(program);
  addWorkerCommands(program);
  addOperatorCommands(program);
  addQueueCommands(program);
  addTemplateCommands(program);
  addFeedbackCommands(program);
  addDestructionCommands(program);

  program
    .command('verify-output')
    .description(
      'verify a downloaded output (csv, json or parquet) against its signed manifest, offline or against a JWKS URL',
    )
    .argument('<file>', 'the downloaded file (its form from its extension, else --format)')
    .argument('<manifest>', 'the manifest JWS file')
    .addOption(new Option('--format <format>', 'the form of <file>').choices(['csv', 'json', 'parquet']))
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--json', 'print the result as JSON')
    .action(
      async (
        file: string,
        manifestFile: string,
        opts: { jwks?: string; dataDir?: string; json?: boolean; format?: 'csv' | 'json' | 'parquet' },
      ) => {
        const { formatOfFile, verifyOutputFile } = await import('../jobs/index.ts');
        const format = opts.format ?? formatOfFile(file);
        if (!format)
          throw new PdsError(
            'ERR_VALIDATION',
            `${file}: say its form with --format csv|json|parquet (its extension does not)`,
          );
        const check = await verifyOutputFile(
          fs.readFileSync(file),
          format,
          readJws(manifestFile),
          await jwksFrom(opts),
        );
        console.log(opts.json ? JSON.stringify(check) : outputCheckLines(file, check).join('\n'));
        process.exitCode = check.ok ? 0 : 1;
      },
    );

  const contract = program.command('contract').description('signed contract tools');
  contract
    .command('verify')
    .description(
      'verify a contract JWS offline (signature by kid, type, issuer, audience, term) and print its claims; its status (suspended, revoked) lives in the store: ask GET /v1/contracts/:id',
    )
    .argument('<file>', 'the contract JWS, as served by GET /v1/contracts/:id/jws')
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--at <iso-time>', 'check the term at this instant instead of now', isoTime)
    .option('--json', 'print {ok, header, claims} as JSON')
    .action(async (file: string, opts: { jwks?: string; dataDir?: string; at?: Date; json?: boolean }) => {
      const [{ verifyContract }, { decodeProtectedHeader }] = await Promise.all([
        import('../contracts/index.ts'),
        import('jose'),
      ]);
      const jws = readJws(file);
      const claims = await verifyContract(jws, await jwksFrom(opts), opts.at ?? new Date());
      const header = decodeProtectedHeader(jws);
      console.log(opts.json ? JSON.stringify({ ok: true, header, claims }) : contractLines(claims, header).join('\n'));
    });

  addKeyCommands(program);

  return program;
}
