import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { PdsError } from '../errors/index.ts';
import { checkKeyFiles, KEY_NAMES, keysDir, loadKeyRing, type KeyName } from '../keys/index.ts';
import { configFrom, dataDirOption } from './shared.ts';

/** `pds keys rotate` and `pds keys check` (docs/operations.md, *Key rotation* and *Backup and restore*). */
export function addKeyCommands(program: Command): void {
  const keysCmd = program.command('keys').description('key tools: rotate a signing key, check every key file');
  keysCmd
    .command('rotate')
    .description(
      'make a new signing key; the old one is retired but stays in the JWKS, so what it signed keeps verifying (contracts until they expire). A running server picks the new key up on its next signature.',
    )
    .addOption(dataDirOption())
    .addOption(new Option('--key <name>', 'which identity').choices(KEY_NAMES).default('bureau'))
    .option('--json', 'print {key, retiredKid, currentKid} as JSON')
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
      "check DATA_DIR's key files offline, as start-up does (the master key against its check value, each signing key's private half against its public half, retired keys against their kids); writes nothing; exits 1 naming each damaged file",
    )
    .addOption(dataDirOption())
    .option('--json', 'print [{file, ok, detail}] as JSON')
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
