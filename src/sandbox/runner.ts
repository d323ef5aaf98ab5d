import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
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
import { INSIDE, RESULT_FILE, type RunRequest, type RunResponse, type RunnerNotice } from './protocol.ts';

const fromSource = import.meta.url.endsWith('.ts');
const RUNNER = moduleBeside(import.meta.url, 'runner-process');

/** Node arguments a child process of ours needs: when running from TypeScript sources, the same loader. */
export function loaderArgs(): string[] {
  if (!fromSource) return [];
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  return ['--import', pathToFileURL(path.join(tsxDir, 'dist', 'loader.mjs')).href];
}

/**
 * A run's rows, its time in the engine, the runner process that ran it (for the logs and the tests
 * of reuse) and the tables its instance had read before the job came (warm-up.ts).
 */
export type SandboxResult = ReadResult & { elapsedMs: number; runnerPid: number | undefined; warm: string[] };

/** `warmed` (pid, tables): a parked runner read the last job's tables into its next instance. */
export const runnerEvents = new EventEmitter();

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
  /** Parked: the snapshot (host path) of the contract whose jobs it has run, the only ones it may run. */
  key?: string;
  idle?: NodeJS.Timeout;
  /** Its exit is watched while parked (set once: a runner is parked again and again). */
  watched?: boolean;
}

/** A parked runner is killed after this long without a job (its slot's link to the snapshot goes with it). */
const PARKED_IDLE_MS = 30_000;
/** At most this many parked runners (each holds a DuckDB in memory); the longest idle goes first. */
const MAX_PARKED = 4;

/**
 * Spare runner processes, started ahead so that process start-up and module loading are off a
 * job's critical path, and runners parked after a job for the same contract's next one (loading
 * DuckDB costs a process ~0.4 CPU-s; a fresh DuckDB instance, which every job still gets, ~30 ms).
 * Inside the OS layer a spare starts with an empty slot bound at /job; the job's snapshot is
 * hard-linked into it when the job comes (a bind mount shows files added later), and it stays
 * there while the runner is parked: the runner can only ever see that one snapshot. Spares and
 * parked runners are unref'd, so they never keep a CLI alive (docs/architecture.md §11).
 */
class SparePool {
  private spares: Spare[] = [];
  private parked: Spare[] = [];
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

  /** A runner parked after a job on the same snapshot (the same contract), if one waits. */
  takeParked(key: string, confined: boolean): Spare | undefined {
    if (this.closed) return undefined;
    const i = this.parked.findIndex((s) => s.key === key && (s.slot !== undefined) === confined);
    if (i < 0) return undefined;
    const spare = this.parked.splice(i, 1)[0]!;
    clearTimeout(spare.idle);
    spare.child.ref();
    (spare.child.channel as { ref?: () => void } | undefined)?.ref?.();
    return spare;
  }

  /**
   * Keeps a runner that answered its job for the next job on the same snapshot: its work directory
   * is emptied first (nothing of one job is left for the next, not even a spill), and a runner
   * parked too long, or crowded out, is killed.
   */
  park(spare: Spare, key: string): void {
    if (this.closed || spare.child.exitCode !== null || spare.child.signalCode !== null) return discard(spare);
    if (spare.slot) {
      for (const entry of fs.readdirSync(spare.slot.workDir))
        fs.rmSync(path.join(spare.slot.workDir, entry), { recursive: true, force: true });
    }
    spare.key = key;
    spare.child.unref();
    (spare.child.channel as { unref?: () => void } | undefined)?.unref?.();
    spare.idle = setTimeout(() => this.evict((s) => s === spare), PARKED_IDLE_MS).unref();
    if (!spare.watched) {
      spare.watched = true;
      spare.child.once('exit', () => this.evict((s) => s === spare));
      spare.child.on('message', (m: RunnerNotice) => {
        if ('warmed' in m) runnerEvents.emit('warmed', spare.child.pid, m.warmed);
      });
    }
    this.parked.push(spare);
    while (this.parked.length > MAX_PARKED) this.evict((s) => s === this.parked[0]);
  }

