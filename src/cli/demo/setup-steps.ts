/** The demo's first steps: its data, the sandbox's OS layer, the server, and with --redis a worker. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet } from 'jose';
import { createServer } from '../../api/index.ts';
import { issueToken, type UserRole } from '../../auth/index.ts';
import { createPdsClient, type PdsClient } from '../../client/index.ts';
import { domainPath, seedDomain } from '../../domain/index.ts';
import { isPdsError } from '../../errors/index.ts';
import { createPlatform, type Platform } from '../../platform/index.ts';
import { configureOsSandbox, loaderArgs } from '../../sandbox/index.ts';
import { ERROR_ZH } from '../../terms/index.ts';
import { ORGS, say, worldOf, type DemoContext, type DemoWorld, type Who } from './context.ts';
import type { DemoStep } from './step.ts';

export const seedStep: DemoStep = {
  name: '生成合成公共数据',
  when: (ctx) => !fs.existsSync(domainPath(ctx.dataDir)),
  async run(ctx) {
    const versions = await seedDomain(ctx.dataDir, { rows: ctx.opts.rows, seed: 20261123 });
    const tables = Object.values(versions).map((v) => `${v.dataset} ${v.rows} 行`);
    say(ctx, '平台', 'pds seed', tables.join('，'));
  },
};

// the demo runs on synthetic data, so on a machine without bubblewrap it goes on without the OS
// layer — saying so here, in /healthz and in its risk report; `pds serve` would refuse instead
export const osSandboxStep: DemoStep = {
  name: '检查操作系统沙箱（bubblewrap）',
  when: (ctx) => ctx.config.sandboxOs === 'bwrap' && !process.env.SANDBOX_OS,
  async run(ctx) {
    try {
      await configureOsSandbox('bwrap');
      say(ctx, '沙箱', 'bubblewrap', '可用');
    } catch (err) {
      if (!isPdsError(err, 'ERR_SANDBOX_OS_UNAVAILABLE')) throw err;
      ctx.config.sandboxOs = 'off';
      say(ctx, '沙箱', 'bubblewrap', `本次演示不启用：${ERROR_ZH.ERR_SANDBOX_OS_UNAVAILABLE}`);
    }
  },
};

/** The clients of the demo's people, each with a token of its role from the embedded issuer. */
async function clientsOf(platform: Platform, base: string): Promise<Record<Who, PdsClient>> {
  const clients = await Promise.all(
    Object.entries(ORGS).map(async ([who, v]) => {
      const token = await issueToken(platform.keys, { sub: v.sub, org: v.org, roles: [v.label as UserRole] });
      return [who, createPdsClient({ baseUrl: base, token })] as const;
    }),
  );
  return Object.fromEntries(clients) as Record<Who, PdsClient>;
}

export const serverStep: DemoStep = {
  name: '启动平台与 API 服务器',
  async run(ctx) {
    const platform = await createPlatform(ctx.config, ctx.logger);
    let server: DemoWorld['server'] | undefined;
    try {
      server = await createServer(platform, ctx.logger);
      await server.listen({ port: ctx.opts.serve?.port ?? 0, host: ctx.opts.serve?.host ?? '127.0.0.1' });
      const address = server.server.address();
      const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const api = await clientsOf(platform, base);
      ctx.world = { platform, server, base, api, jwks: createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`)) };
      say(
        ctx,
        '平台',
        `pds serve（${ctx.config.redisUrl ? 'BullMQ' : '内置执行器'}）`,
        `${base}，五名演示用户各有令牌`,
      );
    } catch (err) {
      // not yet the world's, so the demo's cleanup would not close them
      await server?.close();
      await platform.close();
      throw err;
    }
  },
};

/** A `pds worker` child process for `--redis`; resolves once it takes jobs. */
async function startWorkerProcess(ctx: DemoContext, api: string, credential: string): Promise<ChildProcess> {
  const main = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../main.ts' : '../main.js', import.meta.url));
  const env = {
    ...process.env,
    REDIS_URL: ctx.opts.redisUrl!.toString(),
    QUEUE_PREFIX: ctx.config.queuePrefix,
    LOG_LEVEL: 'info',
    PDS_WORKER_TOKEN: credential,
    SANDBOX_OS: ctx.config.sandboxOs,
  };
  const args = [...loaderArgs(), main, 'worker', '--data-dir', ctx.dataDir, '--api', api, '--concurrency', '2'];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`pds worker did not start in 30 s: ${out.slice(-500)}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('worker ready')) {
        clearTimeout(timer);
        child.stdout!.resume();
        resolve(child);
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pds worker exited (${String(code)}): ${out.slice(-500)}`));
    });
  });
}

export const workerStep: DemoStep = {
  name: '登记并启动工作节点（BullMQ，独立进程）',
  when: (ctx) => ctx.opts.redisUrl !== undefined,
  async run(ctx) {
    const world = worldOf(ctx);
    // the bureau registers the worker: it signs in with its own credential, never a shared role
    const { worker: registered, credential } = await world.platform.workers.register(
      { sub: ORGS.bureau.sub, org: ORGS.bureau.org, roles: ['bureau'] },
      { name: 'demo worker', ttlDays: 1 },
    );
    world.worker = await startWorkerProcess(ctx, world.base, credential);
    say(
      ctx,
      '工作节点',
      'pds worker',
      `${registered.id} 已就绪，进程 ${String(world.worker.pid)}，队列 ${ctx.config.queuePrefix}:pds-jobs（${ctx.opts.redisUrl!.host}）`,
    );
  },
};
