import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_QUEUE, startBullmqScheduler, startEmbeddedScheduler } from '../../src/reports/index.ts';
import { SLOWDOWN } from '../helpers.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('report schedulers', () => {
  it('embedded: a turn soon after start, then on the interval, never two at once; stop waits for the turn', async () => {
    let running = 0;
    let overlap = false;
    let turns = 0;
    let finished = 0;
    const s = startEmbeddedScheduler(async () => {
      running++;
      if (running > 1) overlap = true;
      turns++;
      await sleep(250);
      running--;
      finished++;
    }, 100);
    await sleep(2000);
    await s.stop();
    expect(turns).toBeGreaterThanOrEqual(3);
    expect(overlap).toBe(false);
    expect(finished).toBe(turns);
    const after = turns;
    await sleep(300);
    expect(turns).toBe(after);
  });

  describe('BullMQ, against a real redis-server', () => {
    let redis: TestRedis;
    beforeAll(async () => {
      redis = await startRedis();
    }, 30_000);
    afterAll(() => redis.stop());

    it('two API processes on one Redis share one job scheduler: each turn runs once, in one of them', async () => {
      const counts = [0, 0];
      const prefix = 'pds-sched-test';
      const a = await startBullmqScheduler({
        redisUrl: redis.url,
        prefix,
        everyMs: 1000,
        turn: async () => {
          counts[0]!++;
        },
      });
      const b = await startBullmqScheduler({
        redisUrl: redis.url,
        prefix,
        everyMs: 1000,
        turn: async () => {
          counts[1]!++;
        },
      });
      await sleep(5200);
      await a.stop();
      await b.stop();
      const total = counts[0]! + counts[1]!;
      // about one turn a second; two schedulers each firing would be about ten
      expect(total).toBeGreaterThanOrEqual(3);
      expect(total).toBeLessThanOrEqual(8);
      const conn = new Redis(redis.url.toString(), { maxRetriesPerRequest: 1 });
      const queue = new Queue(REPORT_QUEUE, { connection: conn, prefix });
      expect((await queue.getJobSchedulers()).map((j) => j.key)).toEqual(['risk-reports']);
      await queue.close();
      conn.disconnect();
    }, 30_000);

    it('an API starting while Redis is away starts anyway, and its turns begin once Redis is back', async () => {
      await redis.kill();
      let turns = 0;
      const errors: unknown[] = [];
      const started = Date.now();
      const s = await startBullmqScheduler({
        redisUrl: redis.url,
        prefix: 'pds-sched-away',
        everyMs: 500,
        retryMs: 300,
        turn: async () => {
          turns++;
        },
        onError: (e) => errors.push(e),
      });
      expect(Date.now() - started).toBeLessThan(5000);
      await sleep(1000);
      expect(turns).toBe(0);
      expect(errors.length).toBeGreaterThan(0);
      await redis.start();
      const deadline = Date.now() + 20_000 * SLOWDOWN;
      while (turns === 0 && Date.now() < deadline) await sleep(100);
      await s.stop();
      expect(turns).toBeGreaterThan(0);
    }, 40_000);
  });
});
