import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PdsError } from '../errors/index.ts';
import type { RunRequest, RunResponse } from './protocol.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const RUNNER = path.join(here, fromSource ? 'runner-process.ts' : 'runner-process.js');

/** When running from TypeScript sources the child needs the same loader. */
function loaderArgs(): string[] {
  if (!fromSource) return [];
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  return ['--import', pathToFileURL(path.join(tsxDir, 'dist', 'loader.mjs')).href];
}

export type SandboxResult = Extract<RunResponse, { ok: true }>;

function spawnRunner(): ChildProcess {
  return fork(RUNNER, [], {
    execArgv: [...loaderArgs(), '--max-old-space-size=512'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
    // the runner inherits nothing from the API's environment: no secrets, no proxies
    env: { PATH: process.env.PATH ?? '' },
  });
}

/**
 * Spare runner processes, started ahead so that process start-up and module loading are off a
 * job's critical path. A spare serves exactly one job and exits: every job still gets a fresh
 * process and a fresh DuckDB instance. Spares are unref'd, so they never keep a CLI alive.
 */
class SparePool {
  private spares: ChildProcess[] = [];
  private closed = false;

  constructor(private readonly size: number) {}

  take(): ChildProcess {
    if (this.closed) return spawnRunner();
    const child = this.spares.shift() ?? spawnRunner();
    this.fill();
    child.ref();
    (child.channel as { ref?: () => void } | undefined)?.ref?.();
    return child;
  }

  fill(): void {
    while (!this.closed && this.spares.length < this.size) {
      const child = spawnRunner();
      child.unref();
      (child.channel as { unref?: () => void } | undefined)?.unref?.();
      (child.stderr as { unref?: () => void } | null)?.unref?.();
      child.once('exit', () => { this.spares = this.spares.filter((c) => c !== child); });
      this.spares.push(child);
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.spares) c.kill('SIGKILL');
    this.spares = [];
  }
}

let pool: SparePool | undefined;

/** Keeps `size` runner processes ready (default 1). Call `disposeRunners` on shutdown. */
export function warmRunners(size = 1): void {
  pool?.close();
  pool = new SparePool(size);
  pool.fill();
}

export function disposeRunners(): void {
  pool?.close();
  pool = undefined;
}

/**
 * Runs one query in a fresh runner process. The wall-clock limit is enforced from outside with
 * SIGKILL, which interrupts anything, including a query stuck in native code.
 */
export async function runInSandbox(req: RunRequest, signal?: AbortSignal): Promise<SandboxResult> {
  fs.mkdirSync(req.tempDir, { recursive: true, mode: 0o700 });
  try {
    const res = await new Promise<RunResponse>((resolve, reject) => {
      const child = pool ? pool.take() : spawnRunner();
      let stderr = '';
      let settled = false;
      child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(() => reject(new PdsError('ERR_LIMIT_EXCEEDED', `the job ran longer than its ${req.limits.timeoutMs} ms wall-clock limit`)));
      }, req.limits.timeoutMs);
      const onAbort = () => {
        child.kill('SIGKILL');
        finish(() => reject(signal!.reason instanceof Error ? signal!.reason : new PdsError('ERR_SANDBOX_FAILURE', 'the run was cancelled')));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('message', (m: RunResponse | { ready: true }) => { if (!('ready' in m)) finish(() => resolve(m)); });
      child.once('error', (err) => finish(() => reject(new PdsError('ERR_SANDBOX_FAILURE', 'the runner process could not start', { cause: err }))));
      child.once('exit', (code, sig) => finish(() => reject(new PdsError(
        sig === 'SIGKILL' || code === 134 || code === 137 ? 'ERR_LIMIT_EXCEEDED' : 'ERR_SANDBOX_FAILURE',
        `the runner process ended (${sig ?? `exit ${code}`}) without an answer`,
        { extra: { stderr: stderr.split('\n').slice(-3).join('\n') } },
      ))));
      child.send(req);
    });
    if (!res.ok) throw new PdsError(res.code, res.message);
    return res;
  } finally {
    fs.rmSync(req.tempDir, { recursive: true, force: true });
  }
}
