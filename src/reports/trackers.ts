import { candidates, trackerPairs, type Candidate, type Fingerprint } from '../disclosure/index.ts';
import type { Store } from '../store/index.ts';
import type { Figures, Period } from './schema.ts';

/**
 * Tracker patterns in one period (docs/architecture.md §12): each output may pass the release
 * checks alone, yet many outputs over the same small population, or pairs of cells that isolate
 * the same person again and again, are how a determined operator averages perturbation away. The
 * report counts them over the sets of people behind the cells (their signatures), across all of
 * the operator's contracts, whatever the queries called their columns.
 */

/** How many of the operator's outputs of a period are compared at most (the latest). */
const OUTPUTS_COMPARED = 2000;

export async function trackerFigures(
  store: Store,
  contractId: string,
  operatorOrg: string,
  period: Period,
  smallPopulationUnits: number,
): Promise<Figures['trackers']> {
  const rows = await store.all<{ id: string; contract_id: string; units_fingerprint: string }>(
    `SELECT id, contract_id, units_fingerprint FROM outputs
     WHERE operator_org = $o AND status IN ('released', 'held') AND units_fingerprint IS NOT NULL
       AND created_at >= $s AND created_at < $e
     ORDER BY created_at DESC LIMIT ${OUTPUTS_COMPARED}`,
    { o: operatorOrg, s: period.start, e: period.end },
  );
  const mine = new Set(rows.filter((r) => r.contract_id === contractId).map((r) => r.id));
  const all = rows.flatMap((r) => candidates(r.id, JSON.parse(r.units_fingerprint) as Fingerprint));
  const id = (c: Candidate) => `${c.outputId}|${c.label}`;

  // pairs one or two people apart (found once, for the isolations and the small populations)
  const found = trackerPairs(all, []);
  // … with a side in this contract, each once
  const pairs = new Map<string, { units: bigint[]; outputs: [string, string] }>();
  for (const p of found) {
    if (!mine.has(p.big.outputId) && !mine.has(p.small.outputId)) continue;
    pairs.set(`${id(p.big)}>${id(p.small)}`, { units: p.units, outputs: [p.big.outputId, p.small.outputId] });
  }
  const byUnit = new Map<bigint, Set<string>>();
  for (const p of pairs.values()) {
    for (const u of p.units) {
      const set = byUnit.get(u) ?? new Set<string>();
      set.add(p.outputs.join('>'));
      byUnit.set(u, set);
    }
  }

  // small populations: cells with the same set of people, or one or two apart, in one cluster
  const small = all.filter((c) => c.n <= smallPopulationUnits);
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const join = (a: string, b: string) => parent.set(find(a), find(b));
  const setKey = (c: Candidate) => `${c.n}:${c.s1}:${c.s2}`;
  for (const c of small) {
    parent.set(id(c), id(c));
    const k = `set:${setKey(c)}`;
    if (!parent.has(k)) parent.set(k, k);
    join(id(c), k);
  }
  // the larger side of a pair is small too: both are in the clusters
  for (const p of found) if (p.big.n <= smallPopulationUnits) join(id(p.big), id(p.small));
  const clusters = new Map<string, Set<string>>();
  for (const c of small) {
    const root = find(id(c));
    const outputs = clusters.get(root) ?? new Set<string>();
    outputs.add(c.outputId);
    clusters.set(root, outputs);
  }
  const touching = [...clusters.values()].filter((outputs) => [...outputs].some((o) => mine.has(o)));

  return {
    outputsCompared: rows.length,
    isolatingPairs: pairs.size,
    mostIsolationsOfOnePerson: Math.max(0, ...[...byUnit.values()].map((s) => s.size)),
    smallPopulationOutputs: Math.max(0, ...touching.map((s) => s.size)),
  };
}
