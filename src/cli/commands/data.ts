import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { ingestLines, seedLines } from '../offline-views.ts';
import { stepProgress } from '../progress.ts';
import { configFrom, dataDirOption, positiveInt } from '../shared.ts';

function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('须为非负整数');
  return Number(value);
}

interface SeedOpts {
  dataDir?: string;
  rows: number;
  seed: number;
  months: number;
  json?: boolean;
  quiet?: boolean;
}

interface IngestOpts {
  dataDir?: string;
  dataset: string;
  file: string;
  json?: boolean;
  quiet?: boolean;
}

/** The domain's data, offline: `pds seed` (synthetic) and `pds ingest` (a provider's file). */
export function addDataCommands(program: Command): void {
  program
    .command('seed')
    .description('在 DATA_DIR/domain.duckdb 中生成合成公共数据（同一随机种子结果相同）')
    .addOption(dataDirOption())
    .option('--rows <n>', '人口数据的行数（关联表按比例增减）', positiveInt, 100_000)
    .option('--seed <s>', '随机种子：同一种子生成相同的内容', nonNegativeInt, 42)
    .option('--months <m>', '社保与水电气记录的月数', positiveInt, 3)
    .option('--json', '以 JSON 打印新的数据集版本')
    .option('--quiet', '不显示进度条')
    .action(async (opts: SeedOpts) => {
      const { seedDomain } = await import('../../domain/index.ts');
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
    });

  program
    .command('ingest')
    .description('把 CSV 或 Parquet 文件载入为目录中某数据集的新版本（一个事务：失败时保留原版本）')
    .addOption(dataDirOption())
    .requiredOption('--dataset <name>', '目录中的数据集，例如 population')
    .requiredOption('--file <path>', '.csv 文件（UTF-8，含表头行）或 .parquet 文件')
    .option('--json', '以 JSON 打印新版本与检查发现')
    .option('--quiet', '不显示进度条')
    .action(async (opts: IngestOpts) => {
      const [{ ingest }, { loadPolicies }] = await Promise.all([
        import('../../domain/index.ts'),
        import('../../policies/index.ts'),
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
}
