import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleModule, moduleBeside } from '../bundle/index.ts';
import { PdsError } from '../errors/index.ts';
import type { ReadResult } from '../duckdb/index.ts';
import {
  confinement,
  packageClosure,
  type Confinement,
  type JobBinds,
  type OsSandboxSetting,
  type OsSandboxStatus,
} from './confine.ts';
import { INSIDE, RESULT_FILE, type RunRequest, type RunResponse } from './protocol.ts';

const fromSource = import.meta.url.endsWith('.ts');
const RUNNER = moduleBeside(import.meta.url, 'runner-process');

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
 * The runner, bundled once per process (src/bundle): every job's fresh runner starts on plain
 * JavaScript without the tsx loader compiling the same modules again (about 0.2 s of CPU a job),
 * and the OS layer can bind exactly that file and DuckDB's packages into an otherwise empty root.
 */
export function runnerModule(): string {
  return bundleModule(RUNNER, 'runner-process');
}

type OsLayer = { confinement: Confinement | null; status: OsSandboxStatus };
/** The OS layer: unset until configured (at the first run, the default `bwrap`). */
let osLayer: OsLayer | undefined;
const provenLayers = new Map<string, OsLayer>();

/**
 * Sets the OS layer up for this process (at start-up: createPlatform, `pds worker`), proving it
 * works; refuses where bubblewrap cannot run unless `off` is asked for explicitly.
 */
export async function configureOsSandbox(setting: OsSandboxSetting): Promise<OsSandboxStatus> {
  // proven once per process and binary (a confined DuckDB start costs about 0.4 s); a failure is not kept
  const key = `${setting}|${process.env.BWRAP ?? ''}`;
  let proven = provenLayers.get(key);
  if (!proven) {
    const file = runnerModule();
    const entry = fileURLToPath(import.meta.resolve('@duckdb/node-api'));
    proven = await confinement(
      setting,
      { files: [file], packages: packageClosure(['@duckdb/node-api'], RUNNER) },
      entry,
    );
    provenLayers.set(key, proven);
  }
  osLayer = proven;
  pool?.close();
  pool = undefined;
  return osLayer.status;
}

/** What the OS layer is in this process (undefined before it is configured). */
export function osSandboxStatus(): OsSandboxStatus | undefined {
  return osLayer?.status;
}

/** The confinement runners start in (tests run code of their own in it, as an engine bug would). */
export async function confinementInUse(): Promise<Confinement | null> {
  if (!osLayer) await configureOsSandbox('bwrap');
  return osLayer!.confinement;
}

interface Launch {
  isolated: boolean;
  /** Inside the OS layer: what to bind at /job. */
  binds?: JobBinds;
}

function spawnRunner({ isolated, binds }: Launch): ChildProcess {
  const file = runnerModule();
  const nodeArgs = ['--max-old-space-size=512'];
  const confined = binds && osLayer?.confinement;
  const limited = isolated && PRLIMIT !== undefined;
  // prlimit sets the limits, then execs bubblewrap (or node) in place: the IPC channel passes through
  const inner = confined
    ? confined.wrap(binds, [process.execPath, ...nodeArgs])
    : { file: process.execPath, args: nodeArgs };
  const limits = [`--data=${processLimits.dataBytes}`, `--fsize=${processLimits.fileSizeBytes}`, '--core=0'];
  const child = fork(file, [], {
    execPath: limited ? PRLIMIT : inner.file,
    execArgv: limited ? [...limits, inner.file, ...inner.args] : inner.args,
    // bubblewrap reads the seccomp filter from stdin
    stdio: [confined ? 'pipe' : 'ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
    // the runner inherits nothing from the API's environment: no secrets, no proxies
    env: isolated ? { PATH: process.env.PATH ?? '' } : { ...process.env },
  });
  if (confined) child.stdin!.end(confined.seccomp ?? undefined);
  return child;
}

/** A spare's directories: `in` (bound read-only at /job/in; the job's snapshot is linked into it) and `work`. */
interface Slot {
  dir: string;
  inDir: string;
  workDir: string;
}

interface Spare {
  child: ChildProcess;
  slot?: Slot;
}

/**
 * Spare runner processes, started ahead so that process start-up and module loading are off a
 * job's critical path. A spare serves exactly one job and exits: every job still gets a fresh
 * process and a fresh DuckDB instance. Inside the OS layer a spare starts with an empty slot bound
 * at /job; the job's snapshot is hard-linked into it when the job comes (a bind mount shows files
 * added later). Spares are unref'd, so they never keep a CLI alive.
 */
class SparePool {
  private spares: Spare[] = [];
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly slotsDir: string,
  ) {}

  /** A spare of the kind asked for (inside the OS layer or not), if one waits. */
  take(confined: boolean): Spare | undefined {
    if (this.closed) return undefined;
    // the replacement starts when this job ends (refill): starting a process now would compete
    // with the job for the same cores
    const i = this.spares.findIndex((s) => (s.slot !== undefined) === confined);
    if (i < 0) return undefined;
    const spare = this.spares.splice(i, 1)[0]!;
    spare.child.ref();
    (spare.child.channel as { ref?: () => void } | undefined)?.ref?.();
    return spare;
  }

  fill(): void {
    while (!this.closed && this.spares.length < this.size) {
      const slot = osLayer?.confinement ? makeSlot(this.slotsDir) : undefined;
      const child = spawnRunner({
        isolated: true,
        ...(slot ? { binds: { inDir: slot.inDir, workDir: slot.workDir } } : {}),
      });
      child.unref();
      (child.channel as { unref?: () => void } | undefined)?.unref?.();
      (child.stderr as { unref?: () => void } | null)?.unref?.();
      const spare: Spare = { child, ...(slot ? { slot } : {}) };
      child.once('exit', () => {
        if (this.spares.includes(spare)) {
          this.spares = this.spares.filter((s) => s !== spare);
          if (slot) fs.rmSync(slot.dir, { recursive: true, force: true });
        }
      });
      this.spares.push(spare);
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.spares) {
      s.child.kill('SIGKILL');
      if (s.slot) fs.rmSync(s.slot.dir, { recursive: true, force: true });
    }
    this.spares = [];
    // the folder goes too once no run holds a slot in it
    try {
      fs.rmdirSync(this.slotsDir);
    } catch {
      /* absent, or a running job's slot is still there */
    }
  }
}