  /** Kills the parked runners `which` picks (a revoked contract's, one idle too long, all at close). */
  evict(which: (s: Spare) => boolean): void {
    const gone = this.parked.filter(which);
    this.parked = this.parked.filter((s) => !gone.includes(s));
    for (const s of gone) discard(s);
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
    this.evict(() => true);
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

/** A runner that will not serve again: killed, its slot removed. */
function discard(spare: Spare): void {
  clearTimeout(spare.idle);
  if (spare.child.exitCode === null && spare.child.signalCode === null) spare.child.kill('SIGKILL');
  if (spare.slot) fs.rmSync(spare.slot.dir, { recursive: true, force: true });
}

/**
 * Kills the runners parked for a snapshot: its contract ended, and a parked runner's slot holds a
 * hard link that would keep the deleted snapshot's data on disk.
 */
export function forgetRunners(snapshotFile: string): void {
  pool?.evict((s) => s.key === snapshotFile);
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
/** How long a runner may take to receive a job (a cold start loads node and DuckDB first). */
const START_TIMEOUT_MS = 30_000;

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
  /** A spare (fresh or parked) that may be parked again after the run; a cold start never is. */
  spare?: Spare;
}

async function start(req: RunRequest, isolated: boolean, withOs: boolean): Promise<Started> {
  const confined = withOs ? await confinementInUse() : null;
  const key = req.snapshotFile;
  if (!confined) {
    // a spare made inside the OS layer never serves a run that asked for it off
    const spare = isolated ? (pool?.takeParked(key, false) ?? pool?.take(false)) : undefined;
    if (spare) return { child: spare.child, request: req, hostWorkDir: req.tempDir, spare };
    return { child: spawnRunner({ isolated }), request: req, hostWorkDir: req.tempDir };
  }
  const inside: RunRequest = { ...req, snapshotFile: INSIDE.snapshot, tempDir: INSIDE.workDir, confined: true };
  // a runner parked after a job of the same contract has this snapshot linked in its slot already
  const parked = isolated ? pool?.takeParked(key, true) : undefined;
  if (parked?.slot) return { child: parked.child, request: inside, hostWorkDir: parked.slot.workDir, spare: parked };
  const spare = isolated ? pool?.take(true) : undefined;
  if (spare?.slot) {
    try {
      fs.linkSync(req.snapshotFile, path.join(spare.slot.inDir, 'snapshot.duckdb'));
      return { child: spare.child, request: inside, hostWorkDir: spare.slot.workDir, spare };
    } catch {
      // another filesystem (or the snapshot went): a cold start binds the file itself
      discard(spare);
    }
  }
  const child = spawnRunner({ isolated, binds: { snapshotFile: req.snapshotFile, workDir: req.tempDir } });
  return { child, request: inside, hostWorkDir: req.tempDir };
}

/**
 * Runs one query in a runner process — a fresh one, or one that ran only this snapshot's (this
 * contract's) earlier jobs — in a fresh DuckDB instance. The wall-clock limit is enforced from
 * outside with SIGKILL, which interrupts anything, including a query stuck in native code; the
 * result file's size is checked before a byte of it is read into this process. A runner that
 * answered is parked for the contract's next job (its wall clock starts only when it takes the
 * job, after it freed the last one); one that was killed, crashed or ran with a layer switched off
 * never serves again.
 */
export async function runInSandbox(req: RunRequest, opts: RunOptions = {}): Promise<SandboxResult> {
  const { signal } = opts;
  const isolated = opts.processLayer !== false;
  fs.mkdirSync(req.tempDir, { recursive: true, mode: 0o700 });
  let started: Started | undefined;
  let answered = false;
  // only a runner with every layer on serves a contract's next job
  const reusable = isolated && req.engineLayer !== false;
  try {
    started = await start(req, isolated, opts.osLayer !== false);
    const res = await awaitAnswer(started, req, isolated, signal);
    answered = true;
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
    return { ...result, elapsedMs: res.elapsedMs, runnerPid: started.child.pid, warm: res.warm ?? [] };
  } finally {
    fs.rmSync(req.tempDir, { recursive: true, force: true });
    if (started?.spare && pool && reusable && answered) pool.park(started.spare, req.snapshotFile);
    else if (started?.spare) discard(started.spare);
    else if (started && started.child.exitCode === null && started.child.signalCode === null)
      started.child.kill('SIGKILL');
    if (isolated) pool?.fill();
  }
}

/** Why a runner that ended without an answer did: a limit when a signal (or bubblewrap's 128 + signal) says so. */
function exitError(code: number | null, sig: NodeJS.Signals | null, stderr: string): PdsError {
  return new PdsError(
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
  );
}

/** The wall clock ran out: the process layer's limit, or without it only the harness backstop (a failure). */
function wallClockError(req: RunRequest, isolated: boolean): PdsError {
  return isolated
    ? new PdsError('ERR_LIMIT_EXCEEDED', `the job ran longer than its ${req.limits.timeoutMs} ms wall-clock limit`, {
        extra: { layer: 'process' },
      })
    : new PdsError('ERR_SANDBOX_FAILURE', 'harness backstop: nothing stopped the job', {
        extra: { layer: 'none' },
      });
}

/** Sends the job to the runner and waits for its answer, its end, the wall clock or the caller's abort. */
function awaitAnswer(
  started: Started,
  req: RunRequest,
  isolated: boolean,
  signal: AbortSignal | undefined,
): Promise<RunResponse> {
  const { child, request } = started;
  return new Promise<RunResponse>((resolve, reject) => {
    let stderr = '';
    let settled = false;
    const onStderr = (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    };
    child.stderr?.on('data', onStderr);
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // a parked runner carries no listener of a past run
      child.stderr?.off('data', onStderr);
      child.stderr?.resume();
      child.off('message', onMessage);
      child.off('error', onError);
      child.off('exit', onExit);
      fn();
    };
    // the wall clock runs from the runner's receipt of the job (as the runner's own interrupt
    // does); until then only a start-up backstop, so a slow spawn on a busy machine is not
    // charged to the query. Without the process layer only a harness backstop remains,
    // reported as a failure.
    const wallClock = () => {
      child.kill('SIGKILL');
      finish(() => reject(wallClockError(req, isolated)));
    };
    let timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() =>
        reject(
          new PdsError('ERR_SANDBOX_FAILURE', `the runner did not take the job within ${START_TIMEOUT_MS} ms`, {
            extra: { layer: 'process' },
          }),
        ),
      );
    }, START_TIMEOUT_MS);
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
    const onMessage = (m: RunResponse | RunnerNotice) => {
      if ('ready' in m || 'warmed' in m) return;
      if ('started' in m) {
        clearTimeout(timer);
        timer = setTimeout(
          wallClock,
          isolated ? req.limits.timeoutMs + KILL_GRACE_MS : req.limits.timeoutMs * 5 + 5000,
        );
        return;
      }
      finish(() => resolve(m));
    };
    const onError = (err: Error) =>
      finish(() => reject(new PdsError('ERR_SANDBOX_FAILURE', 'the runner process could not start', { cause: err })));
    const onExit = (code: number | null, sig: NodeJS.Signals | null) =>
      finish(() => reject(exitError(code, sig, stderr)));
    child.on('message', onMessage);
    child.once('error', onError);
    child.once('exit', onExit);
    child.send(request);
  });
}
