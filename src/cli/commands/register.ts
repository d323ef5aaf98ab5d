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
  const register = program.command('register').description('the public register of the bureau’s measures');
  register
    .command('export')
    .description('write the public register (every entry and the signed head) as one JSON copy for pds verify-register')
    .addOption(dataDirOption())
    .option('--api <url>', 'read a running API’s public pages (GET /v1/register, no token) instead of DATA_DIR')
    .option('--out <file>', 'write here instead of stdout')
    .action(async (opts: { dataDir?: string; api?: string; out?: string }) => {
      const copy = opts.api ? await exportViaApi(opts.api) : await exportLocally(opts.dataDir);
      const text = `${JSON.stringify(copy, null, 2)}\n`;
      if (opts.out) fs.writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });

  program
    .command('verify-register')
    .description(
      "verify a copy of the public register offline: each entry's seal, its hash, the chain and the signed head; exits 1 naming the first bad entry",
    )
    .argument('<file>', 'the copy: pds register export, or GET /v1/register pages put together')
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--json', 'print the result as JSON')
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
