/**
 * What the commands that work without a server show a person — seed, ingest, contract verify,
 * verify-output and verify-register — in Chinese (issue 33). Codes, ids, hashes and file paths stay as they are;
 * `--json` prints the machine answer instead.
 */
import type { ProtectedHeaderParameters } from 'jose';
import type { VerifiedContract } from '../contracts/index.ts';
import type { DatasetVersion, IngestReport } from '../domain/index.ts';
import type { OutputCheck } from '../outputs/index.ts';
import type { RegisterCheck, RegisterProblem } from '../register/index.ts';
import { shanghaiTime } from '../terms/index.ts';
import { facts, modeText, table } from './table.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} 秒`;

/** `pds seed`: a dataset a row, then where and how long. */
export function seedLines(dataDir: string, versions: Record<string, DatasetVersion>, elapsedMs: number): string[] {
  return [
    ...table(
      ['数据集', '版本', '行数', '内容哈希'],
      Object.values(versions).map((v) => [v.dataset, v.version, v.rows, `${v.contentHash.slice(0, 16)}…`]),
    ),
    '',
    `已在 ${dataDir} 生成合成数据，用时 ${seconds(elapsedMs)}`,
  ];
}

/** `pds ingest`: the new version and the data-quality findings (a check is named by its code). */
export function ingestLines(report: IngestReport): string[] {
  const v = report.version;
  const example = (f: IngestReport['findings'][number]) =>
    f.samples.length ? `（例：${f.samples.map((x) => `第 ${x.line} 行：${x.value}`).join('；')}）` : '';
  return [
    `已导入 ${v.dataset} 第 ${v.version} 版：${v.rows} 行，内容哈希 ${v.contentHash.slice(0, 16)}…`,
    ...(report.findings.length === 0
      ? ['数据质量：未发现问题']
      : report.findings.map((f) => `数据质量：${f.column} 有 ${f.count} 处 ${f.check}${example(f)}`)),
  ];
}

/** `pds contract verify`: what the verified contract grants, times in Beijing time with the offset. */
export function contractLines(claims: VerifiedContract, header: ProtectedHeaderParameters): string[] {
  const signed = (s: number) => shanghaiTime(new Date(s * 1000).toISOString(), { offset: true });
  const budget = claims.privacyBudget
    ? `；ε ${claims.privacyBudget.epsilon}（每次查询 ≤ ${claims.privacyBudget.epsilonPerQuery}）`
    : '';
  const plan = claims.emergencyPlan;
  return [
    `校验通过：合约 ${claims.jti}（运营单位 ${claims.sub}），签名密钥 ${header.kid}`,
    ...facts([
      ['场景', `${claims.scenario.name} — ${claims.scenario.purpose}`],
      [
        '模式',
        `${modeText(claims.mode)}；k ≥ ${claims.disclosure.minUnits}，最多 ${claims.disclosure.maxRows} 行${budget}`,
      ],
      ['期限', `${signed(claims.nbf)} 至 ${signed(claims.exp)}`],
      ...claims.datasets.map((d): [string, string] => [
        '数据集',
        `${d.dataset}（${d.providerName}）：${d.columns.map((c) => `${c.column}:${c.rule}`).join(', ')}`,
      ]),
      ['快照', claims.snapshot.hash],
      ['策略', `${claims.policyHash}（目录版本 ${claims.catalogVersion}）`],
      ['应急预案', `${plan.contact}：${plan.triggers.join('；')} → ${plan.actions.join('；')}`],
    ]).map((line) => `  ${line}`),
    '合约状态（暂停、撤销）记录在控制库：GET /v1/contracts/{id} 查看',
  ];
}

/** `pds verify-output`: verified, or which digest differs. */
export function outputCheckLines(file: string, check: OutputCheck): string[] {
  return check.ok
    ? [
        `校验通过：${file} 是输出 ${check.outputId}（合约 ${check.contractId}）的 ${check.format} 文件，${check.rows} 行，发布于 ${shanghaiTime(check.releasedAt, { offset: true })}`,
      ]
    : [`校验不一致：${file} 的 sha256 为 ${check.sha256}，签名清单为其 ${check.format} 文件封存的是 ${check.expected}`];
}

/** What is wrong with a register entry, in words (docs/glossary.md, 公示名录). */
const REGISTER_PROBLEM: Record<RegisterProblem, string> = {
  sequence: '条目缺失或次序错乱',
  chain: '与前一条目的链接（prev）不符',
  hash: '内容与其哈希不符，条目已被改动',
  signature: '签名无法用数据主管部门的公钥验证',
  'signed-content': '签名封存的内容与所示内容不符',
  head: '签名链头与副本不符',
};

/** `pds verify-register`: the register checks out, or its first bad entry and what is wrong there. */
export function registerCheckLines(file: string, check: RegisterCheck): string[] {
  if (check.ok) return [`校验通过：${file} 是完整的公示名录，${check.entries} 条公示条目，链头 ${check.headHash}`];
  const bad = check.firstBad!;
  return [
    `校验未通过：${file} 第 ${bad.seq} 条公示条目处${REGISTER_PROBLEM[bad.problem]}（${bad.problem}）`,
    `  ${bad.detail}`,
    `  此前 ${check.entries} 条校验通过`,
  ];
}
