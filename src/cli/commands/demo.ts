import { Option, type Command } from 'commander';
import { PdsError } from '../../errors/index.ts';
import { portNumber, positiveInt } from '../shared.ts';

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

interface DemoOpts {
  dataDir?: string;
  rows: number;
  json?: boolean;
  redis?: string;
  serve?: boolean;
  port: number;
}

/** `pds demo`: the whole flow on synthetic data (src/cli/demo/). */
export function addDemoCommands(program: Command): void {
  program
    .command('demo')
    .description('在合成数据上端到端运行完整流程，逐步打印每一步')
    .addOption(new Option('--data-dir <dir>', '演示数据保存在此目录（默认：临时目录，结束后删除）'))
    .option('--rows <n>', '合成人口数据的行数', positiveInt, 5000)
    .option('--json', '只打印摘要（JSON）')
    .option('--redis <url>', '经此 Redis 上的 BullMQ 运行作业，由单独的 pds worker 进程执行')
    .option('--serve', '流程结束后保持服务器运行，并为每个角色打印一个 Web 控制台登录链接')
    .option('--port <n>', '与 --serve 同用：监听的端口', portNumber, 8080)
    .action(async (opts: DemoOpts) => {
      const { runDemo } = await import('../demo/index.ts');
      const redisUrl = opts.redis ? parseRedisUrl(opts.redis) : undefined;
      const summary = await runDemo({
        dataDir: opts.dataDir,
        rows: opts.rows,
        json: opts.json === true,
        redisUrl,
        ...(opts.serve ? { serve: { port: opts.port, host: '127.0.0.1' } } : {}),
      });
      process.exitCode = summary.ok ? 0 : 1;
    });
}
