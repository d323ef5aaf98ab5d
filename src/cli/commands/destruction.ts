import fs from 'node:fs';
import type { Command } from 'commander';
import type { DestructionClaims } from '../../destruction/index.ts';
import { isPdsError, PdsError } from '../../errors/index.ts';
import { DESTRUCTION_KIND, DESTRUCTION_WHY, FILE_REMOVAL, shanghaiTime, term } from '../../terms/index.ts';
import { dataDirOption, jwksOption, jwksFrom } from '../shared.ts';
import { facts } from '../table.ts';

/**
 * The record's JWS from a file: the JWS itself, or the JSON `GET /v1/destruction-records/{id}`
 * answers (its `jws` field).
 */
export function recordJws(file: string): string {
  if (!fs.existsSync(file)) throw new PdsError('ERR_VALIDATION', `${file} does not exist`);
  const text = fs.readFileSync(file, 'utf8').trim();
  if (!text.startsWith('{')) return text;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (err) {
    throw new PdsError('ERR_VALIDATION', `${file} is neither a JWS nor a destruction record's JSON`, { cause: err });
  }
  const jws = (record as { jws?: unknown }).jws;
  if (typeof jws !== 'string')
    throw new PdsError(
      'ERR_DESTRUCTION_RECORD_INVALID',
      `${file} holds no sealed record (jws): a pending record is not sealed until its files are deleted`,
    );
  return jws;
}

/** `pds verify-destruction`: what the verified record says, in Chinese. */
export function destructionLines(file: string, c: DestructionClaims & { jti?: string }): string[] {
  return [
    `校验通过：${file} 是销毁记录 ${c.jti ?? ''}，由数据主管部门签名`,
    ...facts([
      [
        '销毁对象',
        `${term(DESTRUCTION_KIND, c.kind)}（合约 ${c.contractId}${c.outputId ? `，输出 ${c.outputId}` : ''}）`,
      ],
      ['原因', `${term(DESTRUCTION_WHY, c.why)} (${c.why})`],
      ['执行人', c.by.sub === 'housekeeping' ? '定期清理 (housekeeping)' : `${c.by.sub}（${c.by.org}）`],
      ['申请于', shanghaiTime(c.requestedAt, { offset: true })],
      ['销毁于', shanghaiTime(c.destroyedAt, { offset: true })],
      ['方式', '解除链接 (unlinked)：未覆写，数据块由静态加密保护直至被复用'],
    ]).map((l) => `  ${l}`),
    '  文件（删除前的 sha256）：',
    ...c.files.map((f) => `    ${f.path}  ${f.sha256}  ${f.bytes} 字节  ${term(FILE_REMOVAL, f.removal)}`),
  ];
}

/** `pds verify-destruction`: one destruction record checked offline against the bureau's keys. */
export function addDestructionCommands(program: Command): void {
  program
    .command('verify-destruction')
    .description(
      '校验一份销毁记录（其 JWS，或 GET /v1/destruction-records/{id} 返回的 JSON）的数据主管部门签名，可离线或对照 JWKS 地址；不通过时以退出码 1 说明原因',
    )
    .argument('<file>', '销毁记录：其 JWS，或 API 返回的 JSON')
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--json', '以 JSON 输出 {ok, claims} 或 {ok: false, code, problem}')
    .action(async (file: string, opts: { jwks?: string; dataDir?: string; json?: boolean }) => {
      const { verifyDestruction } = await import('../../destruction/index.ts');
      try {
        const claims = await verifyDestruction(recordJws(file), await jwksFrom(opts));
        console.log(opts.json ? JSON.stringify({ ok: true, claims }) : destructionLines(file, claims).join('\n'));
      } catch (err) {
        if (!isPdsError(err) || err.code !== 'ERR_DESTRUCTION_RECORD_INVALID') throw err;
        console.log(
          opts.json
            ? JSON.stringify({ ok: false, code: err.code, problem: err.detail })
            : `校验失败：${file} 不是有效的销毁记录（${err.detail}）`,
        );
        process.exitCode = 1;
      }
    });
}
