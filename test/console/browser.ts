/**
 * The console in headless Chromium (Debian's, through playwright-core): sign-in by link, and the
 * checks every page gets — axe-core with no serious or critical violation, screenshots at 1280 and
 * 390 px saved under test-results/console and checked for the main elements' pixels, no horizontal
 * scrolling on a phone, no console error and nothing fetched from another origin.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { expect } from 'vitest';
import type { UserRole } from '../../src/auth/index.ts';
import { issueLoginLink } from '../../src/console/index.ts';
import type { KeyRing } from '../../src/keys/index.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = path.resolve('test-results', 'console');
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The console's brand colour (console.css --brand), painted by the header bar. */
const BRAND = '#0b4f8a';
/** The ink of headings and text. */
const INK = '#1b1f24';

export function pixelsOf(png: Buffer, hex: string, tolerance = 24): number {
  const { data } = PNG.sync.read(png);
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let i = 0; i < data.length; i += 4)
    if (Math.abs(data[i]! - r!) + Math.abs(data[i + 1]! - g!) + Math.abs(data[i + 2]! - b!) < tolerance) n++;
  return n;
}

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (.ci/run does), or set CHROMIUM_PATH`);
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM });
}

/** One person's browser: what went wrong in it is collected for the test to assert on. */
export interface Person {
  context: BrowserContext;
  page: Page;
  errors: string[];
  foreign: string[];
}

export async function signIn(
  browser: Browser,
  base: string,
  keys: KeyRing,
  who: { role: UserRole; org: string; sub: string },
): Promise<Person> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const person: Person = { context, page, errors: [], foreign: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') person.errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => person.errors.push(`${page.url()}: ${String(e)}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) person.foreign.push(r.url());
  });
  const link = await issueLoginLink(keys, { ...who });
  await page.goto(`${base}/console/login?link=${link}`);
  // the confirmation a link opens, checked like every page (once per run)
  await checkPage(page, 'login-confirm');
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL(`${base}/console/`);
  return person;
}

const checked = new Set<string>();

/**
 * The page as it stands: axe-core (WCAG 2.1 A/AA rules and best practices; serious and critical
 * violations fail), then screenshots at 1280 and 390 px with the header's and the heading's pixels
 * counted, and no horizontal scroll at 390. Each named page is checked once per run.
 */
export async function checkPage(page: Page, name: string): Promise<void> {
  if (checked.has(name)) return;
  checked.add(name);
  // evaluated through the DevTools protocol: the page's CSP (no inline script) stays as it is
  await page.evaluate(AXE);
  const result = (await page.evaluate(() =>
    (window as unknown as { axe: { run: (c: Document, o: object) => Promise<unknown> } }).axe.run(document, {
      resultTypes: ['violations'],
    }),
  )) as { violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] };
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    `axe on ${name}`,
  ).toEqual([]);

  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.screenshot({ fullPage: true, path: path.join(SHOTS, `${name}-${width}.png`) });
    // the header bar and the page's heading were painted: the page is not blank or unstyled (counted
    // on the elements' own shots: decoding every full page in JavaScript cost seconds a page)
    const header = await page.locator('header.top').screenshot();
    expect(pixelsOf(header, BRAND), `${name} at ${width}: the header bar`).toBeGreaterThan(width * 20);
    const heading = await page.locator('h1').screenshot();
    expect(pixelsOf(heading, INK, 60), `${name} at ${width}: the heading's text`).toBeGreaterThan(50);
    if (width === 390) {
      // what sticks out past the screen's edge, named, when anything does
      const wide = await page.evaluate(() => {
        if (document.documentElement.scrollWidth <= window.innerWidth) return [];
        // what sticks out: elements and runs of text past the edge, outside a box that scrolls
        const scrolls = (e: Element | null) =>
          e?.closest('.table-wrap, pre') !== null && e?.closest('.table-wrap, pre') !== undefined;
        const out: string[] = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n && out.length < 8; n = walker.nextNode()) {
          const range = document.createRange();
          range.selectNodeContents(n);
          const right =
            n.nodeType === Node.TEXT_NODE
              ? range.getBoundingClientRect().right
              : (n as Element).getBoundingClientRect().right;
          const owner = n.nodeType === Node.TEXT_NODE ? n.parentElement : (n as Element);
          if (right > window.innerWidth + 1 && !scrolls(owner))
            out.push(
              `${owner?.tagName.toLowerCase()}.${owner?.className}: ${(n.textContent ?? '').trim().slice(0, 40)}`,
            );
        }
        return out.length ? out : [`the document (${document.documentElement.scrollWidth} px)`];
      });
      expect(wide, `${name} scrolls sideways on a phone`).toEqual([]);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}
