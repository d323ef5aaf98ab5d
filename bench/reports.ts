/**
 * Reports bench (issue 9): the time to make, render and sign a contract's quarterly risk report
 * (and its operator's) over a busy quarter, against the bare scan of the same rows in the same
 * store (the floor any report must pay). The history is written straight into the control store:
 * N jobs spread over the quarter (70 % released with an output, 20 % refused across the rules,
 * 5 % held, 5 % failed), as many again in the previous quarter for the trend.
 * Usage: npm run bench:reports [-- --jobs N] (default 20000).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SYSTEM_ACTOR } from '../src/audit/index.ts';
import { createServer } from '../src/api/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { seedDomain } from '../src/domain/index.ts';
import { createPlatform } from '../src/platform/index.ts';
import { periodAt, previousPeriod } from '../src/reports/index.ts';
import { percentiles } from './sandbox.ts';
import { contractFor } from './world.ts';

const argJobs = process.argv.indexOf('--jobs');
const JOBS = argJobs > 0 ? Number(process.argv[argJobs + 1]) : 20_000;
const RUNS = 7;
const RULES = [
  'no-table-functions',
  'table-in-snapshot',
  'identifier-only-counted',
  'function-allowlist',
  'one-select',
];

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-bench-reports-'));
try {
  await seedDomain(root, { rows: 2000, seed: 7 });
  const platform = await createPlatform(loadConfig({ DATA_DIR: root, PORT: '0' }), pino({ level: 'silent' }));
  const server = await createServer(platform, pino({ level: 'silent' }));
  const { contractId } = await contractFor(platform, server);
  const offset = platform.policies.workflow.calendar.utcOffset;
  const now = periodAt(new Date(), 'quarter', offset);
  const before = previousPeriod(now, offset);
  const history = async (start: string, end: string, tag: string) => {
    const span = Date.parse(end) - Date.parse(start);
    await platform.store.write(async (tx) => {
      await tx.run(
        `
        INSERT INTO jobs (id, contract_id, operator_org, submitted_by, sql, status, reasons, attempts, created_at)
        SELECT 'job_${tag}' || lpad(i::VARCHAR, 8, '0'), $c, 'org-bench', 'bench', 'SELECT 1',
          CASE WHEN i % 20 < 14 THEN 'released' WHEN i % 20 < 18 THEN 'rejected' WHEN i % 20 = 18 THEN 'held' ELSE 'failed' END,
          CASE WHEN i % 20 BETWEEN 14 AND 17 THEN '[{"code":"ERR_SQL_SHAPE_NOT_ALLOWED","message":"m","layer":"analysis","rule":"' || string_split($rules, ',')[1 + i % 5] || '"}]' ELSE '[]' END,
          1, strftime(make_timestamp(($s + (i * $span) // $n) * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')
        FROM range($n) t(i)`,
        { c: contractId, rules: RULES.join(','), s: Date.parse(start), span, n: JOBS },
      );
      await tx.run(`
        INSERT INTO outputs (id, job_id, contract_id, operator_org, status, columns, row_count, cells_suppressed, checks, sha256, file, created_at)
        SELECT 'out_' || substr(id, 5), id, contract_id, operator_org, status, '[]', 10, (hash(id) % 4)::INTEGER,
          CASE status WHEN 'held' THEN '[{"check":"differencing","params":{},"passed":false,"onFail":"hold","effect":"e"}]' ELSE '[{"check":"min-units","params":{},"passed":true,"effect":"e"}]' END,
          'x', 'x', created_at
        FROM jobs WHERE id LIKE 'job_${tag}%' AND status IN ('released', 'held')`);
    });
  };
  await history(now.start, new Date().toISOString(), 'now');
  await history(before.start, before.end, 'bef');

  const time = async (fn: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await fn();
      ms.push(performance.now() - t);
    }
    return percentiles(ms);
  };
  // the floor: reading the rows a report reads, with nothing computed
  const scan = await time(() =>
    platform.store.all(
      `SELECT j.status, j.reasons, j.created_at, o.checks, o.cells_suppressed FROM jobs j LEFT JOIN outputs o ON o.job_id = j.id
     WHERE j.contract_id = $c AND j.created_at >= $s AND j.created_at < $e`,
      { c: contractId, s: before.start, e: now.end },
    ),
  );
  const contract = await time(() => platform.reports.generate({ kind: 'contract', subject: contractId }, SYSTEM_ACTOR));
  const operator = await time(() =>
    platform.reports.generate({ kind: 'operator', subject: 'org-bench' }, SYSTEM_ACTOR),
  );
  const sample = (await platform.reports.generate({ kind: 'contract', subject: contractId }, SYSTEM_ACTOR))!;
  await server.close();
  await platform.close();
  console.log(
    JSON.stringify(
      {
        bench: 'reports',
        jobsPerQuarter: JOBS,
        runs: RUNS,
        rating: sample.report.rating.level,
        htmlBytes: Buffer.byteLength(sample.html),
        jsonBytes: Buffer.byteLength(JSON.stringify(sample.report)),
        ms: { bareScan: scan, contractReport: contract, operatorReport: operator },
        ratio: { contractReportVsBareScan: Math.round((contract.p50 / scan.p50) * 100) / 100 },
      },
      null,
      2,
    ),
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
