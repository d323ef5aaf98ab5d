/**
 * Decision safety (policies/workflow.yaml `decisionSafety`; seed 001 第三十一条): what in an
 * application's risk preview breaks the policy, in the words (zh-CN, docs/glossary.md) the bureau
 * reads before it decides. An
 * approval despite any of these needs an override with a reason (applications.ts).
 */
import type { RiskReport } from '../masking/index.ts';
import type { Catalog } from '../policies/index.ts';

export function riskWarnings(
  risk: Record<string, RiskReport | null> | null,
  policy: { maxProsecutorRisk: number },
): string[] {
  const warnings: string[] = [];
  for (const [dataset, r] of Object.entries(risk ?? {})) {
    if (!r) continue;
    if (r.k < r.policyK)
      warnings.push(
        `${dataset}：k = ${r.k}，低于政策要求的 k = ${r.policyK}；${r.records} 条记录中有 ${(r.shareBelowK * 100).toFixed(1)}% 所在的等价类小于 ${r.policyK}`,
      );
    if (r.prosecutorRisk > policy.maxProsecutorRisk)
      warnings.push(
        `${dataset}：检察官风险 ${r.prosecutorRisk.toFixed(3)}，高于政策上限 ${policy.maxProsecutorRisk}（最小等价类只有 ${r.k} 条记录）`,
      );
  }
  return warnings;
}

/**
 * What reviewers and the risk preview say about datasets of sensitive facts (catalog
 * `sensitiveFacts`): granted to dp contracts only, every answer about them under the ε ledger.
 */
export function sensitiveFactNotices(catalog: Catalog, grants: { dataset: string }[]): string[] {
  return grants
    .filter((g) => catalog.datasets[g.dataset]?.sensitiveFacts)
    .map(
      (g) =>
        `${g.dataset}（${catalog.datasets[g.dataset]!.title}）记录关于个人的敏感事实：仅授予差分隐私合约，每次分析都计入合约的 ε 预算`,
    );
}
