import type { Command } from 'commander';
import { loadKeyRing } from '../keys/index.ts';
import { isPdsError } from '../errors/index.ts';
import { configFrom, dataDirOption, storeLockedHint, withStore } from './shared.ts';

/**
 * `pds store check` and `pds store repair`: the control store's integrity offline, and its repair
 * (src/store/integrity.ts, src/store/repair.ts; docs/architecture.md §14).
 */
export function addStoreCommands(program: Command): void {
  const storeCmd = program.command('store').description('control store tools');
  storeCmd
    .command('check')
    .description(
      "check the control store's integrity (index lookups against scans, the audit head); exits 1 naming each problem",
    )
    .addOption(dataDirOption())
    .option('--json', 'print the result as JSON')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const { checkIntegrity } = await import('../store/index.ts');
      // no API route: the server's own start-up and /healthz check what it holds
      const problems = await withStore(configFrom(opts).dataDir, checkIntegrity);
      console.log(
        opts.json
          ? JSON.stringify({ ok: problems.length === 0, problems })
          : problems.length === 0
            ? '控制库检查通过'
            : problems.map((p) => `${p.check}: ${p.detail}`).join('\n'),
      );
      process.exitCode = problems.length === 0 ? 0 : 1;
    });
  storeCmd
    .command('repair')
    .description(
      'make a new control store of what the damaged one still reads (every table and index anew, the audit head set to the log’s last entry) and check it; the API must be stopped; the damaged file is kept. Rows in blocks that fail their checksum are lost and named: then the new file is left beside the old unless --accept-loss',
    )
    .addOption(dataDirOption())
    .option(
      '--accept-loss',
      'put the new store in place even though rows could not be read (else: restore from a backup)',
    )
    .option('--json', 'print the report as JSON')
    .action(async (opts: { dataDir?: string; acceptLoss?: boolean; json?: boolean }) => {
      const { checkIntegrity, repairStore } = await import('../store/index.ts');
      const { verifyAudit } = await import('../audit/index.ts');
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
        `copied ${report.tables.length} table(s), ${report.tables.reduce((n, t) => n + t.rows, 0)} row(s)`,
        ...lost.map((t) => `LOST ${t.lost} row(s) of ${t.table}: they were in blocks that fail their checksum`),
      ];
      if (!report.installed)
        lines.push(
          `the damaged store is left in place; the new one is ${report.repaired}. Restore DATA_DIR from a backup, or run again with --accept-loss to put the new one in place`,
        );
      else {
        lines.push(`the damaged file is kept as ${report.kept}`);
        const { problems, audit } = checked!;
        lines.push(
          problems.length === 0
            ? 'the new store checks out'
            : `still wrong: ${problems.map((p) => p.detail).join('; ')}`,
          audit.ok
            ? `audit chain intact: ${audit.entries} entries`
            : `audit chain BROKEN at entry ${audit.firstBad!.seq}: ${audit.firstBad!.reason}`,
        );
      }
      console.log(lines.join('\n'));
    });
}
