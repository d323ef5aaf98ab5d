import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PdsError } from '../errors/index.ts';
import type { ReadResult } from '../duckdb/index.ts';
import type { RunRequest, RunResponse } from './protocol.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const RUNNER = path.join(here, fromSource ? 'runner-process.ts' : 'runner-process.js');

/** Node arguments a child process of ours needs: when running from TypeScript sources, the same loader. */
export function loaderArgs(): string[] {
  if (!fromSource) return [];
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  return ['--import', pathToFileURL(path.join(tsxDir, 'dist', 'loader.mjs')).href];
}

export type SandboxResult = ReadResult & { elapsedMs: number };

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => fs.existsSync(p));

/** OS limits on the runner (process layer): writable memory (RLIMIT_DATA; an address-space limit would stop WebAssembly reservations), file size, no core dumps. */
export interface ProcessLimits {
  dataBytes: number;
  fileSizeBytes: number;
}

const DEFAULT_PROCESS_LIMITS: ProcessLimits = { dataBytes: 6 * 2 ** 30, fileSizeBytes: 2 * 2 ** 30 };
let processLimits = DEFAULT_PROCESS_LIMITS;

/**
 * From TypeScript sources, the runner is bundled once per process into one plain ES module under
 * node_modules/.cache (where its external packages resolve), named by its content's hash: every
 * job's fresh runner then starts without the tsx loader compiling the same modules again (about
 * 0.2 s of CPU a job). Where the bundle cannot be written, the loader still works.
 */
let bundledRunner: string | null | undefined;

export function runnerModule(): { file: string; loader: boolean } {
  if (!fromSource) return { file: RUNNER, loader: false };
  bundledRunner ??= bundleRunner();
  return bundledRunner ? { file: bundledRunner, loader: false } : { file: RUNNER, loader: true };
}

function bundleRunner(): string | null {
  try {
    const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
    const out = esbuild.buildSync({
      entryPoints: [RUNNER],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      write: false,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.text;
    const dir = path.resolve(here, '..', '..', 'node_modules', '.cache', 'pubdata-sandbox');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `runner-process-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
    if (!fs.existsSync(file)) {
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, code, { mode: 0o644 });
      fs.renameSync(tmp, file);
    }
    return file;
  } catch {
    return null;
  }
}

function spawnRunner(isolated = true): ChildProcess {
  const runner = runnerModule();
  const nodeArgs = [...(runner.loader ? loaderArgs() : []), '--max-old-space-size=512'];
  const limited = isolated && PRLIMIT !== undefined;
  return fork(runner.file, [], {
    // prlimit sets the limits, then execs node in place: the IPC channel passes through
    execPath: limited ? PRLIMIT : process.execPath,
    execArgv: limited
      ? [
          `--data=${processLimits.dataBytes}`,
          `--fsize=${processLimits.fileSizeBytes}`,
          '--core=0',
          process.execPath,
          ...nodeArgs,
        ]
      : nodeArgs,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
    // the runner inherits nothing from the API's environment: no secrets, no proxies
    env: isolated ? { PATH: process.env.PATH ?? '' } : { ...process.env },
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
    // the replacement starts when this job ends (refill): starting a process now would compete
    // with the job for the same cores
    const child = this.spares.shift() ?? spawnRunner();
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
      child.once('exit', () => {
        this.spares = this.spares.filter((c) => c !== child);
      });
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
export function warmRunners(size = 1, limits: ProcessLimits = processLimits): void {
  processLimits = limits;
  pool?.close();
  pool = new SparePool(size);
  pool.fill();
}

export function disposeRunners(): void {
  pool?.close();
  pool = undefined;
}

/** How long the parent waits past the engine's own interrupt before it kills the process. */
const KILL_GRACE_MS = 1500;

export interface RunOptions {
  signal?: AbortSignal;
  /** Only the red-team suite switches the process layer off, to show the other layers hold. */
  processLayer?: boolean;
}

/**
 * Runs one query in a fresh runner process. The wall-clock limit is enforced from outside with
 * SIGKILL, which interrupts anything, including a query stuck in native code; the result file's
 * size is checked before a byte of it is read into this process.
 */
export async function runInSandbox(req: RunRequest, opts: RunOptions = {}): Promise<SandboxResult> {
  const { signal } = opts;
  const isolated = opts.processLayer !== false;
  fs.mkdirSync(req.tempDir, { recursive: true, mode: 0o700 });
  try {
    const res = await new Promise<RunResponse>((resolve, reject) => {
      const child = isolated && pool ? pool.take() : spawnRunner(isolated);
      let stderr = '';
      let settled = false;
      child.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-2000);
      });
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      // without the process layer only a harness backstop remains, reported as a failure
      const timer = setTimeout(
        () => {
          child.kill('SIGKILL');
          finish(() =>
            reject(
              isolated
                ? new PdsError(
                    'ERR_LIMIT_EXCEEDED',
                    `the job ran longer than its ${req.limits.timeoutMs} ms wall-clock limit`,
                    { extra: { layer: 'process' } },
                  )
                : new PdsError('ERR_SANDBOX_FAILURE', 'harness backstop: nothing stopped the job', {
                    extra: { layer: 'none' },
                  }),
            ),
          );
        },
        isolated ? req.limits.timeoutMs + KILL_GRACE_MS : req.limits.timeoutMs * 5 + 5000,
      );
      const onAbort = () => {
        child.kill('SIGKILL');
        finish(() =>
          reject(
            signal!.reason instanceof Error
              ? signal!.reason
              : new PdsError('ERR_SANDBOX_FAILURE', 'the run was cancelled'),
          ),
        );
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('message', (m: RunResponse | { ready: true }) => {
        if (!('ready' in m)) finish(() => resolve(m));
      });
      child.once('error', (err) =>
        finish(() => reject(new PdsError('ERR_SANDBOX_FAILURE', 'the runner process could not start', { cause: err }))),
      );
      child.once('exit', (code, sig) =>
        finish(() =>
          reject(
            new PdsError(
              sig === 'SIGKILL' ||
                sig === 'SIGXFSZ' ||
                sig === 'SIGSEGV' ||
                sig === 'SIGABRT' ||
                code === 134 ||
                code === 137
                ? 'ERR_LIMIT_EXCEEDED'
                : 'ERR_SANDBOX_FAILURE',
              `the runner process ended (${sig ?? `exit ${code}`}) without an answer`,
              { extra: { layer: 'process', stderr: stderr.split('\n').slice(-3).join('\n') } },
            ),
          ),
        ),
      );
      child.send(req);
    });
    if (!res.ok) throw new PdsError(res.code, res.message, { extra: { layer: 'engine' } });
    const size = fs.statSync(res.resultFile).size;
    if (isolated && size > req.limits.maxResultBytes) {
      throw new PdsError('ERR_LIMIT_EXCEEDED', `the result is larger than ${req.limits.maxResultBytes} bytes`, {
        extra: { layer: 'process' },
      });
    }
    const result = JSON.parse(fs.readFileSync(res.resultFile, 'utf8')) as ReadResult;
    return { ...result, elapsedMs: res.elapsedMs };
  } finally {
    fs.rmSync(req.tempDir, { recursive: true, force: true });
    if (isolated) pool?.fill();
  }
}
