import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorld, contractFor, SLOWDOWN, type TestWorld } from '../helpers.ts';
import { checkPage, launch, signIn, type Person } from './browser.ts';

const WAIT = { timeout: 60_000 * SLOWDOWN };

/**
 * Issue 33 in Chromium: an operator runs a query template from the console — fills its parameters,
 * submits, follows the job page as it updates — and the released output shows its chart beside the
 * table (side by side on a desk, one above the other on a phone, never scrolling sideways).
 */
describe('a query template run in a browser, with its chart', () => {
  let world: TestWorld;
  let browser: Browser;
  let base: string;
  let person: Person;
  let insurance: string;

  beforeAll(async () => {
    world = await buildWorld();
    insurance = await contractFor(world, {
      scenario: { name: '参保趋势', purpose: '各月参保人数' },
      mode: 'aggregate',
      termMonths: 12,
      datasets: [{ dataset: 'social_insurance', columns: ['month'] }],
      emergencyPlan: { contact: 'sec@org-a', triggers: ['t'], actions: ['a'] },
    });
    base = await world.server.listen({ port: 0, host: '127.0.0.1' });
    browser = await launch();
    person = await signIn(browser, base, world.platform.keys, { role: 'operator', org: 'org-a', sub: 'zhang.wei' });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it('fills the months, runs 各月参保人数, and the output page draws the line beside the table', async () => {
    const { page } = person;
    await page.goto(`${base}/console/templates?contract=${insurance}`);
    await page.locator('#tp-insured-by-month-from_month').fill('2025-01');
    await page.locator('#tp-insured-by-month-to_month').fill('2025-12');
    await page.getByRole('button', { name: '运行模板 各月参保人数' }).click();
    await page.waitForURL(/\/console\/jobs\/job_[a-z0-9]+$/, WAIT);
    // the job page updates itself as the job runs: wait for the link to its output to appear
    const toOutput = page.locator('a[href^="/console/outputs/out_"]').first();
    await toOutput.waitFor(WAIT);
    await toOutput.click();
    await page.waitForURL(/\/console\/outputs\/out_[a-z0-9]+$/, WAIT);

    const chart = page.locator('.data-with-chart svg.chart[data-chart="line"]');
    const table = page.locator('.data-with-chart table');
    await chart.waitFor(WAIT);
    expect(await chart.isVisible()).toBe(true);
    expect(await table.isVisible()).toBe(true);
    expect(await page.locator('.data-with-chart polyline.line').count()).toBe(1);
    const rows = await table.locator('tbody tr').count();
    expect(rows).toBeGreaterThan(1);
    // on a desk: the chart to the right of the table, at the same height
    const [t, c] = [(await table.boundingBox())!, (await chart.boundingBox())!];
    expect(c.x).toBeGreaterThanOrEqual(t.x + t.width - 1);
    expect(Math.abs(c.y - t.y)).toBeLessThan(t.height);
    // every page check (axe, both widths, no sideways scroll at 390 px)
    await checkPage(page, 'template-output');
    // on a phone: the chart below the table, inside the screen
    await page.setViewportSize({ width: 390, height: 844 });
    const [t2, c2] = [(await table.boundingBox())!, (await chart.boundingBox())!];
    expect(c2.y).toBeGreaterThanOrEqual(t2.y + t2.height - 1);
    expect(c2.x + c2.width).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(person.errors).toEqual([]);
    expect(person.foreign).toEqual([]);
  });
});
