import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { issueLoginLink } from '../../console/index.ts';
import { loadConfig } from '../../config/index.ts';
import type { UserRole } from '../../auth/index.ts';
import { ORGS, StepFailed, type DemoContext, type DemoOptions, type DemoSummary } from './context.ts';
import { DEMO_STEPS, type DemoStep } from './steps.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} 秒`;

function demoContext(opts: DemoOptions): DemoContext {
  const dataDir = path.resolve(opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pds-demo-')));
  const config = loadConfig({
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: opts.redisUrl?.toString() ?? '',
    RECONCILE_MS: '1000',
    // a demo's own queue, so it never meets another domain's jobs on a shared Redis
    QUEUE_PREFIX: `pds-demo-${process.pid}`,
    AUTH_JWKS_URL: '',
    AUTH_ISSUER: '',
    AUTH_AUDIENCE: '',
  });
  return {
    opts,
    dataDir,
    keep: opts.dataDir !== undefined,
    config,
    logger: pino({ level: 'warn' }, pino.destination(2)),
    summary: { ok: false, dataDir, elapsedMs: 0 },
    print: opts.print ?? ((line: string) => console.log(line)),
    flow: {},
    sql: `SELECT district, education, count(*) AS people, round(avg(income), 0) AS avg_income
FROM population WHERE income > 0 GROUP BY district, education ORDER BY district, education`,
  };
}

/**
 * Runs the steps that apply, in order, each under its title `[i/n] 名称` and with its time; the
 * first that fails ends the run, and the summary names it.
 */
export async function runSteps(ctx: DemoContext, steps: DemoStep[]): Promise<void> {
  const due = steps.filter((s) => s.when?.(ctx) ?? true);
  const width = String(due.length).length;
  for (const [i, step] of due.entries()) {
    const title = `[${String(i + 1).padStart(width)}/${due.length}] ${step.name}`;
    if (!ctx.opts.json) ctx.print(`${title}…`);
    const started = performance.now();
    try {
      await step.run(ctx);
    } catch (err) {
      const why = err instanceof StepFailed ? err.message : String((err as Error).stack ?? err);
      ctx.summary.failedStep = `${step.name}：${why}`;
      if (!ctx.opts.json) ctx.print(`✗ ${title} 失败：${why}`);
      return;
    }
    if (!ctx.opts.json) ctx.print(`        用时 ${seconds(performance.now() - started)}`);
  }
  const s = ctx.summary;
  s.ok = Boolean(
    s.contractVerified &&
    s.manifestVerified &&
    s.escapeAttemptRefused &&
    s.lifecycleChecked &&
    s.auditVerified &&
    s.reportVerified,
  );
}

/** The summary: JSON with --json, else DEMO PASSED or DEMO FAILED and each field. */
function printSummary(ctx: DemoContext, elapsedMs: number): void {
  const { summary, print } = ctx;
  summary.elapsedMs = Math.round(elapsedMs);
  if (ctx.opts.json) return print(JSON.stringify(summary, null, 2));
  print('');
  print(`${summary.ok ? 'DEMO PASSED（演示通过）' : 'DEMO FAILED（演示失败）'}，用时 ${seconds(summary.elapsedMs)}`);
  for (const [k, v] of Object.entries(summary))
    if (!['ok', 'elapsedMs'].includes(k)) print(`  ${k.padEnd(20)} ${String(v)}`);
  if (!ctx.keep)
    print(
      ctx.opts.serve && summary.ok
        ? '  （临时数据：服务器停止时删除；加 --data-dir DIR 可保留）'
        : '  （临时数据已删除；加 --data-dir DIR 可保留）',
    );
}

/** `pds demo --serve`: the console's sign-in links, one per demo user, then wait for Ctrl-C. */
async function keepServing(ctx: DemoContext): Promise<void> {
  const { base, platform } = ctx.world!;
  ctx.print('');
  ctx.print(`Web 控制台：${base}/console/（以下登录链接各可使用一次，一小时内有效）`);
  for (const [who, v] of Object.entries(ORGS)) {
    const role = v.label as UserRole;
    const link = await issueLoginLink(platform.keys, { sub: v.sub, org: v.org, role, ttlSeconds: 3600 });
    ctx.print(`  ${who.padEnd(9)} ${base}/console/login?link=${link}`);
  }
  ctx.print('更多链接：pds login-link --data-dir DIR --role R --org O --sub S；按 Ctrl-C 停止服务器');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/** Stops what the steps started: the worker process, the server, the platform; the data unless kept. */
async function closeDemo(ctx: DemoContext): Promise<void> {
  const worker = ctx.world?.worker;
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGTERM');
    await exited;
  }
  await ctx.world?.server.close();
  await ctx.world?.platform.close();
  if (!ctx.keep) fs.rmSync(ctx.dataDir, { recursive: true, force: true });
}

/** `pds demo`: the steps of DEMO_STEPS, then the summary (and with --serve, the server stays up). */
export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const ctx = demoContext(opts);
  let printed = false;
  try {
    await runSteps(ctx, DEMO_STEPS);
    if (opts.serve && ctx.summary.ok) {
      printSummary(ctx, performance.now() - started);
      printed = true;
      await keepServing(ctx);
    }
  } finally {
    await closeDemo(ctx);
  }
  if (!printed) printSummary(ctx, performance.now() - started);
  return ctx.summary;
}
