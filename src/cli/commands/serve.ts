import type { Command } from 'commander';
import { PdsError } from '../../errors/index.ts';
import { configFrom, dataDirOption, positiveInt } from '../shared.ts';

interface WorkerOpts {
  dataDir?: string;
  api?: string;
  concurrency?: number;
  token?: string;
  lockMs: number;
  cacheMb?: number;
}

/** `pds worker`: takes jobs from Redis until SIGINT or SIGTERM. */
async function runWorker(opts: WorkerOpts): Promise<void> {
  const [{ default: pino }, { startWorker }] = await Promise.all([import('pino'), import('../../worker/index.ts')]);
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
}

/** The long-running processes: `pds serve` (the API) and `pds worker` (a BullMQ worker). */
export function addServeCommands(program: Command): void {
  program
    .command('serve')
    .description('运行 API：内置执行器，或在设置 REDIS_URL 时使用 BullMQ 执行器')
    .addOption(dataDirOption())
    .action(async (opts: { dataDir?: string }) => {
      const [{ default: pino }, { createPlatform }, { serve }] = await Promise.all([
        import('pino'),
        import('../../platform/index.ts'),
        import('../../api/index.ts'),
      ]);
      const config = configFrom(opts);
      const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization'] });
      const platform = await createPlatform(config, logger);
      await serve(platform, logger);
    });

  program
    .command('worker')
    .description('从 Redis（BullMQ）领取作业并在沙箱中运行；需要 REDIS_URL 和 API')
    .addOption(dataDirOption())
    .option('--api <url>', '此工作节点向其报告的 API（默认 PDS_API_URL，否则 http://127.0.0.1:PORT）')
    .option('--concurrency <n>', '同时运行的作业数（默认 EXECUTOR_CONCURRENCY）', positiveInt)
    .option('--token <credential>', '此工作节点自己的凭据，由 `pds workers add` 生成（默认 PDS_WORKER_TOKEN）')
    .option(
      '--lock-ms <ms>',
      '作业锁未续期时的存活时长：被终止的工作节点的作业在此之后由别处重新运行',
      positiveInt,
      30_000,
    )
    .option(
      '--cache-mb <n>',
      '从 API 取得的快照的缓存大小，用于不共享磁盘的机器（默认 WORKER_CACHE_MB，否则 20480）',
      positiveInt,
    )
    .action(runWorker);
}
