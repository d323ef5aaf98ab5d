import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_LAYERS } from '../../src/sandbox/index.ts';
import { ATTACKS, CANARY, HONEST } from './cases.ts';
import { redTeam, type RedTeam } from './harness.ts';

/**
 * The red-team suite (docs/architecture.md, "Threat model"): every attack is stopped by the layer
 * it names, and still by another when that layer — or any other single layer — is switched off;
 * every honest query runs. Each query goes through the functions production runs: the API's plan,
 * the worker's execution, the outcome check and the one release decision (evaluateQuery).
 */

let rt: RedTeam;
beforeAll(async () => {
  rt = await redTeam();
}, 120_000);
afterAll(() => rt.close());
const attempt: RedTeam['attempt'] = (...args) => rt.attempt(...args);
const outcome: RedTeam['outcome'] = (...args) => rt.outcome(...args);

describe('red team, every layer on', () => {
  it('has at least 80 attacks across every category and 15 honest queries', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(80);
    expect(new Set(ATTACKS.map((a) => a.id)).size).toBe(ATTACKS.length);
    expect(HONEST.length).toBeGreaterThanOrEqual(15);
  });

  it.each(ATTACKS.map((a) => [a.id, a] as const))('%s is stopped by the layer it names', async (_id, a) => {
    const o = await outcome(a);
    expect(o, o.detail).toMatchObject({ stopped: true, layer: a.stoppedBy[0] });
  });

  it.each(HONEST.map((q) => [q.id, q] as const))('honest query %s runs', async (_id, q) => {
    const { decision: d } = await attempt(q.mode, q.sql);
    expect(d.decision, d.reasons.join('; ')).toBe(q.mode === 'aggregate' ? 'released' : 'held');
    expect(d.rows.length).toBeGreaterThan(0);
  });
});

describe.each(SANDBOX_LAYERS.map((l) => [l] as const))('red team, the %s layer off', (layer) => {
  it.each(ATTACKS.map((a) => [a.id, a] as const))('%s', async (_id, a) => {
    const others = a.stoppedBy.filter((l) => l !== layer);
    const o = await outcome(a, [layer]);
    if (others.length === 0) {
      // held by this layer alone, by nature (small cells): the suite shows it rather than hide it
      expect(o.stopped, o.detail).toBe(false);
    } else {
      expect(o.stopped, o.detail).toBe(true);
      expect(o.layer, o.detail).not.toBe(layer);
    }
  });
});

describe('red team, aftermath', () => {
  it('left no file behind from any write attempt', () => {
    const leaks = fs.readdirSync(path.dirname(CANARY)).filter((f) => f.startsWith(path.basename(CANARY)));
    expect(leaks).toEqual([]);
  });

  it('left the snapshot unchanged and readable', async () => {
    const { decision: d } = await attempt('aggregate', 'SELECT count(*) AS n FROM population');
    // 3,000 people, perturbed (p-table noise ≤ 3) and rounded to 5
    expect(Math.abs(Number(d.rows[0]![0]) - 3000)).toBeLessThanOrEqual(5);
  });
});
