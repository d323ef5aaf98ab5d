import type { ChildProcess } from 'node:child_process';
import type { JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import type { createServer } from '../../api/index.ts';
import { ApiError, must, type Answer, type PdsClient } from '../../client/index.ts';
import type { Config } from '../../config/index.ts';
import type { Platform } from '../../platform/index.ts';
import { ROLE } from '../../terms/index.ts';
import { padCells } from '../table.ts';

export interface DemoOptions {
  dataDir?: string;
  rows: number;
  json: boolean;
  /** Where step lines go (stdout by default). */
  print?: (line: string) => void;
  /** Run the jobs through BullMQ on this Redis, with a separate `pds worker` process. */
  redisUrl?: URL;
  /** After the flow, keep the server up on this port (0: any) and print a console sign-in link per role. */
  serve?: { port: number; host: string };
}

/** What `pds demo --json` prints: machine fields, English keys. */
export interface DemoSummary {
  ok: boolean;
  dataDir: string;
  contractId?: string;
  jobId?: string;
  outputId?: string;
  rowsReleased?: number;
  cellsSuppressed?: number;
  contractVerified?: boolean;
  manifestVerified?: boolean;
  escapeAttemptRefused?: boolean;
  lifecycleChecked?: boolean;
  auditVerified?: boolean;
  auditEntries?: number;
  reportRating?: string;
  reportVerified?: boolean;
  reportFile?: string;
  failedStep?: string;
  elapsedMs: number;
}

/** The demo's people, one per role (two at the bureau: held outputs need two votes). */
export const ORGS = {
  operator: { org: 'org-shuzhi', sub: 'zhang.wei@shuzhi', label: 'operator' },
  provider: { org: 'org-psb', sub: 'li.na@psb', label: 'provider' },
  bureau: { org: 'org-bureau', sub: 'wang.fang@bureau', label: 'bureau' },
  bureau2: { org: 'org-bureau', sub: 'chen.jie@bureau', label: 'bureau' },
  risk: { org: 'org-bureau', sub: 'zhao.lei@risk', label: 'risk' },
} as const;
export type Who = keyof typeof ORGS;

/** A step that did not come out as the flow needs; its message says what, in words. */
export class StepFailed extends Error {}

/** The running server the flow speaks to, once the step that starts it has run. */
export interface DemoWorld {
  platform: Platform;
  server: Awaited<ReturnType<typeof createServer>>;
  base: string;
  api: Record<Who, PdsClient>;
  jwks: JWTVerifyGetKey;
  worker?: ChildProcess;
}

/** What one step leaves for the next ones. */
export interface DemoFlow {
  app?: Answer<'createApplication'>;
  contractId?: string;
  contract?: Answer<'getContract'>;
  outputId?: string;
}

/** Shared by every step of the demo. */
export interface DemoContext {
  opts: DemoOptions;
  dataDir: string;
  /** --data-dir given: the data stays after the demo. */
  keep: boolean;
  config: Config;
  logger: Logger;
  summary: DemoSummary;
  print: (line: string) => void;
  world?: DemoWorld;
  flow: DemoFlow;
  /** The analysis query the operator validates, submits and, suspended, is refused. */
  sql: string;
}

/** One line under a step: who (a role, or a part of the platform), what, and what came of it. */
export function say(ctx: DemoContext, who: string, action: string, result: string, ok = true): void {
  if (ctx.opts.json) return;
  const role = ROLE[who] ?? who;
  ctx.print(`        ${ok ? '✓' : '✗'} ${padCells(role, 12)}  ${padCells(action, 46)}  ${result}`);
}

/** The running server; a step that needs it before it started is a mistake in the list of steps. */
export function worldOf(ctx: DemoContext): DemoWorld {
  if (!ctx.world) throw new StepFailed('API 服务器尚未启动');
  return ctx.world;
}

/** A value an earlier step leaves; missing, that step did not run. */
export function got<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new StepFailed(`前面的步骤没有得到${what}`);
  return value;
}

/** One call through the typed client; a refusal ends the demo with the problem it answered. */
export async function call<T>(
  ctx: DemoContext,
  who: Who,
  what: string,
  request: Promise<{ data?: T; response: Response }>,
): Promise<T> {
  try {
    return await must(request);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    say(ctx, ORGS[who].label, what, `${err.status} ${err.code} ${err.detail}`, false);
    throw new StepFailed(`${what} 被拒绝：${err.code}`);
  }
}

/** A call that must be refused with `code`: the refusal is the step. */
export async function refused(
  ctx: DemoContext,
  who: Who,
  what: string,
  request: Promise<unknown>,
  code: string,
): Promise<ApiError> {
  const err = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof ApiError && err.code === code) return err;
  const got = err instanceof ApiError ? err.code : '成功';
  say(ctx, ORGS[who].label, what, `应为 ${code}，实为 ${got}`, false);
  throw new StepFailed(`${what}：应被拒绝（${code}），实为 ${got}`);
}

/** As a client would: asks every 100 ms until the answer has settled, for at most `seconds`. */
export async function poll<T>(what: string, ask: () => Promise<T>, settled: (t: T) => boolean, seconds: number) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const answer = await ask();
    if (settled(answer)) return answer;
    if (Date.now() > deadline) throw new StepFailed(`${what}在 ${seconds} 秒内没有结果`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The job until it leaves the queue and the sandbox. */
export function waitForJob(ctx: DemoContext, jobId: string) {
  const { api } = worldOf(ctx);
  return poll(
    `作业 ${jobId} `,
    () =>
      call(
        ctx,
        'operator',
        `GET /v1/jobs/${jobId}`,
        api.operator.GET('/v1/jobs/{id}', { params: { path: { id: jobId } } }),
      ),
    (job) => !['queued', 'running'].includes(job.status),
    120,
  );
}

/** The contract until its snapshot is sealed (or its build failed). */
export function waitForContract(ctx: DemoContext, contractId: string) {
  const { api } = worldOf(ctx);
  return poll(
    `合约 ${contractId} 的快照生成`,
    () =>
      call(
        ctx,
        'operator',
        `GET /v1/contracts/${contractId}`,
        api.operator.GET('/v1/contracts/{id}', { params: { path: { id: contractId } } }),
      ),
    (contract) => contract.status !== 'building',
    300,
  );
}
