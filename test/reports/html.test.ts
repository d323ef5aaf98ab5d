import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_COLORS as COLORS } from '../../src/reports/index.ts';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  signedContract,
  waitForJob,
  type TestWorld,
  TEST_OVERRIDE,
} from '../helpers.ts';

/** Debian's Chromium (`apt-get install chromium`); .ci/run installs it. Missing, the test fails rather than skips, as the Redis tests do. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Pixels within a small distance of a colour: the chart's marks as the browser painted them. */
function pixelsOf(png: Buffer, hex: string): number {
  const { data } = PNG.sync.read(png);
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i]! - r!) + Math.abs(data[i + 1]! - g!) + Math.abs(data[i + 2]! - b!) < 24) n++;
  }
  return n;
}

describe('the HTML report in headless Chromium', () => {
  let world: TestWorld;
  let browser: Browser;
  let url: string;
  let operatorUrl: string;
  let dpUrl: string;
  let token: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (.ci/run does), or set CHROMIUM_PATH`);
    world = await buildWorld();
    const contract = await approvedContract(world, 'org-a');
    const op = await world.token('operator', 'org-a');
    for (const sql of [
      "SELECT * FROM read_csv('/etc/passwd')",
      'SELECT count(*) FROM information_schema.tables',
      'SELECT district, count(*) FROM population GROUP BY 1',
    ]) {
      const res = await world.server.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: `Bearer ${op}` },
        payload: { contractId: contract, sql },
      });
      await waitForJob(world, op, res.json().id as string);
    }
    // a dp contract that spent ε on one query, for the budget meter
    const app = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: { ...APPLICATION, mode: 'dp', scenario: { name: 'dp', purpose: 'dp' } },
    });
    await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${String(app.json().id)}/reviews`,
      headers: { authorization: `Bearer ${await world.token('provider', 'org-psb')}` },
      payload: { dataset: 'population', decision: 'approve' },
    });
    const dec = await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${String(app.json().id)}/decision`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
      payload: {
        decision: 'approve',
        reason: 'ok',
        terms: { epsilon: 2, epsilonPerQuery: 1 },
        override: TEST_OVERRIDE,
      },
    });
    const dpContract = await signedContract(world, dec);
    const dpJob = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: {
        contractId: dpContract,
        sql: 'SELECT district, count(*) AS people FROM population GROUP BY district',
        dp: { bounds: {} },
      },
    });
    expect(await waitForJob(world, op, dpJob.json().id as string)).toMatchObject({ status: 'released' });

    token = await world.token('risk', 'org-bureau');
    const make = async (payload: object) => {
      const made = await world.server.inject({
        method: 'POST',
        url: '/v1/reports',
        headers: { authorization: `Bearer ${token}` },
        payload,
      });
      expect(made.statusCode, made.body).toBe(201);
      return String(made.json().html);
    };
    const [contractPage, operatorPage, dpPage] = [
      await make({ contractId: contract }),
      await make({ operatorOrg: 'org-a' }),
      await make({ contractId: dpContract }),
    ];
    const address = await world.server.listen({ port: 0, host: '127.0.0.1' });
    url = `${address}${contractPage}`;
    operatorUrl = `${address}${operatorPage}`;
    dpUrl = `${address}${dpPage}`;
    // the flags this machine's Chromium needs: no sandbox as root, no background network
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it("renders every chart with its marks drawn, under the page's own strict CSP, with nothing blocked", async () => {
    const page = await browser.newPage({
      viewport: { width: 1100, height: 900 },
      extraHTTPHeaders: { authorization: `Bearer ${token}` },
    });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => {
      if (r.url() !== url) problems.push(`fetched ${r.url()}`);
    });
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    expect(await page.title()).toContain('风险评估报告');

    // a legend square is 100 pixels: the thresholds need the marks themselves
    const expected: Record<string, [string[], number]> = {
      'jobs-by-outcome': [[COLORS.released, COLORS.rejected], 1000],
      'refusals-by-rule': [[COLORS.escape], 1000],
      timeline: [[COLORS.submitted, COLORS.rejected, COLORS.escape], 300],
    };
    for (const [chart, [colors, least]] of Object.entries(expected)) {
      const svg = page.locator(`svg[data-chart="${chart}"]`);
      const box = await svg.boundingBox();
      expect(box, chart).not.toBeNull();
      expect(box!.width * box!.height, chart).toBeGreaterThan(10_000);
      const shot = await svg.screenshot();
      for (const color of colors)
        expect(pixelsOf(shot, color), `${chart} has marks in ${color}`).toBeGreaterThan(least);
    }
    // no output was held: only its legend square is in the held colour, so the counting can tell
    expect(pixelsOf(await page.locator('svg[data-chart="jobs-by-outcome"]').screenshot(), COLORS.held)).toBeLessThan(
      200,
    );
    const badge = await page.locator('#rating').screenshot();
    expect(pixelsOf(badge, COLORS.held), 'two escape attempts rate the period medium').toBeGreaterThan(100);

    const full = await page.screenshot({ fullPage: true });
    const out = path.join(world.dataDir, 'report.png');
    fs.writeFileSync(out, full);
    expect(PNG.sync.read(full).height).toBeGreaterThan(1500);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("an operator's page charts its contracts by rating; a dp contract's page fills the ε meter", async () => {
    const page = await browser.newPage({
      viewport: { width: 1100, height: 900 },
      extraHTTPHeaders: { authorization: `Bearer ${token}` },
    });
    expect((await page.goto(operatorUrl))?.status()).toBe(200);
    // the risky contract's bar in the medium colour (two escape attempts), the dp contract has none refused
    expect(pixelsOf(await page.locator('svg[data-chart="contracts"]').screenshot(), COLORS.held)).toBeGreaterThan(1000);
    expect((await page.goto(dpUrl))?.status()).toBe(200);
    // ε 1 of 2 spent: half the meter's track is filled
    const meter = await page.locator('svg[data-chart="privacy-budget"]').screenshot();
    const filled = pixelsOf(meter, COLORS.budget);
    const track = pixelsOf(meter, COLORS.track);
    expect(filled).toBeGreaterThan(2000);
    expect(filled / (filled + track)).toBeGreaterThan(0.4);
    expect(filled / (filled + track)).toBeLessThan(0.6);
    await page.close();
  });
});
