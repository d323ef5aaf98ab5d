import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { configureOsSandbox } from '../../src/sandbox/index.ts';
import { confinementInUse } from '../../src/sandbox/runner.ts';
import { seccompProgram } from '../../src/sandbox/seccomp.ts';
import { buildWorld, tmpDataDir, type TestWorld } from '../helpers.ts';

/**
 * The OS layer against code that runs in the runner's place — what an engine bug that executes
 * attacker code would give: the same confinement, a script instead of the runner. It finds no
 * key, no domain database, no other snapshot, no other process, no socket and no new process;
 * the same script outside the sandbox finds them all (so each check can fail).
 */

const ATTACK = String.raw`
const fs = require('node:fs'), net = require('node:net'), cp = require('node:child_process');
const t = JSON.parse(process.argv[2]);
const r = {};
const read = (f) => { try { return 'read ' + fs.readFileSync(f, 'utf8').length + ' chars'; } catch (e) { return e.code; } };
r.key = read(t.key);
r.domain = read(t.domain);
r.other = read(t.other);
r.source = read(t.source);
r.environ = read('/proc/' + t.pid + '/environ');
r.pids = fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x)).length;
r.root = fs.readdirSync('/').sort().join(',');
try { fs.writeFileSync(t.plant, 'x'); r.write = 'wrote'; } catch (e) { r.write = e.code; }
try { cp.execFileSync(process.execPath, ['-e', '0']); r.spawn = 'ran'; } catch (e) { r.spawn = e.code; }
try { cp.execFileSync('/bin/sh', ['-c', 'true']); r.shell = 'ran'; } catch (e) { r.shell = e.code; }
const s = net.connect(t.port, '127.0.0.1');
s.on('connect', () => { r.socket = 'connected'; s.destroy(); console.log(JSON.stringify(r)); });
s.on('error', (e) => { r.socket = e.code; console.log(JSON.stringify(r)); });
`;

describe('the OS layer around a runner', () => {
  let world: TestWorld;
  let server: net.Server;
  let port: number;
  const work = tmpDataDir('pds-confine-');
  let targets: Record<string, string | number>;

  beforeAll(async () => {
    world = await buildWorld({ rows: 200 });
    server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
    const snapshots = path.join(world.dataDir, 'snapshots');
    fs.mkdirSync(snapshots, { recursive: true });
    fs.writeFileSync(path.join(snapshots, 'ctr_other.duckdb'), 'another contract');
    const keys = fs.readdirSync(path.join(world.dataDir, 'keys'));
    targets = {
      key: path.join(world.dataDir, 'keys', keys[0]!),
      domain: path.join(world.dataDir, 'domain.duckdb'),
      other: path.join(snapshots, 'ctr_other.duckdb'),
      pid: process.pid,
      plant: path.join(world.dataDir, 'planted'),
      port,
      source: path.join(PACKAGE_ROOT, 'package.json'),
    };
    fs.writeFileSync(path.join(work.dir, 'attack.cjs'), ATTACK);
    fs.writeFileSync(path.join(work.dir, 'snapshot.duckdb'), '');
  }, 120_000);
  afterAll(async () => {
    server.close();
    await world.close();
    work.cleanup();
  });

  /** The attack script, run as a runner would be but without the OS layer. */
  const runOutside = (): Record<string, string | number> => {
    const r = spawnSync(process.execPath, [path.join(work.dir, 'attack.cjs'), JSON.stringify(targets)], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    return JSON.parse(r.stdout) as Record<string, string | number>;
  };

  it('outside it, the attack script reaches everything (the checks below can fail)', () => {
    const r = runOutside();
    expect(r).toMatchObject({ key: expect.stringMatching(/^read/), domain: expect.stringMatching(/^read/) });
    expect(r.source).toMatch(/^read/);
    expect(r).toMatchObject({ other: expect.stringMatching(/^read/), environ: expect.stringMatching(/^read/) });
    expect(r).toMatchObject({ write: 'wrote', spawn: 'ran', socket: 'connected' });
    fs.rmSync(String(targets.plant), { force: true });
  });

  it('inside it: no key, no domain, no other snapshot, no other process, no write, no process, no socket', async () => {
    const c = (await confinementInUse())!;
    expect(c).not.toBeNull();
    const cmd = c.wrap({ workDir: work.dir, snapshotFile: path.join(work.dir, 'snapshot.duckdb') }, [
      process.execPath,
      '/job/work/attack.cjs',
      JSON.stringify(targets),
    ]);
    const r = spawnSync(cmd.file, cmd.args, { input: c.seccomp ?? undefined, encoding: 'utf8', env: { PATH: '' } });
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, string | number>;
    expect(seen).toMatchObject({ key: 'ENOENT', domain: 'ENOENT', other: 'ENOENT', environ: 'ENOENT' });
    expect(seen.pids).toBeLessThanOrEqual(2); // bubblewrap's init and the script
    expect(seen.write).toMatch(/^(EROFS|ENOENT)$/);
    expect(fs.existsSync(String(targets.plant))).toBe(false);
    // seccomp: no new process and no socket, whatever the namespace allows
    expect(seen).toMatchObject({ spawn: 'EPERM', shell: 'EPERM', socket: 'EPERM' });
    // a root of only what a runner needs
    const top = (p: string) => p.split('/')[1]!;
    const needed = [
      'dev',
      'job',
      'proc',
      'usr',
      'lib',
      'lib64',
      'lib32',
      'libx32',
      top(PACKAGE_ROOT),
      top(process.execPath),
    ];
    expect(String(seen.root).split(',')).toEqual(expect.arrayContaining(['dev', 'job', 'proc', 'usr']));
    expect(
      String(seen.root)
        .split(',')
        .filter((d) => !needed.includes(d)),
    ).toEqual([]);
    expect(String(seen.root)).not.toMatch(/\betc\b/);
    // of the package, only DuckDB's modules and the runner bundle: not its sources or policies
    expect(seen.source).toBe('ENOENT');
  });

  it('the seccomp filter is a valid BPF program for this machine', () => {
    const prog = seccompProgram()!;
    expect(prog.length % 8).toBe(0);
    expect(prog.length / 8).toBeLessThan(256); // BPF_MAXINSNS is 4096; bubblewrap reads it whole
  });

  it('where bubblewrap cannot run, start-up is refused, naming why and the way out', async () => {
    const was = process.env.BWRAP;
    process.env.BWRAP = '/nonexistent/bwrap';
    try {
      await expect(configureOsSandbox('bwrap')).rejects.toMatchObject({
        code: 'ERR_SANDBOX_OS_UNAVAILABLE',
        detail: expect.stringMatching(/bubblewrap not found \(\/nonexistent\/bwrap\).*SANDBOX_OS=off/),
      });
    } finally {
      if (was === undefined) delete process.env.BWRAP;
      else process.env.BWRAP = was;
      await configureOsSandbox('bwrap');
    }
  });
});
