import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real redis-server for the BullMQ tests, on a free port, without persistence on purpose: a
 * restart empties it, so the tests show the control store, not Redis, keeps jobs. `.ci/run`
 * installs redis-server; a missing one fails the test rather than skipping it.
 */
export interface TestRedis {
  url: URL;
  port: number;
  /** SIGKILL: Redis dies with everything in it. */
  kill(): Promise<void>;
  /** Starts again on the same port, empty. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-redis-'));
  let proc: ChildProcess | undefined;
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const p = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      proc = p;
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      p.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`redis-server could not start (is it installed? .ci/run installs it): ${err.message}`));
      });
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  const kill = () =>
    new Promise<void>((resolve) => {
      if (!proc || proc.exitCode !== null) {
        resolve();
        return;
      }
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  await launch();
  return {
    url: new URL(`redis://127.0.0.1:${port}`),
    port,
    kill,
    start: launch,
    async stop() {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
