import type { VerifiedContract } from '../contracts/index.ts';
import { buildPtable, thresholds } from '../disclosure/index.ts';
import { isPdsError, PdsError } from '../errors/index.ts';
import { PRIVACY_UNIT_COLUMN, RECORD_KEY_COLUMN, snapshotSchema, UNIT_KEY_COLUMN } from '../masking/index.ts';
import type { Policies } from '../policies/index.ts';
import type { StoredJob } from './job-store.ts';
import {
  analyseQuery,
  functionAllowlist,
  sqlPolicy,
  unitsColumnName,
  type Analysis,
  type PerturbationSpec,
  type BoundColumn,
  type QueryMode,
  type SandboxLayer,
  type SchemaBinder,
  type SqlParser,
  type SqlPolicy,
  RESERVED_PREFIX,
  type Node,
} from '../sandbox/index.ts';

/**
 * The API's plan of one run, made when the job is claimed: the analysis of its SQL (the rewrite
 * the engine runs, the units column, key and count positions, dominance and dp plans) and the
 * columns the result must have. It is stored with the claim and is the only source of the facts
 * disclosure control uses; a worker is handed `sql` and nothing else of it.
 */
export interface RunPlan extends Analysis {
  /** The result's columns and types, bound against the snapshot's schema; null only when the red-team suite switched analysis off. */
  expected: BoundColumn[] | null;
}

/** The columns of a plan's result an operator sees: the engine's own (reserved-prefix) ones left out. */
export function resultColumns(plan: Pick<RunPlan, 'expected'>): { name: string; type: string }[] {
  return (plan.expected ?? [])
    .filter((c) => !c.name.startsWith(RESERVED_PREFIX))
    .map((c) => ({ name: c.name, type: c.type }));
}

export interface PlanInput {
  sql: string;
  mode: QueryMode;
  policy: SqlPolicy;
  /** The snapshot's tables with their column types, and a key naming that schema (its hash). */
  schema: { key: string; tables: Record<string, BoundColumn[]> };
  maxSqlBytes: number;
  /** n of the (n, k) dominance rule: how many top contributors the rewrite measures. */
  dominanceN: number;
  /** dp mode: contribution bounds and the most groups a unit counts in. */
  dp?: { bounds: Record<string, [number, number]>; maxGroupsPerUnit: number; maxRowsPerUnit?: number };
  /** Aggregate mode: how the engine perturbs each count, sum and mean (perturbationSpec). */
  perturbation?: PerturbationSpec;
}

/** The perturbation of aggregate-mode statistics under the policies, keyed by a contract's salt. */
export function perturbationSpec(policies: Pick<Policies, 'disclosure'>, salt: bigint): PerturbationSpec {
  const { perturbation, dominance } = policies.disclosure;
  const table = buildPtable(perturbation.counts.maxNoise, perturbation.counts.variance);
  return {
    salt: (salt & 0x7fffffffffffffffn).toString(),
    counts: table.rows.map((r) => ({ values: r.values, thresholds: thresholds(r) })),
    magnitudes: { fraction: perturbation.magnitudes.fraction, floor: perturbation.magnitudes.floor, topN: dominance.n },
    quantiles: { iqrFraction: perturbation.quantiles.iqrFraction },
    roundCountsTo: policies.disclosure.roundCountsTo,
  };
}

/** Tags a refusal with the layer that made it, unless it already names one. */
export function atLayer(err: unknown, layer: SandboxLayer): unknown {
  if (!isPdsError(err) || err.extra?.layer) return err;
  return new PdsError(err.code, err.detail, { cause: err.cause, errors: err.errors, extra: { ...err.extra, layer } });
}

