/**
 * The OS layer (docs/architecture.md §11): every runner starts inside bubblewrap, with new network,
 * PID, IPC, UTS, cgroup and (where the kernel allows) user namespaces, no capabilities, a seccomp
 * filter (seccomp.ts), and a root that holds only what a query needs — the node binary, the shared
 * libraries it and DuckDB map, the runner bundle and DuckDB's packages, read-only — plus, per job,
 * the contract's snapshot read-only at /job/in and one private writable directory at /job/work.
 * No DATA_DIR, no keys, no domain database, no other snapshot, no /proc of other processes.
 *
 * Why bubblewrap: it is Debian's packaged, audited unprivileged sandbox (Flatpak's), one small
 * binary with no daemon, and it composes with what was already here (prlimit, the IPC channel,
 * warm spares). Docker or systemd-nspawn need a daemon or a full root image; Landlock or seccomp
 * from inside node would need a native addon.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PdsError } from '../errors/index.ts';
import { INSIDE } from './protocol.ts';
import { refusedSyscalls, seccompProgram } from './seccomp.ts';

export type OsSandboxSetting = 'bwrap' | 'off';

/** What /healthz and every risk report say about the OS layer. */
export type OsSandboxStatus =
  | { mode: 'bubblewrap'; version: string; seccomp: 'on' | 'unavailable'; refusedSyscalls: string[] }
  | { mode: 'off'; reason: string };

/** Per-job binds: either a slot's live directory (spares) or the snapshot file itself (cold start). */
export type JobBinds = { workDir: string } & ({ inDir: string } | { snapshotFile: string });

export interface Confinement {
  status: Extract<OsSandboxStatus, { mode: 'bubblewrap' }>;
  /** The bubblewrap command that runs `command` confined, reading its seccomp filter from stdin. */
  wrap(binds: JobBinds, command: string[]): { file: string; args: string[] };
  /** The filter to write to the process's stdin (null: no filter on this architecture). */
  seccomp: Buffer | null;
}

const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/bin/bwrap', '/usr/local/bin/bwrap'];

function bwrapBinary(): string | undefined {
  const fromEnv = process.env.BWRAP;
  if (fromEnv) return fromEnv;
  return BWRAP_CANDIDATES.find((p) => fs.existsSync(p));
}

/** The shared objects this process has mapped (node's and DuckDB's libraries), by real path. */
function mappedLibraries(): string[] {
  const files = new Set<string>();
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const file = line.split(/\s+/)[5];
    if (file?.startsWith('/') && /\.so(\.|$)/.test(path.basename(file)) && !file.includes('/node_modules/'))
      files.add(file);
  }
  return [...files];
}

/** --ro-bind for each library and --symlink for the names that point at it (sonames, /lib64's loader). */
function libraryArgs(libs: string[]): string[] {
  const args: string[] = [];
  const real = new Set(libs);
  for (const lib of libs) args.push('--ro-bind', lib, lib);
  const dirs = new Set([
    ...libs.map((l) => path.dirname(l)),
    '/lib64',
    '/usr/lib64',
    '/lib/x86_64-linux-gnu',
    '/lib/aarch64-linux-gnu',
  ]);
  const linked = new Set<string>();
  for (const dir of dirs) {
    let entries: string[];
    try {
      if (fs.realpathSync(dir) !== dir) continue; // reached through a top-level link below
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries) {
      const p = path.join(dir, name);
      try {
        if (!fs.lstatSync(p).isSymbolicLink() || !real.has(fs.realpathSync(p)) || linked.has(p)) continue;
        linked.add(p);
        args.push('--symlink', fs.readlinkSync(p), p);
      } catch {
        /* a dangling link: not ours */
      }
    }
  }
  // merged-/usr systems reach /lib, /lib64, /bin through links at the top
  for (const top of ['/lib', '/lib64', '/lib32', '/libx32']) {
    try {
      if (fs.lstatSync(top).isSymbolicLink()) args.push('--symlink', fs.readlinkSync(top), top);
    } catch {
      /* absent */
    }
  }
  return args;
}

/** The package directories a module needs at run time: it and its dependencies, transitively. */
export function packageClosure(roots: string[], from: string): string[] {
  const dirs = new Set<string>();
  const visit = (name: string, base: string) => {
    let manifest: string;
    try {
      manifest = createRequire(base).resolve(`${name}/package.json`);
    } catch {
      return; // an optional dependency for another platform
    }
    const dir = fs.realpathSync(path.dirname(manifest));
    if (dirs.has(dir)) return;
    dirs.add(dir);
    const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(dep, manifest);
  };
  for (const r of roots) visit(r, from);
  return [...dirs];
}

/** What a probe's result depends on: this boot, the sandbox and node binaries, the runner's files. */
function probeKey(bwrap: string, version: string, files: string[], packages: string[]): string {
  const stat = (f: string) => {
    const st = fs.statSync(f);
    return `${f}:${st.size}:${st.mtimeMs}`;
  };
  let boot = '';
  try {
    boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    boot = String(Date.now()); // unknown boot: never reuse
  }
  const parts = [
    boot,
    stat(bwrap),
    version,
    stat(process.execPath),
    process.version,
    process.arch,
    ...files.map(stat),
    ...packages,
  ];
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 24);
}

