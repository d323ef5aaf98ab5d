import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { domainPath, seedDomain } from '../../src/domain/index.ts';
import { buildSnapshot, effectiveRules, resolveGrants, type DatasetRequest } from '../../src/masking/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import { readRows, tmpDataDir } from '../helpers.ts';

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const { catalog, masking } = policies;

const rows = readRows;

/**
 * "No raw id_number, phone, name, uscc or address value of the domain appears in any cell of any
 * snapshot": snapshots of every dataset, granting every grantable column under every masked rule the
 * policy allows for it, scanned cell by cell against every raw identifier value in the domain.
 */
describe('no raw identifier in any snapshot cell', () => {
  const t = tmpDataDir();
  const raw = new Set<string>();
  beforeAll(async () => {
    await seedDomain(t.dir, { rows: 3000, seed: 21 });
    for (const [dataset, ds] of Object.entries(catalog.datasets)) {
      const identifiers = Object.keys(ds.columns).filter((c) =>
        ['id_number', 'legal_rep_id_number', 'phone', 'name', 'uscc', 'employer_uscc', 'address', 'account'].includes(
          c,
        ),
      );
      for (const r of await rows(domainPath(t.dir), `SELECT ${identifiers.join(', ')} FROM ${dataset}`))
        for (const v of Object.values(r)) raw.add(String(v));
    }
  }, 60_000);
  afterAll(() => t.cleanup());

  /** Every masked rule the policy allows a direct-identifier column, concretely parameterized. */
  function maskedRules(dataset: string, column: string): string[] {
    const { allowed } = effectiveRules(masking, catalog, dataset, column);
    const concrete: Record<string, string> = {
      generalize: 'generalize:district',
      'generalize:district': 'generalize:district',
    };
    return allowed.filter((r) => r !== 'drop' && r !== 'keep').map((r) => concrete[r] ?? r);
  }

  it.each(Object.keys(catalog.datasets))('%s: every masked form of every direct identifier', async (dataset) => {
    const ds = catalog.datasets[dataset]!;
    const direct = Object.entries(ds.columns)
      .filter(([, c]) => c.role === 'direct')
      .map(([n]) => n);
    const others = Object.entries(ds.columns)
      .filter(
        ([n, c]) =>
          c.role !== 'direct' && !c.negativeList && effectiveRules(masking, catalog, dataset, n).default !== 'drop',
      )
      .map(([n]) => n);
    const variants = Math.max(...direct.map((c) => maskedRules(dataset, c).length));
    for (let v = 0; v < variants; v++) {
      const request: DatasetRequest = { dataset, columns: [...direct, ...others], masking: {} };
      for (const c of direct) {
        const options = maskedRules(dataset, c).filter(
          (r) =>
            !(r === 'generalize:district' && ds.columns[c]!.type !== 'VARCHAR') &&
            !(r === 'generalize:district' && !c.includes('address')),
        );
        request.masking![c] = options[v % options.length]!;
      }
      const grants = resolveGrants(catalog, masking, [request]);
      const snap = await buildSnapshot({
        dataDir: t.dir,
        domainFile: domainPath(t.dir),
        contractId: `ctr_scan_${dataset}_${v}`,
        grants,
        catalog,
        policyK: 10,
        pseudonymKey: Buffer.alloc(32, v + 1),
      });
      const cells = (await rows(snap.file, `SELECT * FROM ${dataset}`)).flatMap((r) => Object.values(r).map(String));
      expect(cells.length).toBeGreaterThan(0);
      const leaks = cells.filter((c) => raw.has(c));
      expect(leaks, `${dataset} with ${JSON.stringify(request.masking)}`).toEqual([]);
    }
  });
});