/** Analyses, rewrites and binds a job's SQL; a refusal is a PdsError at the analysis layer. */
export async function planRun(
  tools: { parser: SqlParser; binder: SchemaBinder },
  input: PlanInput,
  layersOff?: ReadonlySet<SandboxLayer>,
): Promise<RunPlan> {
  // a per-run name: a query that somehow skipped the rewrite cannot forge the column disclosure control trusts
  const unitsColumn = unitsColumnName();
  if (layersOff?.has('analysis')) {
    return {
      sql: input.sql,
      mode: input.mode,
      tables: [],
      unitsColumn: input.mode === 'aggregate' ? unitsColumn : null,
      expected: null,
    };
  }
  try {
    const analysis = await analyseQuery(tools.parser, input.sql, input.mode, input.policy, {
      maxSqlBytes: input.maxSqlBytes,
      unitsColumn,
      dominanceN: input.dominanceN,
      dp: input.dp,
      perturbation: input.perturbation,
      columnTypes: input.schema.tables,
    });
    const expected = await tools.binder.describe(input.schema.key, input.schema.tables, analysis.sql);
    return await withoutHiddenColumns(tools, input, analysis, expected);
  } catch (err) {
    throw atLayer(err, 'analysis');
  }
}

/**
 * A star expands to every column of a table, the hidden keys too: each star of the outer SELECT
 * gets them in its EXCLUDE list (where it expands to them), and only the rewrite's own hidden
 * columns may come out under the reserved prefix; anything else is refused.
 */
async function withoutHiddenColumns(
  tools: { parser: SqlParser; binder: SchemaBinder },
  input: PlanInput,
  analysis: Analysis,
  expected: BoundColumn[],
): Promise<RunPlan> {
  const own = new Set([
    ...(analysis.unitsColumn ? [analysis.unitsColumn] : []),
    ...(analysis.dominance ?? []).flatMap((d) => [d.total, d.top]),
    ...(analysis.signature ? Object.values(analysis.signature) : []),
  ]);
  const hiddenIn = (cols: BoundColumn[]) =>
    [...new Set(cols.map((c) => c.name))].filter((n) => n.toLowerCase().startsWith(RESERVED_PREFIX) && !own.has(n));
  const hidden = hiddenIn(expected);
  if (hidden.length === 0) return { ...analysis, expected };
  const { statements } = await tools.parser.parse(analysis.sql);
  const stmt = statements[0]!;
  const selects = (n: Node): Node[] =>
    n.type === 'SET_OPERATION_NODE' ? [...selects(n.left as Node), ...selects(n.right as Node)] : [n];
  const stars = selects(stmt.node as Node).flatMap((s) =>
    ((s.select_list as Node[] | undefined) ?? []).filter((i) => i.class === 'STAR' && !i.columns && !i.expr),
  );
  let sql = analysis.sql;
  let bound = expected;
  for (const star of stars) {
    for (const name of hidden) {
      const before = [...((star.exclude_list as string[] | undefined) ?? [])];
      star.exclude_list = [...before, name];
      const candidate = await tools.parser.deserialize([stmt]);
      try {
        bound = await tools.binder.describe(input.schema.key, input.schema.tables, candidate);
        sql = candidate;
      } catch {
        star.exclude_list = before; // this star does not expand to that column
      }
    }
  }
  const left = hiddenIn(bound);
  if (left.length > 0) {
    throw new PdsError(
      'ERR_SQL_SHAPE_NOT_ALLOWED',
      `the result would carry the hidden column ${left[0]}: name the columns you need`,
      { extra: { rule: 'reserved-names' } },
    );
  }
  return { ...analysis, sql, expected: bound };
}

/** What a contract's snapshot is, as far as planning needs it (its claims, or a test's stand-in). */
export type SnapshotTerms = Pick<VerifiedContract, 'mode' | 'datasets'> & {
  snapshot: {
    tables: Record<
      string,
      { columns: string[]; rows: number; units?: number; nonNull?: string[]; uniqueWith?: string[][] }
    >;
    recordKeys?: boolean;
    unitKeys?: boolean;
  };
};

/**
 * The SQL policy a contract's jobs are analysed under: its snapshot's tables, its pseudonymized
 * and generalized columns, the catalog's dp-only columns (outside dp mode), the record-key column.
 */
