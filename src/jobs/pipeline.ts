import { applyDisclosureControl, applyDp, scanIdentifiers, type CheckReport, type DisclosureResult } from '../disclosure/index.ts';
import { isPdsError, PdsError } from '../errors/index.ts';
import type { ReadResult } from '../store/index.ts';
import {
  analyseQuery, runInSandbox, unitsColumnName,
  type Analysis, type QueryMode, type SandboxLayer, type SandboxLimits, type SqlParser, type SqlPolicy,
} from '../sandbox/index.ts';

/**
 * One query through every layer: static analysis, the runner (engine and process layers) and
 * disclosure control. A refusal is a PdsError whose `extra.layer` names the layer that stopped it.
 */

export interface QueryInput {
  sql: string;
  mode: QueryMode;
  policy: SqlPolicy;
  snapshotFile: string;
  tempDir: string;
  limits: SandboxLimits;
  maxSqlBytes: number;
  disclosure: { minUnits: number; maxRows: number; roundCountsTo?: number; dominance?: { n: number; k: number } };
  /** n of the (n, k) dominance rule: how many top contributors the rewrite measures. */
  dominanceN?: number;
  /** dp mode: contribution bounds and the most groups a unit counts in. */
  dp?: { bounds: Record<string, [number, number]>; maxGroupsPerUnit: number };
  signal?: AbortSignal;
  /** Only the red-team suite switches layers off, one at a time, to show the others hold. */
  layersOff?: ReadonlySet<SandboxLayer>;
}

export interface Evaluation {
  /** `release`: every check passed in a mode that releases at once; `hold`: a person must review it. */
  decision: 'release' | 'hold';
  analysis: Analysis;
  output: DisclosureResult;
}

function atLayer(err: unknown, layer: SandboxLayer): unknown {
  if (!isPdsError(err) || err.extra?.layer) return err;
  return new PdsError(err.code, err.detail, { cause: err.cause, errors: err.errors, extra: { ...err.extra, layer } });
}

const HELD_FOR_REVIEW: CheckReport = {
  check: 'review', params: {}, passed: true,
  effect: 'custom-mode outputs are held until bureau reviewers release them',
};

/** What runs where the data is (the embedded process, or a BullMQ worker): analysis and the runner. */
export interface QueryRun {
  analysis: Analysis;
  result: ReadResult;
}

export async function runQuery(parser: SqlParser, input: Omit<QueryInput, 'disclosure'>): Promise<QueryRun> {
  const off = input.layersOff ?? new Set<SandboxLayer>();
  const unitsColumn = unitsColumnName();
  const analysis: Analysis = off.has('analysis')
    ? { sql: input.sql, mode: input.mode, tables: [], unitsColumn: input.mode === 'aggregate' ? unitsColumn : null }
    : await analyseQuery(parser, input.sql, input.mode, input.policy, { maxSqlBytes: input.maxSqlBytes, unitsColumn, dominanceN: input.dominanceN, dp: input.dp }).catch((err: unknown) => { throw atLayer(err, 'analysis'); });
  const { columns, rows } = await runInSandbox(
    { snapshotFile: input.snapshotFile, tempDir: input.tempDir, sql: analysis.sql, limits: input.limits, engineLayer: !off.has('engine') },
    { signal: input.signal, processLayer: !off.has('process') },
  );
  return { analysis, result: { columns, rows } };
}

/**
 * Disclosure control, where the release is decided and signed (the API process): a worker hands
 * back the raw result, never a verdict.
 */
export function disclose(run: QueryRun, disclosure: QueryInput['disclosure'], layersOff?: ReadonlySet<SandboxLayer>, dp?: { epsilon: number; delta: number }): Evaluation {
  const { analysis, result } = run;
  if (analysis.mode === 'dp') {
    if (!analysis.dp || !dp) throw new PdsError('ERR_DISCLOSURE_REFUSED', 'a dp result without its plan or budget cannot be released', { extra: { layer: 'disclosure' } });
    const noisy = applyDp(result, analysis.dp, dp);
    const { report: identifiers } = scanIdentifiers(noisy.columns, noisy.rows);
    if (!identifiers.passed) throw new PdsError('ERR_DISCLOSURE_REFUSED', `${identifiers.check}: ${identifiers.effect}`, { extra: { layer: 'disclosure', rule: identifiers.check } });
    return {
      decision: 'release', analysis,
      output: { columns: noisy.columns, rows: noisy.rows, checks: [noisy.report, identifiers], cellsSuppressed: 0, decision: 'release', reasons: [], epsilonSpent: noisy.epsilon },
    };
  }
  if (layersOff?.has('disclosure')) {
    return { decision: 'release', analysis, output: { columns: result.columns, rows: result.rows, checks: [], cellsSuppressed: 0, decision: 'release', reasons: [] } };
  }
  if (analysis.mode !== 'aggregate') {
    // custom outputs wait for people, but an identifier in them is refused before anyone sees it
    const { report } = scanIdentifiers(result.columns, result.rows);
    if (!report.passed) throw new PdsError('ERR_DISCLOSURE_REFUSED', `${report.check}: ${report.effect}`, { extra: { layer: 'disclosure', rule: report.check } });
    return { decision: 'hold', analysis, output: { columns: result.columns, rows: result.rows, checks: [report, HELD_FOR_REVIEW], cellsSuppressed: 0, decision: 'hold', reasons: [HELD_FOR_REVIEW.effect] } };
  }
  // fail closed: an aggregate output that cannot show how many units stand behind each row never leaves
  if (!analysis.unitsColumn || !result.columns.some((c) => c.name === analysis.unitsColumn)) {
    throw new PdsError('ERR_DISCLOSURE_REFUSED', 'the result carries no count of privacy units per row, so no row can be shown to describe enough people', { extra: { layer: 'disclosure', rule: 'units-column' } });
  }
  const { dominance, ...rest } = disclosure;
  const output = applyDisclosureControl(result, {
    unitsColumn: analysis.unitsColumn, countColumns: analysis.countColumns, keyColumns: analysis.keyColumns, ...rest,
    dominance: { columns: analysis.dominance ?? [], n: dominance?.n ?? 2, k: dominance?.k ?? 85 },
  });
  if (output.decision === 'refuse') {
    const refusing = output.checks.find((c) => !c.passed && (c.onFail ?? 'refuse') === 'refuse');
    throw new PdsError('ERR_DISCLOSURE_REFUSED', output.reasons.join('; '), { extra: { layer: 'disclosure', rule: refusing?.check ?? 'disclosure' } });
  }
  return { decision: output.decision, analysis, output };
}

export async function evaluateQuery(parser: SqlParser, input: QueryInput): Promise<Evaluation> {
  return disclose(await runQuery(parser, input), input.disclosure, input.layersOff);
}
