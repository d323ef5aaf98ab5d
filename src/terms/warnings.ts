/**
 * The policy warnings of an application's risk preview (decision safety, seed 001 第三十一条), in
 * Chinese. New ones are written from here (src/contracts/decision-safety.ts); contracts signed
 * before issue 33 carry them in English inside their signed claims, which are never rewritten:
 * `policyWarningText` reads those at display time and says them in the same Chinese (issue 33).
 */

/** k of the dataset's masked snapshot is below the policy's k. */
export function kBelowPolicyText(w: { dataset: string; k: number; policyK: number; records: number; percent: string }) {
  return `${w.dataset}：k = ${w.k}，低于政策要求的 k = ${w.policyK}；${w.records} 条记录中有 ${w.percent}% 所在的等价类小于 ${w.policyK}`;
}

/** The prosecutor risk of the dataset's masked snapshot is above the policy's ceiling. */
export function prosecutorRiskText(w: { dataset: string; risk: string; ceiling: number | string; k: number }) {
  return `${w.dataset}：检察官风险 ${w.risk}，高于政策上限 ${w.ceiling}（最小等价类只有 ${w.k} 条记录）`;
}

/** A dataset of sensitive facts: dp contracts only, under the ε budget. */
export function sensitiveFactsText(w: { dataset: string; title: string }) {
  return `${w.dataset}（${w.title}）记录关于个人的敏感事实：仅授予差分隐私合约，每次分析都计入合约的 ε 预算`;
}

/** The English the warnings were written in before issue 33, as signed into older contracts. */
const ENGLISH: [RegExp, (m: RegExpExecArray) => string][] = [
  [
    /^(.+?): k = (\d+) is below the policy's k = (\d+); ([\d.]+) % of (\d+) records are in classes smaller than \d+$/,
    (m) => kBelowPolicyText({ dataset: m[1]!, k: +m[2]!, policyK: +m[3]!, percent: m[4]!, records: +m[5]! }),
  ],
  [
    /^(.+?): prosecutor risk ([\d.]+) is above the policy's ([\d.]+) \(the smallest class has (\d+) record\(s\)\)$/,
    (m) => prosecutorRiskText({ dataset: m[1]!, risk: m[2]!, ceiling: m[3]!, k: +m[4]! }),
  ],
  [
    /^(.+?) \((.+)\) holds sensitive facts about people: it is granted to dp contracts only, and every analysis of it is charged to the contract's ε budget$/,
    (m) => sensitiveFactsText({ dataset: m[1]!, title: m[2]! }),
  ],
];

/**
 * A policy warning as people read it: a Chinese one as it is, an English one of an older contract
 * in its Chinese words; one this version does not know is shown as signed, marked so.
 */
export function policyWarningText(warning: string): string {
  for (const [pattern, say] of ENGLISH) {
    const m = pattern.exec(warning);
    if (m) return say(m);
  }
  return /\p{Script=Han}/u.test(warning) ? warning : `政策提示（签署时的原文）：${warning}`;
}

/** An approval over the policy's warnings, as a contract's page says it: the reason, who, and the warnings. */
export function overrideText(o: { reason: string; by: string; warnings: string[] }): string {
  return `${o.reason}（${o.by}）${o.warnings.length ? `；政策提示：${o.warnings.map(policyWarningText).join('；')}` : ''}`;
}
