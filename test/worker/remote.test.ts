import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  PDS_ENTRY,
  submitJob,
  tmpDataDir,
  waitForJob,
  type TestWorld,
} from '../helpers.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

/**
 * Workers on other machines (docs/architecture.md §17): the API and two `pds worker` processes
 * with three separate DATA_DIRs and no shared disk. A worker fetches the snapshot of the run it
 * holds from the API by its hash, with its own credential, checks it, keeps it in its cache, and
 * hands results back over HTTP; it never holds a key, the domain, or the control store. A cached
 * snapshot changed on a worker's disk is caught before a run uses it.
 */
describe('workers with their own DATA_DIR', () => {
  let redis: TestRedis;
  let world: TestWorld;
  let api: URL;
  let op: string;
  const contracts: string[] = [];
  const dirs = [tmpDataDir('pds-worker-b-'), tmpDataDir('pds-worker-c-')];
  const workers: { child: ChildProcess; id: string; dir: string; log: string[] }[] = [];

  async function startWorker(dir: string, name: string): Promise<void> {
    const { worker, credential } = await world.platform.workers.register(
      { sub: 'bureau-user@org-bureau', org: 'org-bureau', roles: ['bureau'] },
      { name },
    );
    const child = spawn(
      process.execPath,
      [...PDS_ENTRY, 'worker', '--data-dir', dir, '--api', api.toString(), '--concurrency', '1', '--lock-ms', '2000'],
      {
        env: { ...process.env, REDIS_URL: redis.url.toString(), LOG_LEVEL: 'info', PDS_WORKER_TOKEN: credential },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const log: string[] = [];
    workers.push({ child, id: worker.id, dir, log });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start: ${log.join('')}`)), 30_000);
      const take = (d: Buffer) => {
        log.push(d.toString());
        if (log.join('').includes('worker ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', take);
      child.stderr!.on('data', take);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited ${code}: ${log.join('')}`));
      });
    });
  }

  const submit = (contractId: string, sql: string) => submitJob(world, op, contractId, sql);
  const fetches = async (contractId: string) =>
    world.platform.store.all<{ actor: string }>(
      "SELECT actor FROM audit_log WHERE action = 'snapshot.fetched' AND object_id = $1",
      [contractId],
    );
  const cached = (dir: string) =>
    fs.existsSync(path.join(dir, 'cache', 'snapshots'))
      ? fs.readdirSync(path.join(dir, 'cache', 'snapshots')).filter((f) => f.endsWith('.duckdb'))
      : [];
  const hashOf = async (contractId: string) =>
    (await world.platform.store.one<{ h: string }>('SELECT snapshot_hash AS h FROM contracts WHERE id = $1', [
      contractId,
    ]))!.h;

  beforeAll(async () => {
    redis = await startRedis();
    world = await buildWorld({ rows: 3000, config: { redisUrl: redis.url, reconcileMs: 500, workerLeaseMs: 5000 } });
    await world.server.listen({ port: 0, host: '127.0.0.1' });
    api = new URL(`http://127.0.0.1:${(world.server.server.address() as { port: number }).port}`);
    op = await world.token('operator', 'org-a');
    contracts.push(await approvedContract(world));
    contracts.push(
      await approvedContract(world, 'org-a', { ...APPLICATION, scenario: { name: '第二场景', purpose: '研究' } }),
    );
    await startWorker(dirs[0]!.dir, 'site-b');
    await startWorker(dirs[1]!.dir, 'site-c');
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await world?.close();
    await redis?.stop();
    for (const d of dirs) d.cleanup();
  });

  it('the API and two workers, three DATA_DIRs: snapshots fetched by hash, checked, cached; results over HTTP', async () => {
    // jobs that take a moment, on both contracts at once: each worker gets some
    const sql = (n: number) =>
      `SELECT a.district, count(*) AS pairs${n} FROM population a JOIN population b ON a.district = b.district AND a.gender = b.gender GROUP BY 1`;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await submit(contracts[i % 2]!, sql(i)));
    for (const id of ids) expect(await waitForJob(world, op, id, 120_000)).toMatchObject({ status: 'released' });

    // both workers ran jobs, each on snapshots it fetched itself
    const started = await world.platform.store.all<{ actor: string }>(
      `SELECT actor FROM audit_log WHERE action = 'job.started' AND object_id IN (${ids.map((i) => `'${i}'`).join(', ')})`,
    );
    expect(new Set(started.map((s) => s.actor))).toEqual(new Set(workers.map((w) => w.id)));
    for (const w of workers) {
      const files = cached(w.dir);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) {
        const sha = createHash('sha256')
          .update(fs.readFileSync(path.join(w.dir, 'cache', 'snapshots', f)))
          .digest('hex');
        expect(f).toBe(`${sha}.duckdb`);
        expect([await hashOf(contracts[0]!), await hashOf(contracts[1]!)]).toContain(sha);
      }
      // nothing of the API's on the worker's disk: no keys, no domain, no control store, no snapshot by name
      const top = fs.readdirSync(w.dir);
      expect(top.filter((f) => !['cache'].includes(f))).toEqual([]);
    }
    // each worker fetched each snapshot at most once: the cache serves the rest
    for (const c of contracts) {
      const by = (await fetches(c)).map((f) => f.actor);
      expect(by.length).toBe(new Set(by).size);
    }
  }, 180_000);

  it('a cached snapshot changed on the worker’s disk is caught, removed and fetched again', async () => {
    const [b, c] = workers;
    // one worker only, so the run lands where the file was changed
    c!.child.kill('SIGKILL');
    await new Promise((r) => c!.child.once('exit', r));
    const contractId = contracts[0]!;
    const sha = await hashOf(contractId);
    const file = path.join(b!.dir, 'cache', 'snapshots', `${sha}.duckdb`);
    if (!fs.existsSync(file)) {
      // this worker never ran the contract: one run fetches it
      expect(
        await waitForJob(
          world,
          op,
          await submit(contractId, 'SELECT district, count(*) AS n FROM population GROUP BY 1'),
        ),
      ).toMatchObject({ status: 'released' });
    }
    const before = (await fetches(contractId)).filter((f) => f.actor === b!.id).length;
    // a byte changed in place (root may write a read-only file)
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 4096 + 17);
    fs.closeSync(fd);

    const id = await submit(contractId, 'SELECT district, count(*) AS n FROM population GROUP BY 1');
    const job = await waitForJob(world, op, id, 120_000);
    expect(job).toMatchObject({ status: 'released' });
    expect(b!.log.join('')).toContain('a cached snapshot does not match the hash its contract pins');
    expect((await fetches(contractId)).filter((f) => f.actor === b!.id).length).toBe(before + 1);
    expect(createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(sha);
  }, 120_000);

  it('gives a snapshot only to the worker holding the run, and only the one its contract pins', async () => {
    const { credential } = await world.platform.workers.register(
      { sub: 'bureau-user@org-bureau', org: 'org-bureau', roles: ['bureau'] },
      { name: 'site-d' },
    );
    const sha = await hashOf(contracts[0]!);
    const done = (await world.platform.store.one<{ id: string }>(
      "SELECT id FROM jobs WHERE status = 'released' LIMIT 1",
    ))!.id;
    const asWorker = await world.server.inject({
      method: 'GET',
      url: `/v1/worker/snapshots/${sha}?jobId=${done}&attempt=1`,
      headers: { authorization: `Bearer ${credential}` },
    });
    expect(asWorker.statusCode).toBe(409);
    expect(asWorker.json()).toMatchObject({ code: 'ERR_WORKER_NOT_LEASE_HOLDER' });
    const asOperator = await world.server.inject({
      method: 'GET',
      url: `/v1/worker/snapshots/${sha}?jobId=${done}&attempt=1`,
      headers: { authorization: `Bearer ${op}` },
    });
    expect(asOperator.statusCode).toBe(403);
    const refused = await world.platform.store.all<{ details: string }>(
      "SELECT details FROM audit_log WHERE action = 'worker.refused' AND object_id = $1",
      [done],
    );
    expect(refused.map((r) => JSON.parse(r.details).request)).toContain('snapshot');
  });
});
