import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorld, SLOWDOWN, type TestWorld } from '../helpers.ts';
import { checkPage, launch, signIn, type Person } from './browser.ts';

const WAIT = { timeout: 30_000 * SLOWDOWN };

/** Issue 33 item 3 in Chromium: the parameters follow the chosen rule and the live preview passes without an override. */
describe('the application form in a browser: a parameterised masking choice', () => {
  let world: TestWorld;
  let browser: Browser;
  let base: string;
  let person: Person;

  beforeAll(async () => {
    world = await buildWorld({ rows: 20_000 });
    base = await world.server.listen({ port: 0, host: '127.0.0.1' });
    browser = await launch();
    person = await signIn(browser, base, world.platform.keys, { role: 'operator', org: 'org-a', sub: 'zhang.wei' });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it('age bands with a top band and income ranges: the preview passes, and the application needs no override', async () => {
    const { page } = person;
    await page.goto(`${base}/console/applications/new`);
    await page.getByLabel('场景名称').fill('区县年龄收入结构');
    await page.getByLabel('用途').fill('普惠金融产品设计');
    await page.getByLabel('联系人').fill('数智科技 安全负责人');
    await page.getByRole('checkbox', { name: '申请此数据集' }).first().check();
    for (const col of ['district', 'birth_date', 'income'])
      await page.getByRole('checkbox', { name: `申请字段 population.${col}` }).check();
    const width = page.getByLabel('年龄段：每段年数').first();
    // only the chosen rule's parameters are shown (the default, generalize:year, has none)
    expect(await width.isVisible()).toBe(false);
    await page.getByLabel('birth_date 的脱敏规则').selectOption('generalize:age-band');
    expect(await width.isVisible()).toBe(true);
    await page.getByLabel('income 的脱敏规则').selectOption('generalize:range');
    await page.locator('#risk-preview', { hasText: '泛化：10 岁年龄段，80 岁及以上合并' }).waitFor(WAIT);
    await page.locator('#risk-preview', { hasText: '风险预览符合政策' }).waitFor(WAIT);
    // clearing the top band recomputes: the oldest ages are few in some districts
    await page.getByLabel('年龄段：此年龄及以上合为一段（可空）').first().fill('');
    await page.getByLabel('年龄段：此年龄及以上合为一段（可空）').first().dispatchEvent('change');
    await page.locator('#risk-preview', { hasText: '政策提示' }).waitFor(WAIT);
    await page.getByLabel('年龄段：此年龄及以上合为一段（可空）').first().fill('80');
    await page.getByLabel('年龄段：此年龄及以上合为一段（可空）').first().dispatchEvent('change');
    await page.locator('#risk-preview', { hasText: '风险预览符合政策' }).waitFor(WAIT);
    await checkPage(page, 'application-form-masking');
    await page.getByRole('button', { name: '提交申请' }).click();
    await page.waitForURL(/\/console\/applications\/app_/);
    expect(await page.locator('main').textContent()).toContain('风险预览符合政策');
    expect(person.errors).toEqual([]);
  });
});
