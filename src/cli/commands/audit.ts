import fs from 'node:fs';
import type { Command } from 'commander';
import { createPdsClient, must, type PdsClient } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import { loadKeyRing } from '../../keys/index.ts';
import { configFrom, dataDirOption, withStore } from '../shared.ts';
import { auditBreakText } from '../../terms/index.ts';

/**
 * `pds audit verify` and `pds audit export`: against DATA_DIR's store, or — while a server holds
 * it — through that server with `--api` and a bureau or risk token (GET /v1/audit/verify,
 * GET /v1/audit/export; the API records the export).
 */

interface AuditOpts {
  dataDir?: string;
  api?: string;
  token?: string;
  json?: boolean;
}

interface Verification {
  ok: boolean;
  entries: number;
  headHash: string;
  checkpoints?: number;
  firstBad?: { seq: number; code?: string; reason: string; expectedSeq?: number };
}

/** The typed client of the API `--api` names, with a bureau or risk token. */
function viaApi(opts: AuditOpts): PdsClient {
  const token = opts.token ?? process.env.PDS_TOKEN;
  if (!token) throw new PdsError('ERR_VALIDATION', '--api 需要风险或数据管理局的令牌：--token <jwt> 或 PDS_TOKEN');
  return createPdsClient({ baseUrl: opts.api!, token });
}

const apiOptions = (c: Command) =>
  c
    .addOption(dataDirOption())
    .option('--api <url>', '询问运行中的 API，而不打开 DATA_DIR（服务器运行时持有其控制库）')
    .option('--token <jwt>', '与 --api 同用：数据主管部门或风险管理的令牌（默认 $PDS_TOKEN）');

function verificationLine(r: Verification): string {
  return r.ok
    ? `审计链完整：${r.entries} 条记录，${r.checkpoints ?? 0} 个签名检查点，链头 ${r.headHash}`
    : `审计链断裂：${auditBreakText(r.firstBad!)}（${r.firstBad!.reason}）`;
}

async function verifyLocally(opts: AuditOpts): Promise<Verification> {
  const config = configFrom(opts);
  const { verifyAudit } = await import('../../audit/index.ts');
  const verifier = (await loadKeyRing(config.dataDir)).bureauVerifier();
  return withStore(config.dataDir, (store) => verifyAudit(store, verifier), {
    api: 'pds audit verify --api <url> --token <风险或管理局令牌>',
  });
}

async function exportLocally(opts: AuditOpts): Promise<string> {
  const { exportAudit } = await import('../../audit/index.ts');
  return withStore(configFrom(opts).dataDir, exportAudit, {
    api: 'pds audit export --api <url> --token <风险或管理局令牌> [--out 文件]',
  });
}

/** The audit tools. */
export function addAuditCommands(program: Command): void {
  const audit = program.command('audit').description('审计日志工具');
  apiOptions(
    audit
      .command('verify')
      .description('校验审计日志的哈希链与数据主管部门签名的检查点；不通过时退出码 1，并指出第一条有问题的记录'),
  )
    .option('--json', '以 JSON 打印结果')
    .action(async (opts: AuditOpts) => {
      const result: Verification = opts.api
        ? await must(viaApi(opts).GET('/v1/audit/verify'))
        : await verifyLocally(opts);
      console.log(opts.json ? JSON.stringify(result) : verificationLine(result));
      process.exitCode = result.ok ? 0 : 1;
    });
  apiOptions(audit.command('export').description('以 JSON Lines 写出审计日志及其签名检查点'))
    .option('--out <file>', '写入此文件而非标准输出')
    .action(async (opts: AuditOpts & { out?: string }) => {
      const lines = opts.api
        ? await must(viaApi(opts).GET('/v1/audit/export', { parseAs: 'text' }))
        : await exportLocally(opts);
      if (opts.out) fs.writeFileSync(opts.out, lines, { mode: 0o600 });
      else process.stdout.write(lines);
    });
}
