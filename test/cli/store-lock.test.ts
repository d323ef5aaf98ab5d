import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { lockHolderPid } from '../../src/store/index.ts';
import { tmpDataDir } from '../helpers.ts';

const run = promisify(execFile);
const PDS = path.join(PACKAGE_ROOT, 'bin', 'pds.js');

/** Runs the installed command; answers its exit code and what it wrote, whether it failed or not. */
async function pds(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [PDS, ...args], {
      env: { PATH: process.env.PATH },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * A store another process holds — as `pds serve` does — answered by the commands that open
 * DATA_DIR with ERR_STORE_LOCKED: who holds it (DuckDB's PID) and what to run instead.
 */
describe('a control store held by another process', () => {
  const t = tmpDataDir();
  let holder: ChildProcessWithoutNullStreams;

  beforeAll(async () => {
    // a process that opens the store (the same Store.open the server uses), says so and waits for stdin to close
    const script = `
      const { Store } = await import(${JSON.stringify(path.join(PACKAGE_ROOT, 'src', 'store', 'index.ts'))});
      const store = await Store.open(${JSON.stringify(t.dir)});
      process.stdout.write('ready\\n');
      process.stdin.resume();
      process.stdin.on('end', async () => { await store.close(); process.exit(0); });`;
    holder = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: PACKAGE_ROOT,
      stdio: 'pipe',
    });
    let out = '';
    holder.stdout.setEncoding('utf8');
    while (!out.includes('ready')) {
      const [chunk] = (await Promise.race([once(holder.stdout, 'data'), once(holder, 'exit')])) as [string];
      if (holder.exitCode !== null) throw new Error(`the holder exited: ${holder.stderr.read() ?? ''}`);
      out += chunk;
    }
  }, 60_000);
  afterAll(async () => {
    if (holder.exitCode === null) {
      holder.stdin.end();
      await once(holder, 'exit');
    }
    t.cleanup();
  });

  it('reads the holder’s PID from DuckDB’s words', () => {
    const msg =
      'IO Error: Could not set lock on file "/d/control.duckdb": Conflicting lock is held in /usr/bin/node (PID 4242). See also …';
    expect(lockHolderPid(new Error(msg))).toBe(4242);
    expect(lockHolderPid(new Error('IO Error: Could not set lock on file "/d/control.duckdb"'))).toBeUndefined();
  });

  it('audit verify, audit export, report --domain: the hint names the PID and the --api form; exit 1', async () => {
    const cases: [string[], string][] = [
      [['audit', 'verify'], 'pds audit verify --api <url>'],
      [['audit', 'export'], 'pds audit export --api <url>'],
      [['report', '--domain', '--period', '2026-Q3'], 'pds report --domain --period 2026-Q3 --api <url>'],
    ];
    for (const [args, route] of cases) {
      const got = await pds(...args, '--data-dir', t.dir);
      expect(got.code, args.join(' ')).toBe(1);
      expect(got.stderr).toContain('ERR_STORE_LOCKED');
      expect(got.stderr).toContain(`PID ${holder.pid}`);
      expect(got.stderr).toContain('正在运行的 pds serve');
      expect(got.stderr).toContain(route);
      expect(got.stderr).not.toContain('Could not set lock');
    }
  });

  it('store check and store repair, which have no API form, say to stop the server', async () => {
    const check = await pds('store', 'check', '--data-dir', t.dir);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/ERR_STORE_LOCKED: .*PID \d+.*请先停止服务器，或在 DATA_DIR 的备份副本上运行/);
    const repair = await pds('store', 'repair', '--data-dir', t.dir);
    expect(repair.code).toBe(1);
    expect(repair.stderr).toMatch(/ERR_STORE_LOCKED: .*先停止 pds serve，再运行 pds store repair/);
  });

  it('once the holder lets go, the same command works', async () => {
    holder.stdin.end();
    await once(holder, 'exit');
    const got = await pds('audit', 'verify', '--data-dir', t.dir, '--json');
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ ok: true });
  });
});
