/**
 * Why the audit trail failed verification, in Chinese (issue 33): the audit checker (src/audit)
 * names the break with a code and its facts; the risk report's finding, the console and the CLI
 * read this sentence, and keep the checker's English `reason` as a machine field only.
 */

/** 审计链断裂: one sentence per break code of src/audit (AUDIT_BREAKS). */
export const AUDIT_BREAK: Record<string, (b: { seq: number; expectedSeq?: number }) => string> = {
  'seq-gap': (b) => `第 ${b.seq} 条记录的序号不连续（应为第 ${b.expectedSeq ?? '?'} 条）：有记录被删除或插入`,
  'prev-hash': (b) => `第 ${b.seq} 条记录所指的前一条哈希与前一条记录不符：记录被删改或顺序被打乱`,
  'entry-hash': (b) => `第 ${b.seq} 条记录的内容与其哈希不符：记录被改动`,
  'checkpoint-signature': (b) => `第 ${b.seq} 条处的检查点没有有效的数据主管部门签名`,
  'checkpoint-mismatch': (b) => `第 ${b.seq} 条处的检查点与其签名内容不符`,
  'entry-missing': (b) => `检查点签过的第 ${b.seq} 条记录已不存在：审计记录被截断`,
  'entry-rewritten': (b) => `第 ${b.seq} 条记录不是其检查点签过的那一条：审计记录被改写`,
};

/** The Chinese sentence of a chain break; one recorded before breaks had codes says so, by its entry. */
export function auditBreakText(b: { seq: number; code?: string; expectedSeq?: number }): string {
  const say = b.code !== undefined ? AUDIT_BREAK[b.code] : undefined;
  return say ? say(b) : `第 ${b.seq} 条记录校验不通过（原因见英文说明）`;
}
