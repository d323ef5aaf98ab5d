import type { Command } from 'commander';
import { loadKeyRing } from '../../keys/index.ts';
import { isPdsError } from '../../errors/index.ts';
import { configFrom, dataDirOption, storeLockedHint, withStore } from '../shared.ts';
import { auditBreakText } from '../../terms/index.ts';

/**
 * `pds store check` and `pds store repair`: the control store's integrity offline, and its repair
 * (src/store/integrity.ts, src/store/repair.ts; docs/architecture.md §14).
 */
export function addStoreCommands(program: Command): void {
  const storeCmd = program.command('store').description('控制库工具');
  storeCmd
    .command('check')
    .description('检查控制库的完整性（索引查找与全表扫描比对、审计链头）；有问题时退出码 1，并逐一列出')
    .addOption(dataDirOption())
    .option('--json', '以 JSON 打印结果')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const { checkIntegrity } = await import('../../store/index.ts');
      // no API route: the server's own start-up and /healthz check what it holds
      const problems = await withStore(configFrom(opts).dataDir, checkIntegrity);
      console.log(
        opts.json
          ? JSON.stringify({ ok: problems.length === 0, problems })
          : problems.length === 0
            ? '控制库检查通过'
            : ['控制库检查发现问题：', ...problems.map((p) => `  ${p.check}：${p.detail}`)].join('\n'),
      );
      process.exitCode = problems.length === 0 ? 0 : 1;
    });
  storeCmd
    .command('repair')
    .description(
      '用损坏的控制库中仍可读取的内容生成新控制库（重建每张表与索引，审计链头设为日志的最后一条）并检查；须先停止 API；损坏的文件保留。校验和不符的数据块中的行会丢失并被列出：此时新文件放在旧文件旁边，除非加 --accept-loss',
    )
    .addOption(dataDirOption())
    .option('--accept-loss', '即使有行无法读取，也启用新控制库（否则：从备份恢复）')
    .option('--json', '以 JSON 打印修复报告')
    .action(async (opts: { dataDir?: string; acceptLoss?: boolean; json?: boolean }) => {
      const { checkIntegrity, repairStore } = await import('../../store/index.ts');
      const { verifyAudit } = await import('../../audit/index.ts');
      const dataDir = configFrom(opts).dataDir;
      const report = await repairStore(dataDir, { acceptLoss: opts.acceptLoss === true }).catch((err: unknown) => {
        throw isPdsError(err, 'ERR_STORE_LOCKED')
          ? storeLockedHint(err, {
              instead: '修复须在服务器停止后进行：先停止 pds serve，再运行 pds store repair',
            })
          : err;
      });
      const lost = report.tables.filter((t) => t.lost > 0);
      const checked = report.installed
        ? await withStore(dataDir, async (store) => ({
            problems: await checkIntegrity(store),
            audit: await verifyAudit(store, (await loadKeyRing(dataDir)).bureauVerifier()),
          }))
        : undefined;
      process.exitCode = lost.length === 0 && checked?.problems.length === 0 && checked.audit.ok ? 0 : 1;
      if (opts.json) return console.log(JSON.stringify({ ...report, ...checked }));
      const lines = [
        `已复制 ${report.tables.length} 张表，${report.tables.reduce((n, t) => n + t.rows, 0)} 行`,
        ...lost.map((t) => `丢失 ${t.table} 的 ${t.lost} 行：它们所在的数据块校验和不符`),
      ];
      if (!report.installed)
        lines.push(
          `损坏的控制库保持原位；新控制库为 ${report.repaired}。请从备份恢复 DATA_DIR，或加 --accept-loss 重新运行以启用新控制库`,
        );
      else {
        lines.push(`损坏的文件保留为 ${report.kept}`);
        const { problems, audit } = checked!;
        lines.push(
          problems.length === 0
            ? '新控制库检查通过'
            : `仍有问题：${problems.map((p) => `${p.check}：${p.detail}`).join('；')}`,
          audit.ok
            ? `审计链完整：${audit.entries} 条记录`
            : `审计链断裂：${auditBreakText(audit.firstBad!)}（${audit.firstBad!.reason}）`,
        );
      }
      console.log(lines.join('\n'));
    });
}
