import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { domainPath, seedDomain } from '../../src/domain/index.ts';
import { isPdsError } from '../../src/errors/index.ts';
import { evaluateQuery, releaseTerms, type Evaluation } from '../../src/jobs/index.ts';
import { buildSnapshot, PRIVACY_UNIT_COLUMN, resolveGrants, snapshotSchema } from '../../src/masking/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import {
  disposeRunners, functionAllowlist, SANDBOX_LAYERS, SchemaBinder, SqlParser, sqlPolicy, warmRunners,
  type BoundColumn, type SandboxLayer, type SandboxLimits, type SqlPolicy,
} from '../../src/sandbox/index.ts';
import { tmpDataDir } from '../helpers.ts';
import { ATTACKS, CANARY, HONEST, type Attack } from './cases.ts';

/**
 * The red-team suite (docs/architecture.md, "Threat model"): every attack is stopped by the layer
 * it names, and still by another when that layer — or any other single layer — is switched off;
 * every honest query runs. Each query goes through the functions production runs: the API's plan,
 * the worker's execution, the outcome check and the one release decision (evaluateQuery).
 */

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const LIMITS: SandboxLimits = {
  threads: 1, memoryLimit: '256MB', tempDirectorySize: '64MB', timeoutMs: 1500, maxResultRows: 1000, maxResultBytes: 100_000,
};

interface Outcome {
  stopped: boolean;
  layer?: string;
  detail: string;
}

const t = tmpDataDir('pds-redteam-');
let parser: SqlParser;
let binder: SchemaBinder;
let snapshotFile: string;
let policy: SqlPolicy;
let schema: Record<string, BoundColumn[]>;

/** Terms as a contract with the default policies would have them (k = 10). */
const TERMS = releaseTerms({ disclosure: { minUnits: 10, maxRows: 10_000 }, privacyBudget: null }, policies);

async function attempt(mode: Attack['mode'], sql: string, off: SandboxLayer[] = []): Promise<Evaluation> {
  return evaluateQuery({ parser, binder }, {
    sql, mode, policy, schema: { key: 'redteam', tables: schema }, maxSqlBytes: 65_536, dominanceN: policies.disclosure.dominance.n,
    dataDir: t.dir, snapshotFile, tmpDir: path.join(t.dir, 'tmp'), limits: LIMITS, terms: TERMS, layersOff: new Set(off),
  });
}

async function outcome(a: Attack, off: SandboxLayer[] = []): Promise<Outcome> {
  try {
    const { decision: d } = await attempt(a.mode, a.sql, off);
    if (d.decision === 'refused') return { stopped: true, layer: 'disclosure', detail: `refused: ${d.reasons.join('; ')}` };
    if (d.decision === 'held') return { stopped: true, layer: 'disclosure', detail: 'held for review' };
    const suppressed = d.checks.find((c) => c.check === 'min-units')?.rowsSuppressed ?? 0;
    // a small-cell attack is stopped when the rows it aimed at were removed
    if (a.category === 'small-cells' && suppressed > 0) return { stopped: true, layer: 'disclosure', detail: `${suppressed} row(s) suppressed` };
    return { stopped: false, detail: `released ${d.rows.length} row(s): ${JSON.stringify(d.rows.slice(0, 2))}` };
  } catch (err) {
    if (!isPdsError(err)) throw err;
    const layer = typeof err.extra?.layer === 'string' ? err.extra.layer : undefined;
    return { stopped: layer !== undefined && layer !== 'none', layer, detail: `${err.code}: ${err.detail}` };
  }
}

beforeAll(async () => {
  fs.rmSync(CANARY, { recursive: true, force: true });
  await seedDomain(t.dir, { rows: 3000, seed: 5 });
  const grants = resolveGrants(policies.catalog, policies.masking, [
    { dataset: 'population', columns: ['gender', 'birth_date', 'district', 'education', 'income'] },
    { dataset: 'medical_visit', columns: ['hospital', 'visit_date', 'icd10', 'cost'] },
    { dataset: 'enterprise', columns: ['legal_rep_id_number', 'industry', 'registered_capital', 'district'], masking: { legal_rep_id_number: 'pseudonymize' } },
  ]);
  const snap = await buildSnapshot({ dataDir: t.dir, domainFile: domainPath(t.dir), contractId: 'ctr_redteam', grants, catalog: policies.catalog, policyK: 10, pseudonymKey: Buffer.alloc(32, 5) });
  snapshotFile = path.basename(snap.file);
  schema = await snapshotSchema(grants, policies.catalog);
  policy = sqlPolicy(
    Object.fromEntries(Object.entries(snap.tables).map(([name, v]) => [name, v.columns])),
    ['legal_rep_id_number'], PRIVACY_UNIT_COLUMN, functionAllowlist(policies.sqlAllowlist),
    Object.entries(snap.tables).filter(([, v]) => v.units === v.rows).map(([name]) => name),
  );
  parser = await SqlParser.create();
  binder = await SchemaBinder.create();
  warmRunners(2);
}, 120_000);

afterAll(() => {
  parser.dispose();
  binder.dispose();
  disposeRunners();
  t.cleanup();
});

describe('red team, every layer on', () => {
  it('has at least 80 attacks across every category and 15 honest queries', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(80);
    expect(new Set(ATTACKS.map((a) => a.id)).size).toBe(ATTACKS.length);
    expect(HONEST.length).toBeGreaterThanOrEqual(15);
  });

  it.each(ATTACKS.map((a) => [a.id, a] as const))('%s is stopped by the layer it names', async (_id, a) => {
    const o = await outcome(a);
    expect(o, o.detail).toMatchObject({ stopped: true, layer: a.stoppedBy[0] });
  });

  it.each(HONEST.map((q) => [q.id, q] as const))('honest query %s runs', async (_id, q) => {
    const { decision: d } = await attempt(q.mode, q.sql);
    expect(d.decision, d.reasons.join('; ')).toBe(q.mode === 'aggregate' ? 'released' : 'held');
    expect(d.rows.length).toBeGreaterThan(0);
  });
});

describe.each(SANDBOX_LAYERS.map((l) => [l] as const))('red team, the %s layer off', (layer) => {
  it.each(ATTACKS.map((a) => [a.id, a] as const))('%s', async (_id, a) => {
    const others = a.stoppedBy.filter((l) => l !== layer);
    const o = await outcome(a, [layer]);
    if (others.length === 0) {
      // held by this layer alone, by nature (small cells): the suite shows it rather than hide it
      expect(o.stopped, o.detail).toBe(false);
    } else {
      expect(o.stopped, o.detail).toBe(true);
      expect(o.layer, o.detail).not.toBe(layer);
    }
  });
});

describe('red team, aftermath', () => {
  it('left no file behind from any write attempt', () => {
    const leaks = fs.readdirSync(path.dirname(CANARY)).filter((f) => f.startsWith(path.basename(CANARY)));
    expect(leaks).toEqual([]);
  });

  it('left the snapshot unchanged and readable', async () => {
    const { decision: d } = await attempt('aggregate', 'SELECT count(*) AS n FROM population');
    expect(d.rows).toEqual([[3000]]);
  });
});
