import fs from 'node:fs';
import type { Command } from 'commander';
import { createPdsClient, must } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import { registerCheckLines } from '../offline-views.ts';
import { configFrom, dataDirOption, jwksFrom, jwksOption, withStore } from '../shared.ts';

/**
 * The public register from the command line (seed 003 第三十五条): `pds register export` writes a
 * copy — from a server's public pages (`--api`, no token) or from DATA_DIR's store — and
 * `pds verify-register` checks a copy offline against the bureau's public keys.
 */

interface RegisterCopy {
  format: string;
  head: unknown;
  entries: unknown[];
}

/** Every page of GET /v1/register put together: entries up to the head of the last page. */
async function exportViaApi(api: string): Promise<RegisterCopy> {
  const client = createPdsClient({ baseUrl: api });
  const entries: unknown[] = [];
  let after = 0;
  for (;;) {
    const page = await must(client.GET('/v1/register', { params: { query: { after, limit: 500 } } }));
    entries.push(...page.entries);
    if (page.next === null) return { format: page.format, head: page.head, entries };
    after = page.next;
  }
}

async function exportLocally(dataDir?: string): Promise<RegisterCopy> {
  const config = configFrom({ dataDir });
  const [{ loadKeyRing }, { loadPolicies }, { RegisterService }] = await Promise.all([
    import('../../keys/index.ts'),
    import('../../policies/index.ts'),
    import('../../register/index.ts'),
  ]);
  const keys = await loadKeyRing(config.dataDir);
  const policies = loadPolicies(config.policiesDir);
  return withStore(config.dataDir, (store) => new RegisterService({ store, keys, policies }).export(), {
    api: 'pds register export --api <url> [--out 文件]',
  });
}

export function addRegisterCommands(program: Command): void {
  const register = program.command('register').description('公示名录：数据主管部门公开的管理措施');
  register
    .command('export')
    .description('导出公示名录（全部条目与签名链头）为一份 JSON 副本，供 pds verify-register 校验')
    .addOption(dataDirOption())
    .option('--api <url>', '从运行中的 API 公开页面读取（GET /v1/register，无需令牌），而非 DATA_DIR')
    .option('--out <file>', '写入此文件，而非标准输出')
    .action(async (opts: { dataDir?: string; api?: string; out?: string }) => {
      const copy = opts.api ? await exportViaApi(opts.api) : await exportLocally(opts.dataDir);
      const text = `${JSON.stringify(copy, null, 2)}\n`;
      if (opts.out) fs.writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });

  program
    .command('verify-register')
    .description(
      '离线校验公示名录副本：每条目的签名、哈希、链接关系与签名链头；发现问题时以退出码 1 指出第一条错误条目',
    )
    .argument('<file>', '名录副本：pds register export 的输出，或 GET /v1/register 各页合并')
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--json', '以 JSON 输出结果')
    .action(async (file: string, opts: { jwks?: string; dataDir?: string; json?: boolean }) => {
      if (!fs.existsSync(file)) throw new PdsError('ERR_VALIDATION', `${file} does not exist`);
      let copy: unknown;
      try {
        copy = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (err) {
        throw new PdsError('ERR_REGISTER_INVALID', `${file} is not JSON: ${(err as Error).message}`);
      }
      const { verifyRegister } = await import('../../register/index.ts');
      const check = await verifyRegister(copy, await jwksFrom(opts));
      console.log(opts.json ? JSON.stringify(check) : registerCheckLines(file, check).join('\n'));
      process.exitCode = check.ok ? 0 : 1;
    });
}
