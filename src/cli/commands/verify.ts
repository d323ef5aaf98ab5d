import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { PdsError } from '../../errors/index.ts';
import { contractLines, outputCheckLines } from '../offline-views.ts';
import { dataDirOption, isoTime, jwksFrom, jwksOption, readJws } from '../shared.ts';

type OutputFormat = 'csv' | 'json' | 'parquet';

/** `pds verify-output`: a downloaded file against its signed manifest; exits 1 if they differ. */
async function verifyOutput(
  file: string,
  manifestFile: string,
  opts: { jwks?: string; dataDir?: string; json?: boolean; format?: OutputFormat },
): Promise<void> {
  const { formatOfFile, verifyOutputFile } = await import('../../outputs/index.ts');
  const format = opts.format ?? formatOfFile(file);
  if (!format)
    throw new PdsError(
      'ERR_VALIDATION',
      `${file}: say its form with --format csv|json|parquet (its extension does not)`,
    );
  const check = await verifyOutputFile(fs.readFileSync(file), format, readJws(manifestFile), await jwksFrom(opts));
  console.log(opts.json ? JSON.stringify(check) : outputCheckLines(file, check).join('\n'));
  process.exitCode = check.ok ? 0 : 1;
}

/** Offline verification of what the bureau signed: an output's manifest, a contract. */
export function addVerifyCommands(program: Command): void {
  program
    .command('verify-output')
    .description('按签名清单校验下载的输出（csv、json 或 parquet），可离线或对照 JWKS 地址')
    .argument('<file>', '下载的文件（格式取自扩展名，否则由 --format 指定）')
    .argument('<manifest>', '签名清单 JWS 文件')
    .addOption(new Option('--format <format>', '<file> 的格式').choices(['csv', 'json', 'parquet']))
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--json', '以 JSON 打印结果')
    .action(verifyOutput);

  const contract = program.command('contract').description('签名合约工具');
  contract
    .command('verify')
    .description(
      '离线校验合约 JWS（按 kid 验签，核对类型、签发方、受众、期限）并打印其声明；合约状态（暂停、撤销）在控制库中，请查询 GET /v1/contracts/:id',
    )
    .argument('<file>', '合约 JWS，即 GET /v1/contracts/:id/jws 的返回')
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--at <iso-time>', '按此时刻而非当前时刻检查期限', isoTime)
    .option('--json', '以 JSON 打印 {ok, header, claims}')
    .action(async (file: string, opts: { jwks?: string; dataDir?: string; at?: Date; json?: boolean }) => {
      const [{ verifyContract }, { decodeProtectedHeader }] = await Promise.all([
        import('../../contracts/index.ts'),
        import('jose'),
      ]);
      const jws = readJws(file);
      const claims = await verifyContract(jws, await jwksFrom(opts), opts.at ?? new Date());
      const header = decodeProtectedHeader(jws);
      console.log(opts.json ? JSON.stringify({ ok: true, header, claims }) : contractLines(claims, header).join('\n'));
    });
}