export interface ConfineInputs {
  /** Files the runner reads: its bundle. */
  files: string[];
  /** Package directories (read-only). */
  packages: string[];
}

function buildConfinement(bwrap: string, version: string, inputs: ConfineInputs): Confinement {
  const node = fs.realpathSync(process.execPath);
  const root = [
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    ...libraryArgs(mappedLibraries()),
    '--ro-bind',
    node,
    node,
    ...(node !== process.execPath ? ['--symlink', node, process.execPath] : []),
    ...inputs.packages.flatMap((d) => ['--ro-bind', d, d]),
    ...inputs.files.flatMap((f) => ['--ro-bind', f, f]),
  ];
  const seccomp = seccompProgram();
  return {
    status: {
      mode: 'bubblewrap',
      version,
      seccomp: seccomp ? 'on' : 'unavailable',
      refusedSyscalls: seccomp ? refusedSyscalls() : [],
    },
    seccomp,
    wrap(binds, command) {
      const job =
        'inDir' in binds
          ? ['--ro-bind', binds.inDir, INSIDE.inDir]
          : ['--ro-bind', binds.snapshotFile, INSIDE.snapshot];
      return {
        file: bwrap,
        args: [
          ...root,
          ...job,
          '--bind',
          binds.workDir,
          INSIDE.workDir,
          '--chdir',
          INSIDE.workDir,
          '--remount-ro',
          '/',
          ...(seccomp ? ['--seccomp', '0'] : []),
          '--',
          ...command,
        ],
      };
    },
  };
}

/**
 * Sets the OS layer up, proving it works here: one confined node loads DuckDB and answers a query.
 * With `bwrap` (the default) a machine that cannot run it refuses to start, naming why; only an
 * explicit `off` runs without it (the caller logs it, /healthz and the risk reports show it).
 */
export async function confinement(
  setting: OsSandboxSetting,
  inputs: ConfineInputs,
  duckdbEntry: string,
): Promise<{ confinement: Confinement | null; status: OsSandboxStatus }> {
  if (setting === 'off') return { confinement: null, status: { mode: 'off', reason: 'SANDBOX_OS=off' } };
  const refuse = (why: string): never => {
    throw new PdsError(
      'ERR_SANDBOX_OS_UNAVAILABLE',
      `the OS sandbox cannot start here: ${why}. Install bubblewrap (apt-get install bubblewrap) on a host that allows namespaces, or set SANDBOX_OS=off to run without this layer (logged, and shown in /healthz and every risk report)`,
      { extra: { variable: 'SANDBOX_OS' } },
    );
  };
  const bwrap = bwrapBinary();
  if (!bwrap || !fs.existsSync(bwrap)) refuse(`bubblewrap not found (${bwrap ?? BWRAP_CANDIDATES.join(', ')})`);
  const v = spawnSync(bwrap!, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) refuse(`${bwrap} --version failed: ${(v.stderr || String(v.error)).trim()}`);
  await import('@duckdb/node-api'); // its libraries are mapped, so the root can hold them
  const c = buildConfinement(bwrap!, v.stdout.trim(), {
    files: [...inputs.files, duckdbEntry],
    packages: inputs.packages,
  });
  // a probe that passed on this boot with these very binaries and bundle need not run again (about
  // 0.5 s of CPU at each start): should the host change under it, runners fail to start and jobs
  // fail closed, never run unconfined
  const proven = path.join(
    path.dirname(inputs.files[0]!),
    `os-probe-${probeKey(bwrap!, v.stdout, [...inputs.files, duckdbEntry], inputs.packages)}.ok`,
  );
  if (fs.existsSync(proven)) return { confinement: c, status: c.status };
  const work = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'pds-os-probe-'));
  try {
    const probe = `import(${JSON.stringify(duckdbEntry)}).then(async (m) => {
      const i = await m.DuckDBInstance.create(':memory:');
      const c = await i.connect();
      const r = await c.runAndReadAll('SELECT 6 * 7');
      process.stdout.write(String(r.getRows()[0][0]));
    })`;
    fs.writeFileSync(path.join(work, 'snapshot.duckdb'), '');
    const cmd = c.wrap({ workDir: work, snapshotFile: path.join(work, 'snapshot.duckdb') }, [
      process.execPath,
      '-e',
      probe,
    ]);
    const r = spawnSync(cmd.file, cmd.args, {
      input: c.seccomp ?? undefined,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 30_000,
    });
    if (r.stdout !== '42')
      refuse(
        `a confined runner did not start (${r.error ? String(r.error) : `exit ${r.status}`}: ${(r.stderr ?? '').trim().slice(0, 300)})`,
      );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  try {
    fs.writeFileSync(proven, new Date().toISOString());
  } catch {
    /* a read-only cache: the probe runs again next time */
  }
  return { confinement: c, status: c.status };
}

/** One line for /healthz and the risk reports: what confines the runners. */
export function describeOsSandbox(os: OsSandboxStatus | { mode: 'workers' }): string {
  if (os.mode === 'workers') return 'in workers (each reports its own with every claim)';
  if (os.mode === 'off') return `off (${os.reason})`;
  return `${os.version}, seccomp ${os.seccomp}`;
}
