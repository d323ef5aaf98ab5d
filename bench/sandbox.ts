import path from 'node:path';
import { releaseTerms } from '../src/jobs/index.ts';
import { evaluateQuery } from '../test/support/evaluate.ts';
import { PRIVACY_UNIT_COLUMN } from '../src/masking/index.ts';
import type { Policies } from '../src/policies/index.ts';
import {
  analyseQuery,
  functionAllowlist,
  SchemaBinder,
  SqlParser,
  sqlPolicy,
  unitsColumnName,
  type BoundColumn,
  type SqlPolicy,
} from '../src/sandbox/index.ts';
import { openInstance, queryRows, withConnection } from '../src/store/index.ts';

/**
 * Sandbox overhead (issue 6): the whole sandbox path (analysis and rewrite, a fresh locked-down
 * runner process, disclosure control) against the same query on the same snapshot in a plain
 * DuckDB connection opened once, in the same run, alternating so drift hits both alike. Two
 * baselines: the operator's query as written, and the rewritten query with its unit counts (the
 * difference between them is the price of counting people; the rest is isolation).
 */

export interface Timing {
  p50: number;
  p95: number;
  min: number;
  max: number;
}

export function percentiles(ms: number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { p50: r(at(0.5)), p95: r(at(0.95)), min: r(s[0]!), max: r(s.at(-1)!) };
}

async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export interface SandboxCase {
  snapshotFile: string;
  tables: Record<string, string[]>;
  /** The snapshot's columns with their types (snapshotSchema), for binding. */
  schema: Record<string, BoundColumn[]>;
  /** Tables with one row per unit (from the snapshot). */
  uniqueUnitTables: string[];
  sql: string;
  runs: number;
  tmpDir: string;
}

export async function benchSandbox(policies: Policies, c: SandboxCase) {
  const policy: SqlPolicy = sqlPolicy(
    c.tables,
    [],
    PRIVACY_UNIT_COLUMN,
    functionAllowlist(policies.sqlAllowlist),
    c.uniqueUnitTables,
  );
  const limits = policies.sandbox.limits;
  const parser = await SqlParser.create();
  const binder = await SchemaBinder.create();
  const terms = releaseTerms({ disclosure: { minUnits: 10, maxRows: 10_000 }, privacyBudget: null }, policies);
  const rewritten = (
    await analyseQuery(parser, c.sql, 'aggregate', policy, {
      unitsColumn: unitsColumnName(),
      dominanceN: policies.disclosure.dominance.n,
    })
  ).sql;
  const plain = await openInstance(c.snapshotFile, {
    access_mode: 'READ_ONLY',
    threads: String(limits.threads),
    memory_limit: limits.memoryLimit,
  });
  const sandbox: number[] = [];
  const asWritten: number[] = [];
  const asRewritten: number[] = [];
  try {
    await withConnection(plain, async (conn) => {
      await queryRows(conn, c.sql); // warm the plain connection's cache, as a long-lived session would be
      for (let i = 0; i < c.runs; i++) {
        sandbox.push(
          await time(() =>
            evaluateQuery(
              { parser, binder },
              {
                sql: c.sql,
                mode: 'aggregate',
                policy,
                schema: { key: c.snapshotFile, tables: c.schema },
                dominanceN: policies.disclosure.dominance.n,
                dataDir: path.dirname(path.dirname(c.snapshotFile)),
                snapshotFile: path.basename(c.snapshotFile),
                tmpDir: path.join(c.tmpDir, `run-${i}`),
                limits,
                maxSqlBytes: limits.maxSqlBytes,
                terms,
              },
            ),
          ),
        );
        asWritten.push(await time(() => queryRows(conn, c.sql)));
        asRewritten.push(await time(() => queryRows(conn, rewritten)));
        await new Promise((r) => setTimeout(r, 300)); // jobs arrive apart; the spare runner is replaced meanwhile
      }
    });
  } finally {
    plain.closeSync();
    parser.dispose();
    binder.dispose();
  }
  const sb = percentiles(sandbox);
  const w = percentiles(asWritten);
  const rw = percentiles(asRewritten);
  return {
    sql: c.sql,
    runs: c.runs,
    sandboxMs: sb,
    plainAsWrittenMs: w,
    plainRewrittenMs: rw,
    addedMsP50: Math.round(sb.p50 - w.p50),
    ratioToAsWritten: +(sb.p50 / w.p50).toFixed(2),
    ratioToRewritten: +(sb.p50 / rw.p50).toFixed(2),
  };
}