export function contractSqlPolicy(policies: Pick<Policies, 'sqlAllowlist' | 'catalog'>, c: SnapshotTerms): SqlPolicy {
  const { version: _v, ...functions } = policies.sqlAllowlist;
  const tables = c.snapshot.tables;
  const granted = c.datasets.flatMap((ds) => ds.columns);
  return sqlPolicy(
    Object.fromEntries(Object.entries(tables).map(([t, v]) => [t, v.columns])),
    granted.filter((g) => g.rule === 'pseudonymize').map((g) => g.column),
    PRIVACY_UNIT_COLUMN,
    functionAllowlist({ version: 1, ...functions }),
    Object.entries(tables)
      .filter(([, v]) => v.units === v.rows)
      .map(([t]) => t),
    {
      generalized: granted.filter((g) => /^(generalize|rare-to-other)/.test(g.rule)).map((g) => g.column),
      noised: granted.filter((g) => g.rule.startsWith('noise')).map((g) => g.column),
      nonNull: Object.fromEntries(Object.entries(tables).map(([t, v]) => [t, v.nonNull ?? []])),
      uniqueWith: Object.fromEntries(
        Object.entries(tables).flatMap(([t, v]) => (v.uniqueWith ? [[t, v.uniqueWith]] : [])),
      ),
      unitAliases: Object.fromEntries(
        c.datasets.map((ds) => [
          ds.dataset,
          ds.columns.filter((g) => g.column === ds.privacyUnit && g.rule === 'pseudonymize').map((g) => g.column),
        ]),
      ),
      dpOnly:
        c.mode === 'dp'
          ? []
          : c.datasets.flatMap((ds) =>
              Object.entries(policies.catalog.datasets[ds.dataset]?.columns ?? {})
                .filter(([, col]) => col.dpOnly)
                .map(([name]) => name),
            ),
      unitKinds: Object.fromEntries(c.datasets.map((ds) => [ds.dataset, ds.privacyUnit])),
      // a code list is the column's values only while the contract keeps the column as it is
      publicCodes: Object.fromEntries(
        c.datasets.flatMap((ds) =>
          ds.columns.flatMap((g) => {
            const codes = policies.catalog.datasets[ds.dataset]?.columns[g.column]?.codes;
            return codes && g.rule === 'keep' ? [[`${ds.dataset}.${g.column}`, codes]] : [];
          }),
        ),
      ),
      dpOnlyTables:
        c.mode === 'dp'
          ? []
          : c.datasets.filter((ds) => policies.catalog.datasets[ds.dataset]?.sensitiveFacts).map((ds) => ds.dataset),
      // cells are keyed by the domain-wide unit keys where the snapshot has them (one hidden column
      // serves the noise and the differencing signature); older snapshots by their record keys
      ...(c.snapshot.unitKeys
        ? { recordKey: UNIT_KEY_COLUMN, unitKey: UNIT_KEY_COLUMN }
        : c.snapshot.recordKeys
          ? { recordKey: RECORD_KEY_COLUMN }
          : {}),
    },
  );
}

/** The tables, columns and types a contract's snapshot has, hidden record keys included, for binding. */
export async function contractSchema(
  policies: Pick<Policies, 'catalog'>,
  c: SnapshotTerms,
): Promise<Record<string, BoundColumn[]>> {
  const masked = await snapshotSchema(c.datasets, policies.catalog);
  const hidden: BoundColumn[] = [
    ...(c.snapshot.unitKeys ? [{ name: UNIT_KEY_COLUMN, type: 'INTEGER' }] : []),
    ...(c.snapshot.recordKeys ? [{ name: RECORD_KEY_COLUMN, type: 'BIGINT' }] : []),
  ];
  return Object.fromEntries(Object.entries(masked).map(([t, cols]) => [t, [...cols, ...hidden]]));
}

/** Plans the runs of stored jobs under their contracts: the SQL policy, the snapshot's schema (cached by snapshot hash), the policies' parameters. */
/**
 * A column the binder cannot find is one the contract does not grant: said so, with what it does
 * grant, instead of DuckDB's "Referenced column … not found in FROM clause!".
 */