function makeSlot(root: string): Slot {
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(root, 'r-'));
  const slot = { dir, inDir: path.join(dir, 'in'), workDir: path.join(dir, 'work') };
  fs.mkdirSync(slot.inDir, { mode: 0o700 });
  fs.mkdirSync(slot.workDir, { mode: 0o700 });
  return slot;
}

let pool: SparePool | undefined;

export interface WarmOptions {
  limits?: ProcessLimits;
  /**
   * Where spares' slots are made inside the OS layer: on the snapshots' filesystem (a hard link
   * cannot cross filesystems; where it fails, the job gets a freshly started runner instead).
   * Default: a folder of this process under the machine's temp directory.
   */
  slotsDir?: string;
  /**
   * Start the spares now (benchmarks); by default they start when the first job ends, so a process
   * that never runs a job (a CLI command, most API start-ups in tests) never pays for them.
   */
  startNow?: boolean;
}

/** Keeps `size` runner processes ready (default 1) from the first job on. Call `disposeRunners` on shutdown. */
export async function warmRunners(size = 1, opts: WarmOptions = {}): Promise<void> {
  processLimits = opts.limits ?? processLimits;
  await confinementInUse(); // spares start inside the OS layer, never before it is known
  pool?.close();
  pool = new SparePool(size, opts.slotsDir ?? path.join(os.tmpdir(), `pds-runners-${process.pid}`));
  if (opts.startNow) pool.fill();
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
  /** Only the red-team suite switches the OS layer off, to show the other layers hold. */
  osLayer?: boolean;
}

/** A started runner, what it is told, and where its result lands on this side. */
interface Started {
  child: ChildProcess;
  request: RunRequest;
  hostWorkDir: string;
  /** A spare's slot, removed after the run (the job's temp directory is removed anyway). */
  slot?: Slot;
}

async function start(req: RunRequest, isolated: boolean, withOs: boolean): Promise<Started> {
  const confined = withOs ? await confinementInUse() : null;
  if (!confined) {
    // a spare made inside the OS layer never serves a run that asked for it off
    const spare = isolated ? pool?.take(false) : undefined;
    return { child: spare?.child ?? spawnRunner({ isolated }), request: req, hostWorkDir: req.tempDir };
  }
  const inside: RunRequest = { ...req, snapshotFile: INSIDE.snapshot, tempDir: INSIDE.workDir, confined: true };
  const spare = isolated ? pool?.take(true) : undefined;
  if (spare?.slot) {
    try {
      fs.linkSync(req.snapshotFile, path.join(spare.slot.inDir, 'snapshot.duckdb'));
      return { child: spare.child, request: inside, hostWorkDir: spare.slot.workDir, slot: spare.slot };
    } catch {
      // another filesystem (or the snapshot went): a cold start binds the file itself
      spare.child.kill('SIGKILL');
      fs.rmSync(spare.slot.dir, { recursive: true, force: true });
    }
  }
  const child = spawnRunner({ isolated, binds: { snapshotFile: req.snapshotFile, workDir: req.tempDir } });
  return { child, request: inside, hostWorkDir: req.tempDir };
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
  let started: Started | undefined;
  try {
    started = await start(req, isolated, opts.osLayer !== false);
    const { child, request } = started;
    const res = await new Promise<RunResponse>((resolve, reject) => {
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
                // bubblewrap answers 128 + the signal that ended the runner
                code === 134 ||
                code === 137 ||
                code === 139 ||
                code === 153
                ? 'ERR_LIMIT_EXCEEDED'
                : 'ERR_SANDBOX_FAILURE',
              `the runner process ended (${sig ?? `exit ${code}`}) without an answer`,
              { extra: { layer: 'process', stderr: stderr.split('\n').slice(-3).join('\n') } },
            ),
          ),
        ),
      );
      child.send(request);
    });
    if (!res.ok) throw new PdsError(res.code, res.message, { extra: { layer: res.layer ?? 'engine' } });
    // the result is read where this side put the job's directory, never at a path the runner names
    const resultFile = path.join(started.hostWorkDir, RESULT_FILE);
    const size = fs.statSync(resultFile).size;
    if (isolated && size > req.limits.maxResultBytes) {
      throw new PdsError('ERR_LIMIT_EXCEEDED', `the result is larger than ${req.limits.maxResultBytes} bytes`, {
        extra: { layer: 'process' },
      });
    }
    const result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as ReadResult;
    return { ...result, elapsedMs: res.elapsedMs };
  } finally {
    fs.rmSync(req.tempDir, { recursive: true, force: true });
    if (started?.slot) fs.rmSync(started.slot.dir, { recursive: true, force: true });
    if (isolated) pool?.fill();
  }
}
