import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.ts';
import { approvedContract, buildWorld, PDS_ENTRY, SLOW_SQL, until, type TestWorld } from '../helpers.ts';
import { freePort } from '../support/ports.ts';
import { alive, CRASH_TRIALS as TRIALS, descendants } from '../support/processes.ts';

/**
 * `pds serve` killed with SIGKILL at random points while jobs run: its runner processes die with
 * it (no orphan), and after a restart every job ends exactly once, with at most one output, and no
 * temp folder is left behind.
 */

describe('pds serve killed mid-job', () => {
  let world: TestWorld;
  let contractId: string;
  let op: string;
  const jobIds: string[] = [];
  let serve: ChildProcess | undefined;

  beforeAll(async () => {
    world = await buildWorld({ rows: 2000 });
    contractId = await approvedContract(world);
    op = await world.token('operator', 'org-a');
    // the spawned servers own the DATA_DIR from here
    await world.server.close();
    await world.platform.close();
  }, 120_000);
  afterAll(async () => {
    serve?.kill('SIGKILL');
    fs.rmSync(world.dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<{ child: ChildProcess; base: string }> {
    const port = await freePort();
    const child = spawn(process.execPath, [...PDS_ENTRY, 'serve'], {
      env: {
        ...process.env,
        DATA_DIR: world.dataDir,
        PORT: String(port),
        LOG_LEVEL: 'warn',
        EXECUTOR_CONCURRENCY: '2',
      },
      stdio: 'ignore',
    });
    serve = child;
    const base = `http://127.0.0.1:${port}`;
    await until('pds serve answers', async () => {
      try {
        return (await fetch(`${base}/healthz`)).ok;
      } catch {
        return false;
      }
    });
    return { child, base };
  }

  it(`${TRIALS} kills at random points leave no runner behind; afterwards each job ends once`, async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const { child, base } = await start();
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${base}/v1/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${op}`, 'content-type': 'application/json' },
          body: JSON.stringify({ contractId, sql: SLOW_SQL }),
        });
        if (res.status === 202) jobIds.push(((await res.json()) as { id: string }).id);
        else expect(res.status).toBe(429); // the contract's quota of unfinished jobs
      }
      // a random point of the run: queued, starting, mid-query
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 1500)));
      const family = descendants(child.pid!);
      child.kill('SIGKILL');
      await until('the killed server and every process it started are gone', () =>
        [child.pid!, ...family].every((p) => !alive(p)),
      );
    }
    expect(jobIds.length).toBeGreaterThan(0);

    // a last start runs what was left; every job ends, exactly once
    const { child, base } = await start();
    const ends: Record<string, unknown>[] = [];
    for (const id of jobIds) {
      let job: Record<string, unknown> = {};
      await until(
        `job ${id} ends`,
        async () => {
          job = (await (
            await fetch(`${base}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${op}` } })
          ).json()) as Record<string, unknown>;
          return !['queued', 'running'].includes(String(job.status));
        },
        120_000,
      );
      ends.push(job);
    }
    for (const job of ends) expect(['released', 'held', 'failed', 'rejected']).toContain(job.status);
    const released = ends.filter((j) => j.status === 'released' || j.status === 'held');
    expect(new Set(released.map((j) => j.outputId)).size).toBe(released.length);
    child.kill('SIGTERM');
    await until('the server stopped', () => !alive(child.pid!));
    serve = undefined;
    // one output per job at most, and no temp folder left
    const s = await Store.open(world.dataDir);
    try {
      const outputs = await s.all<{ job_id: string; n: number }>(
        'SELECT job_id, count(*)::INTEGER AS n FROM outputs GROUP BY job_id HAVING count(*) > 1',
      );
      expect(outputs).toEqual([]);
    } finally {
      await s.close();
    }
    expect(
      fs.existsSync(path.join(world.dataDir, 'tmp')) ? fs.readdirSync(path.join(world.dataDir, 'tmp')) : [],
    ).toEqual([]);
  }, 600_000);
});
