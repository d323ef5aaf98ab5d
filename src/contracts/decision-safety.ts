/**
 * Decision safety (policies/workflow.yaml `decisionSafety`; seed 001 第三十一条): what in an
 * application's risk preview breaks the policy, in the words (zh-CN, docs/glossary.md) the bureau
 * reads before it decides. An
 * approval despite any of these needs an override with a reason (applications.ts).
 */
import type { RiskReport } from '../masking/index.ts';
import type { Catalog } from '../policies/index.ts';
import { kBelowPolicyText, prosecutorRiskText, sensitiveFactsText } from '../terms/index.ts';

export function riskWarnings(
  risk: Record<string, RiskReport | null> | null,
  policy: { maxProsecutorRisk: number },
): string[] {
  const warnings: string[] = [];
  for (const [dataset, r] of Object.entries(risk ?? {})) {
    if (!r) continue;
    if (r.k < r.policyK)
      warnings.push(
        kBelowPolicyText({
          dataset,
          k: r.k,
          policyK: r.policyK,
          records: r.records,
          percent: (r.shareBelowK * 100).toFixed(1),
        }),
      );
    if (r.prosecutorRisk > policy.maxProsecutorRisk)
      warnings.push(
        prosecutorRiskText({ dataset, risk: r.prosecutorRisk.toFixed(3), ceiling: policy.maxProsecutorRisk, k: r.k }),
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
    .map((g) => sensitiveFactsText({ dataset: g.dataset, title: catalog.datasets[g.dataset]!.title }));
}
