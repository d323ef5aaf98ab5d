import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redTeam, type RedTeam } from '../redteam/harness.ts';

/**
 * Issue 31: dominance, suppression and rounding apply to a statistic wherever it appears — wrapped
 * in a function, combined by arithmetic, or computed per person in a CTE — not only when it is a
 * select item of its own. Firms' registered capital by industry is dominated by one or two firms
 * in several industries of the red-team world: every form of the statistic suppresses the same ones.
 */

let rt: RedTeam;
beforeAll(async () => {
  rt = await redTeam();
}, 120_000);
afterAll(() => rt?.close());

const suppressedIndustries = async (statistic: string, from = 'enterprise') => {
  const { decision: d } = await rt.attempt('aggregate', `SELECT industry, ${statistic} AS s FROM ${from} GROUP BY 1`);
  expect(d.decision).toBe('released');
  return d.rows
    .filter((r) => r[1] === null)
    .map((r) => r[0])
    .sort();
};

describe('dominance through expressions', () => {
  it('suppresses the same dominated cells whether the sum is bare, rounded, shifted, divided or a mean times a constant', async () => {
    const bare = await suppressedIndustries('sum(registered_capital)');
    expect(bare.length).toBeGreaterThan(0); // the world has dominated industries
    for (const wrapped of [
      'round(sum(registered_capital))',
      'sum(registered_capital) + 0',
      'sum(registered_capital) / count(*)',
      'round(avg(registered_capital) * 1.0, 2)',
      'coalesce(sum(registered_capital), 0) - 1',
    ])
      expect(await suppressedIndustries(wrapped), wrapped).toEqual(bare);
  }, 120_000);

  it('a statistic of per-firm sums made in a CTE is weighed per firm at the outer level', async () => {
    const bare = await suppressedIndustries('sum(registered_capital)');
    const viaCte = await suppressedIndustries(
      'round(sum(c))',
      '(SELECT pds_unit, any_value(industry) AS industry, sum(registered_capital) AS c FROM enterprise GROUP BY pds_unit)',
    );
    expect(viaCte).toEqual(bare);
  }, 120_000);
});

describe('rounding through expressions', () => {
  it('a count inside arithmetic is rounded as a count released whole', async () => {
    const { decision: d } = await rt.attempt(
      'aggregate',
      "SELECT district, count(*) + 0 AS n, count(*) * 1 - 0 AS m, count_if(gender = '女') AS women FROM population GROUP BY 1",
    );
    expect(d.decision).toBe('released');
    expect(d.rows.length).toBeGreaterThan(3);
    for (const r of d.rows) {
      expect(Number(r[1]) % 5, String(r)).toBe(0);
      expect(Number(r[2]) % 5, String(r)).toBe(0);
      expect(Number(r[3]) % 5, String(r)).toBe(0);
    }
  }, 120_000);
});
