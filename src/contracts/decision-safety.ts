/**
 * Decision safety (policies/workflow.yaml `decisionSafety`; seed 001 第三十一条): what in an
 * application's risk preview breaks the policy, in words the bureau reads before it decides. An
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
        `${dataset}: k = ${r.k} is below the policy's k = ${r.policyK}; ${(r.shareBelowK * 100).toFixed(1)} % of ${r.records} records are in classes smaller than ${r.policyK}`,
      );
    if (r.prosecutorRisk > policy.maxProsecutorRisk)
      warnings.push(
        `${dataset}: prosecutor risk ${r.prosecutorRisk.toFixed(3)} is above the policy's ${policy.maxProsecutorRisk} (the smallest class has ${r.k} record(s))`,
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
        `${g.dataset} (${catalog.datasets[g.dataset]!.title}) holds sensitive facts about people: it is granted to dp contracts only, and every analysis of it is charged to the contract's ε budget`,
    );
}
