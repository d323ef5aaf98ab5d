import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { domainPath, seedDomain } from '../../src/domain/index.ts';
import { isPdsError } from '../../src/errors/index.ts';
import {
  contractSchema,
  contractSqlPolicy,
  perturbationSpec,
  releaseTerms,
  type ReleaseDecision,
} from '../../src/jobs/index.ts';
import { evaluateQuery } from '../support/evaluate.ts';
import { buildSnapshot, resolveGrants } from '../../src/masking/index.ts';
import { loadPolicies } from '../../src/policies/index.ts';
import type { JsonValue } from '../../src/store/index.ts';
import { disposeRunners, SchemaBinder, SqlParser, warmRunners } from '../../src/sandbox/index.ts';
import { readRows, tmpDataDir } from '../helpers.ts';

/**
 * The privacy suite's world: a seeded domain, and a contract as the defaults make it — aggregate
 * mode, k = 10, the default masking of population (district, gender, birth year, education,
 * income) — queried through the production release path (evaluateQuery: the API's plan with its
 * perturbation, the worker's run, the outcome check, decideRelease). Targets are people whose
 * district, gender, birth year and education are unique in the raw data; their true income is
 * read from the raw domain, which the attacker never sees.
 */

const policies = loadPolicies(path.join(PACKAGE_ROOT, 'policies'));
/** The per-contract salt of snapshots without unit keys (unused here: cells are keyed by unit keys). */
const SALT = 0x5eed5eedn;
const LIMITS = {
  threads: 1,
  memoryLimit: '512MB',
  tempDirectorySize: '64MB',
  timeoutMs: 10_000,
  maxResultRows: 10_000,
  maxResultBytes: 5_000_000,
};

export interface Target {
  district: string;
  gender: string;
  year: number;
  education: string;
  income: number;
}

export interface Answer {
  /** null when the query was refused (the attacker learns only that). */
  rows: JsonValue[][] | null;
  columns: string[];
  decision: ReleaseDecision['decision'] | 'refused-before-run';
  code?: string;
  message?: string;
}

export interface PrivacyWorld {
  targets: Target[];
  /** Asks one aggregate-mode query; counts it. */
  ask(sql: string): Promise<Answer>;
  asked(): number;
  /** Reads the raw domain (the truth the attacker never sees), for the tests' yardsticks. */
  raw<T extends Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): void;
}

/** The target's quasi-identifiers as a predicate. */
export const isTarget = (t: Target) =>
  `(district = '${t.district}' AND gender = '${t.gender}' AND birth_date = '${t.year}' AND education = '${t.education}')`;

export async function privacyWorld(rows = 4000): Promise<PrivacyWorld> {
  const t = tmpDataDir('pds-privacy-');
  await seedDomain(t.dir, { rows, seed: 11 });
  const grants = resolveGrants(
    policies.catalog,
    policies.masking,
    [{ dataset: 'population', columns: ['district', 'gender', 'birth_date', 'education', 'income'] }],
    'aggregate',
  );
  const snap = await buildSnapshot({
    dataDir: t.dir,
    domainFile: domainPath(t.dir),
    contractId: 'ctr_privacy',
    grants,
    catalog: policies.catalog,
    policyK: 10,
    pseudonymKey: Buffer.alloc(32, 7),
    noiseKey: Buffer.alloc(32, 8),
    unitKeySalt: 0x0a11ce5n,
  });
  const contract = { mode: 'aggregate' as const, datasets: grants, snapshot: snap };
  const schema = await contractSchema(policies, contract);
  const policy = contractSqlPolicy(policies, contract);
  const targets = await readRows<{ district: string; gender: string; y: number; education: string; income: number }>(
    domainPath(t.dir),
    `SELECT district, gender, year(birth_date) AS y, education, income FROM population
     WHERE (district, gender, year(birth_date), education) IN (
       SELECT (district, gender, year(birth_date), education) FROM population GROUP BY ALL HAVING count(*) = 1)
       AND income > 20000 ORDER BY income DESC LIMIT 5`,
  );
  const parser = await SqlParser.create();
  const binder = await SchemaBinder.create();
  await warmRunners(2);
  const terms = releaseTerms({ disclosure: { minUnits: 10, maxRows: 10_000 }, privacyBudget: null }, policies);
  const perturbation = perturbationSpec(policies, SALT);
  let count = 0;
  return {
    targets: targets.map((r) => ({
      district: r.district,
      gender: r.gender,
      year: Number(r.y),
      education: r.education,
      income: Number(r.income),
    })),
    async ask(sql) {
      count++;
      try {
        const { decision } = await evaluateQuery(
          { parser, binder },
          {
            sql,
            mode: 'aggregate',
            policy,
            schema: { key: 'privacy', tables: schema },
            maxSqlBytes: 65_536,
            dominanceN: policies.disclosure.dominance.n,
            dataDir: t.dir,
            snapshotFile: path.basename(snap.file),
            tmpDir: path.join(t.dir, 'tmp'),
            limits: LIMITS,
            terms,
            perturbation,
          },
        );
        return {
          rows: decision.decision === 'released' ? decision.rows : null,
          columns: decision.columns.map((c) => c.name),
          decision: decision.decision,
        };
      } catch (err) {
        if (!isPdsError(err)) throw err;
        return { rows: null, columns: [], decision: 'refused-before-run', code: err.code, message: err.detail };
      }
    },
    asked: () => count,
    raw: <T extends Record<string, unknown>>(sql: string) => readRows(domainPath(t.dir), sql) as Promise<T[]>,
    close() {
      parser.dispose();
      binder.dispose();
      disposeRunners();
      t.cleanup();
    },
  };
}

/** The first released row's numeric cell at `column` (by name), or null. */
export function cell(a: Answer, column: string, where?: (row: JsonValue[]) => boolean): number | null {
  if (!a.rows) return null;
  const i = a.columns.indexOf(column);
  const row = where ? a.rows.find(where) : a.rows[0];
  if (i < 0 || !row || row[i] === null || row[i] === undefined) return null;
  return Number(row[i]);
}

/** Relative miss of an estimate; refusal (null) counts as a miss of 100 %. */
export function miss(estimate: number | null, truth: number): number {
  if (estimate === null || !Number.isFinite(estimate)) return 1;
  return Math.abs(estimate - truth) / Math.abs(truth);
}
