import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { PdsError } from '../../errors/index.ts';
import { checkKeyFiles, KEY_NAMES, keysDir, loadKeyRing, type KeyName } from '../../keys/index.ts';
import { configFrom, dataDirOption } from '../shared.ts';

/** `pds keys rotate` and `pds keys check` (docs/operations.md, *Key rotation* and *Backup and restore*). */
export function addKeyCommands(program: Command): void {
  const keysCmd = program.command('keys').description('密钥工具：轮换签名密钥，检查每个密钥文件');
  keysCmd
    .command('rotate')
    .description(
      '生成新的签名密钥；旧密钥停用但仍在 JWKS 中公布，它签过的内容仍可校验（合约直到到期）。运行中的服务器在下一次签名时启用新密钥。',
    )
    .addOption(dataDirOption())
    .addOption(new Option('--key <name>', '哪个身份的密钥').choices(KEY_NAMES).default('bureau'))
    .option('--json', '以 JSON 打印 {key, retiredKid, currentKid}')
    .action(async (opts: { dataDir?: string; key: KeyName; json?: boolean }) => {
      const config = configFrom(opts);
      const keys = await loadKeyRing(config.dataDir);
      const result = keys.sets[opts.key].rotate();
      console.log(
        opts.json
          ? JSON.stringify({ key: opts.key, ...result })
          : `${opts.key}：新密钥 ${result.currentKid}；旧密钥 ${result.retiredKid} 已停用（仍公布，供校验旧签名）`,
      );
    });
  keysCmd
    .command('check')
    .description(
      '像启动时一样离线检查 DATA_DIR 的密钥文件（主密钥对照其校验值，每个签名密钥的私钥对照公钥，已停用的密钥对照其 kid）；不写入任何内容；有损坏时退出码 1，并逐一列出',
    )
    .addOption(dataDirOption())
    .option('--json', '以 JSON 打印 [{file, ok, detail}]')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      // reads only: loadKeyRing would make missing keys and record check values
      const dir = keysDir(configFrom(opts).dataDir);
      if (!fs.existsSync(dir)) throw new PdsError('ERR_VALIDATION', `no keys under ${dir}`);
      const checks = checkKeyFiles(dir);
      console.log(
        opts.json
          ? JSON.stringify(checks)
          : checks
              .map((c) =>
                c.ok
                  ? `正常  ${c.file}`
                  : `损坏  ${c.file}：${c.detail.replace(`${c.file}: `, '').replace(/^damaged: /, '')}`,
              )
              .join('\n'),
      );
      process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
    });
}
