/**
 * `pds outputs review <output>`: a held output's review packet (GET /v1/outputs/{id}/review) as a
 * bureau reviewer reads it in the console — the SQL as submitted, the API's own analysis and the
 * SQL that ran, every disclosure check, the rows, the dummy-data replay, the votes and the thread
 * (docs/architecture.md §15). Words from src/terms; SQL, ids and check codes as they are.
 */
import type { Answer } from '../client/index.ts';
import { CHECK, DECISION, ON_FAIL, shanghaiTime, term } from '../terms/index.ts';
import { facts, modeText, rolesText, statusText, table, type Cell } from './table.ts';

type Packet = Answer<'getReviewPacket'>;
type Comment = Packet['thread'][number];

const indent = (lines: string[], by = '  ') => lines.map((l) => `${by}${l}`);
const sqlLines = (sql: string) => indent(sql.trim().split('\n'), '    ');

/** A result value in a cell: numbers as they are, null as —, anything structured as JSON. */
function cell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'string') return value;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A job's thread: who wrote what, when (also `pds thread`). */
export function threadLines(comments: Comment[], empty = '此作业的讨论为空'): string[] {
  return table(
    ['#', '时间', '作者', '角色', '内容'],
    comments.map((c) => [c.seq, shanghaiTime(c.createdAt), `${c.author} (${c.org})`, rolesText([c.role]), c.body]),
    empty,
  );
}

function headLines(p: Packet): string[] {
  const o = p.output;
  return [
    `输出 ${o.id}（作业 ${o.jobId}，合约 ${o.contractId}）：${statusText(o.status)}，票数 ${o.votes.recorded}/${o.votes.needed}`,
    ...facts([
      ['生成时间', shanghaiTime(o.createdAt)],
      ['待审原因', o.heldBecause.join('；')],
      ['行数', `${o.rowCount}（隐藏单元格 ${o.cellsSuppressed} 个）`],
      ['sha256', o.sha256],
      ...(p.job.revisionOf ? [['修订自', `作业 ${p.job.revisionOf}`] as [string, string]] : []),
      ...(p.job.dp ? [['差分隐私参数', JSON.stringify(p.job.dp)] as [string, string]] : []),
    ]).map((l) => `  ${l}`),
    '',
    `提交的 SQL${p.job.name ? `（${p.job.name}）` : ''}：`,
    ...sqlLines(p.job.sql),
  ];
}

function analysisLines(a: Packet['analysis']): string[] {
  if (!a) return ['平台分析：无（作业未经分析）'];
  return [
    '平台分析：',
    ...indent(
      facts([
        ['模式', modeText(a.mode)],
        ['读取的表', a.tables.join('、')],
        ['读取的列', a.readsColumns.join('、')],
        ['结果列', a.resultColumns.map((c) => `${c.name} ${c.type}`).join('，')],
      ]),
    ),
    '  实际运行的 SQL（合约的扰动密钥不显示）：',
    ...sqlLines(a.ranSql),
  ];
}

function checkLines(checks: Packet['output']['checks']): string[] {
  const params = (p: Record<string, number | string>) =>
    Object.entries(p)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  return [
    '披露控制检查：',
    ...indent(
      table(
        ['检查', '结果', '未通过时', '参数', '隐藏', '记录'],
        checks.map((c) => [
          `${term(CHECK, c.check)} (${c.check})`,
          c.passed ? '通过' : '未通过',
          c.onFail ? term(ON_FAIL, c.onFail) : null,
          params(c.params),
          c.cellsSuppressed || c.rowsSuppressed
            ? `${c.cellsSuppressed ?? 0} 个单元格，${c.rowsSuppressed ?? 0} 行`
            : null,
          c.effect,
        ]),
        '（无检查记录）',
      ),
    ),
  ];
}

function rowsLines(p: Packet): string[] {
  const { preview, dummy } = p;
  const rows = (columns: { name: string }[], data: unknown[][]) =>
    indent(
      table(
        columns.map((c) => c.name),
        data.map((r) => r.map(cell)),
        '（无行）',
      ),
    );
  return [
    `结果（前 ${preview.rows.length} 行，共 ${preview.totalRows} 行）：`,
    ...rows(preview.columns, preview.rows),
    '',
    ...(dummy === null
      ? ['模拟数据重放：无（只重放运行过的作业）']
      : dummy.ok
        ? [
            `模拟数据重放（同一 SQL 在 ${dummy.dummyRows} 行模拟数据上运行，看结果的形状）：`,
            ...rows(dummy.columns, dummy.rows),
          ]
        : [`模拟数据重放失败：${dummy.code}：${dummy.message}`]),
  ];
}

/** The whole packet, section by section. */
export function reviewPacketLines(p: Packet): string[] {
  const votes = table(
    ['审核人', '决定', '理由', '时间'],
    p.output.reviews.map((r) => [
      r.reviewer,
      `${term(DECISION, r.decision)} (${r.decision})`,
      r.reason,
      shanghaiTime(r.reviewedAt),
    ]),
    '（尚无您可见的投票：第二票之前，每位审核人只看到自己的）',
  );
  return [
    ...headLines(p),
    '',
    ...analysisLines(p.analysis),
    '',
    ...checkLines(p.output.checks),
    '',
    ...rowsLines(p),
    '',
    '投票：',
    ...indent(votes),
    '',
    '讨论：',
    ...indent(threadLines(p.thread)),
    ...(p.output.status === 'held'
      ? ['', `投票：pds review output ${p.output.id} --decision approve|reject|request-changes --reason 理由`]
      : []),
  ];
}
