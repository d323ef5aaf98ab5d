import { isPdsError, PdsError } from '../errors/index.ts';
import {
  analyseQuery,
  unitsColumnName,
  type Analysis,
  type BoundColumn,
  type QueryMode,
  type SandboxLayer,
  type SchemaBinder,
  type SqlParser,
  type SqlPolicy,
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
  dp?: { bounds: Record<string, [number, number]>; maxGroupsPerUnit: number };
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
    });
    const expected = await tools.binder.describe(input.schema.key, input.schema.tables, analysis.sql);
    return { ...analysis, expected };
  } catch (err) {
    throw atLayer(err, 'analysis');
  }
}
