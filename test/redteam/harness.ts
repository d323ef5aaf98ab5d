import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { domainPath, seedDomain } from '../../src/domain/index.ts';
import { isPdsError } from '../../src/errors/index.ts';
import { contractSchema, contractSqlPolicy, perturbationSpec, releaseTerms } from '../../src/jobs/index.ts';
import { evaluateQuery, type Evaluation } from '../support/evaluate.ts';
import { buildSnapshot, resolveGrants } from '../../src/masking/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import {
  disposeRunners,
  SchemaBinder,
  SqlParser,
  warmRunners,
  type SandboxLayer,
  type SandboxLimits,
} from '../../src/sandbox/index.ts';
import { tmpDataDir } from '../helpers.ts';
import { CANARY, type Attack } from './cases.ts';

/**
 * The red-team world: a seeded domain, a snapshot of four datasets (population, medical_visit —
 * sensitive facts, which the aggregate contract's policy keeps from every query —, social_insurance
 * and enterprise with pseudonymized identifiers) and the production release path over it — the
 * API's plan, the worker's execution, the outcome check and the one release decision
 * (evaluateQuery, k = 10 as a default contract has it).
 */

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
const LIMITS: SandboxLimits = {
  threads: 1,
  memoryLimit: '256MB',
  tempDirectorySize: '64MB',
  timeoutMs: 1500,
  maxResultRows: 1000,
  maxResultBytes: 100_000,
};

export interface Outcome {
  stopped: boolean;
  layer?: string;
  detail: string;
}

export interface RedTeam {
  /** The world's DATA_DIR (keys, domain.duckdb, snapshots/): what a runner must never reach. */
  dataDir: string;
  /** The contract's own snapshot file. */
  snapshotFile: string;
  attempt(mode: Attack['mode'], sql: string, off?: SandboxLayer[]): Promise<Evaluation>;
  /** Whether an attack was stopped, and by which layer. */
  outcome(a: Pick<Attack, 'mode' | 'sql' | 'category'>, off?: SandboxLayer[]): Promise<Outcome>;
  close(): void;
}

export async function redTeam(): Promise<RedTeam> {
  const t = tmpDataDir('pds-redteam-');
  fs.rmSync(CANARY, { recursive: true, force: true });
  await seedDomain(t.dir, { rows: 3000, seed: 5 });
  const grants = resolveGrants(policies.catalog, policies.masking, [
    { dataset: 'population', columns: ['gender', 'birth_date', 'district', 'education', 'income'] },
    { dataset: 'medical_visit', columns: ['hospital', 'visit_date', 'icd10', 'cost'] },
    {
      dataset: 'social_insurance',
      columns: ['employer_uscc', 'month', 'base_salary', 'contribution'],
      masking: { employer_uscc: 'pseudonymize' },
    },
    {
      dataset: 'enterprise',
      columns: ['legal_rep_id_number', 'industry', 'registered_capital', 'district'],
      masking: { legal_rep_id_number: 'pseudonymize' },
    },
  ]);
  const snap = await buildSnapshot({
    dataDir: t.dir,
    domainFile: domainPath(t.dir),
    contractId: 'ctr_redteam',
    grants,
    catalog: policies.catalog,
    policyK: 10,
    pseudonymKey: Buffer.alloc(32, 5),
    // as the bureau's decision builds it: domain-wide unit keys
    unitKeySalt: 0x0a11ce5n,
  });
  const contract = { mode: 'aggregate' as const, datasets: grants, snapshot: snap };
  const schema = await contractSchema(policies, contract);
  const policy = contractSqlPolicy(policies, contract);
  const perturbation = perturbationSpec(policies, 0x5eedn);
  const parser = await SqlParser.create();
  const binder = await SchemaBinder.create();
  await warmRunners(2);
  const terms = releaseTerms({ disclosure: { minUnits: 10, maxRows: 10_000 }, privacyBudget: null }, policies);

  const attempt: RedTeam['attempt'] = (mode, sql, off = []) =>
    evaluateQuery(
      { parser, binder },
      {
        sql,
        mode,
        policy,
        schema: { key: 'redteam', tables: schema },
        maxSqlBytes: 65_536,
        dominanceN: policies.disclosure.dominance.n,
        dataDir: t.dir,
        snapshotFile: path.basename(snap.file),
        tmpDir: path.join(t.dir, 'tmp'),
        limits: LIMITS,
        terms,
        layersOff: new Set(off),
        ...(mode === 'aggregate' ? { perturbation } : {}),
      },
    );

  async function outcome(a: Pick<Attack, 'mode' | 'sql' | 'category'>, off: SandboxLayer[] = []): Promise<Outcome> {
    try {
      const { decision: d } = await attempt(a.mode, a.sql, off);
      if (d.decision === 'refused')
        return { stopped: true, layer: 'disclosure', detail: `refused: ${d.reasons.join('; ')}` };
      if (d.decision === 'held') return { stopped: true, layer: 'disclosure', detail: 'held for review' };
      const suppressed = d.checks.find((c) => c.check === 'min-units')?.rowsSuppressed ?? 0;
      // a small-cell attack is stopped when the rows it aimed at were removed
      if (a.category === 'small-cells' && suppressed > 0)
        return { stopped: true, layer: 'disclosure', detail: `${suppressed} row(s) suppressed` };
      return { stopped: false, detail: `released ${d.rows.length} row(s): ${JSON.stringify(d.rows.slice(0, 2))}` };
    } catch (err) {
      if (!isPdsError(err)) throw err;
      const layer = typeof err.extra?.layer === 'string' ? err.extra.layer : undefined;
      return { stopped: layer !== undefined && layer !== 'none', layer, detail: `${err.code}: ${err.detail}` };
    }
  }

  return {
    dataDir: t.dir,
    snapshotFile: snap.file,
    attempt,
    outcome,
    close() {
      parser.dispose();
      binder.dispose();
      disposeRunners();
      t.cleanup();
    },
  };
}
