/**
 * API read bench (issue 12): `GET /v1/catalog` and `GET /v1/contracts/:id` at 50 concurrent
 * keep-alive connections over loopback against a `pds serve` process of its own (so the load
 * generator does not share the server's event loop), plus `GET /healthz` as the floor of what one
 * request costs. Prints requests/s and latency percentiles as JSON; target ≥ 1,000 req/s each.
 * Usage: npm run bench:api [-- --seconds N] (default 5).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import http from 'node:http';
import { createServer } from '../src/api/index.ts';
import { loadConfig, PACKAGE_ROOT } from '../src/config/index.ts';
import { seedDomain } from '../src/domain/index.ts';
import { createPlatform } from '../src/platform/index.ts';
import { loaderArgs } from '../src/sandbox/index.ts';
import { percentiles } from './sandbox.ts';
import { contractFor, freePort } from './world.ts';

const argSeconds = process.argv.indexOf('--seconds');
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 5;
const CONNECTIONS = 50;

function get(agent: http.Agent, url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

async function load(url: string, token: string): Promise<Record<string, unknown>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      if ((await get(agent, url, token)) !== 200) errors++;
      latencies.push(performance.now() - t);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = [...latencies].sort((a, b) => a - b);
  const p99 = +sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!.toFixed(1);
  return {
    requests: latencies.length,
    errors,
    requestsPerSecond: Math.round(latencies.length / elapsed),
    latencyMs: { ...percentiles(latencies), p99 },
  };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-bench-api-'));
let child: ReturnType<typeof spawn> | undefined;
try {
  await seedDomain(dir, { rows: 20_000, seed: 5 });
  const config = loadConfig({ DATA_DIR: dir, PORT: '0' });
  // a contract through the real API, in-process; then the server runs on its own
  const platform = await createPlatform(config, pino({ level: 'silent' }));
  const server = await createServer(platform, pino({ level: 'silent' }));
  const { contractId, op } = await contractFor(platform, server);
  await server.close();
  await platform.close();

  const port = await freePort();
  child = spawn(process.execPath, [...loaderArgs(), path.join(PACKAGE_ROOT, 'src/cli/main.ts'), 'serve'], {
    env: { ...process.env, DATA_DIR: dir, PORT: String(port), LOG_LEVEL: 'silent' },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (i > 600) throw new Error('pds serve did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const results: Record<string, unknown> = {};
  for (const [name, url] of [
    ['healthz', `${base}/healthz`],
    ['catalog', `${base}/v1/catalog`],
    ['contract', `${base}/v1/contracts/${contractId}`],
  ] as const) {
    await load(url, op); // warm-up, not reported
    results[name] = await load(url, op);
  }
  console.log(
    JSON.stringify(
      {
        machine: { cpus: os.cpus().length, node: process.version },
        connections: CONNECTIONS,
        seconds: SECONDS,
        results,
        target: { requestsPerSecond: 1000 },
      },
      null,
      2,
    ),
  );
} finally {
  child?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(dir, { recursive: true, force: true });
}