function inContractWords(err: unknown, contractId: string, claims: VerifiedContract): unknown {
  if (!isPdsError(err, 'ERR_SQL_INVALID')) return err;
  const missing = /Referenced column "([^"]+)" not found/.exec(err.detail)?.[1];
  if (!missing) return err;
  const granted = claims.datasets.map((d) => `${d.dataset}: ${d.columns.map((c) => c.column).join(', ')}`).join('; ');
  return new PdsError('ERR_SQL_INVALID', `column ${missing} is not in contract ${contractId} (granted: ${granted})`, {
    cause: err,
    extra: { ...err.extra },
  });
}

/** Plans kept in memory (each a few kilobytes). */
const PLAN_CACHE_SIZE = 500;

export class RunPlanner {
  /** Snapshot schemas (tables, columns, types) by snapshot hash, for binding. */
  private readonly schemas = new Map<string, Record<string, BoundColumn[]>>();

  constructor(
    private readonly deps: {
      parser: SqlParser;
      binder: SchemaBinder;
      policies: Policies;
      /** The per-contract key of the record-key hash (from the domain master key). */
      cellKeySalt: (contractId: string) => bigint;
    },
  ) {}

  private async schemaOf(claims: VerifiedContract): Promise<Record<string, BoundColumn[]>> {
    const known = this.schemas.get(claims.snapshot.hash);
    if (known) return known;
    const schema = await contractSchema(this.deps.policies, claims);
    if (this.schemas.size > 1000) this.schemas.clear();
    this.schemas.set(claims.snapshot.hash, schema);
    return schema;
  }

  /**
   * Plans by contract, snapshot and text: the same query on the same contract (a validate then its
   * submission, a job run again, a dashboard's refresh) is parsed, bound and rewritten once. A plan
   * is a function of these alone (the policies are fixed for the process's life), it is never
   * shared across contracts, and only plans that succeeded are kept.
   */
  private readonly plans = new Map<string, RunPlan>();

  async plan(job: Pick<StoredJob, 'sql' | 'dp' | 'contractId'>, claims: VerifiedContract): Promise<RunPlan> {
    const key = `${job.contractId}\0${claims.snapshot.hash}\0${job.dp ? JSON.stringify(job.dp) : ''}\0${job.sql}`;
    const known = this.plans.get(key);
    if (known) {
      // least recently used goes first
      this.plans.delete(key);
      this.plans.set(key, known);
      return known;
    }
    let plan: RunPlan;
    try {
      plan = await this.planOnce(job, claims);
    } catch (err) {
      throw inContractWords(err, job.contractId, claims);
    }
    this.plans.set(key, plan);
    if (this.plans.size > PLAN_CACHE_SIZE) this.plans.delete(this.plans.keys().next().value!);
    return plan;
  }

  private async planOnce(
    job: Pick<StoredJob, 'sql' | 'dp' | 'contractId'>,
    claims: VerifiedContract,
  ): Promise<RunPlan> {
    const { policies } = this.deps;
    const policy = contractSqlPolicy(policies, claims);
    return planRun(
      { parser: this.deps.parser, binder: this.deps.binder },
      {
        sql: job.sql,
        mode: claims.mode,
        policy,
        schema: { key: claims.snapshot.hash, tables: await this.schemaOf(claims) },
        maxSqlBytes: policies.sandbox.limits.maxSqlBytes,
        dominanceN: policies.disclosure.dominance.n,
        ...(claims.mode === 'dp'
          ? {
              dp: {
                bounds: job.dp?.bounds ?? {},
                maxGroupsPerUnit: job.dp?.maxGroupsPerUnit ?? policies.disclosure.dp.maxGroupsPerUnit,
                maxRowsPerUnit: job.dp?.maxRowsPerUnit ?? policies.disclosure.dp.maxRowsPerUnit ?? 1,
              },
            }
          : {}),
        ...(claims.mode === 'aggregate'
          ? { perturbation: perturbationSpec(policies, this.deps.cellKeySalt(job.contractId)) }
          : {}),
      },
    );
  }
}
