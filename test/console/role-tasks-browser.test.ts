import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPLICATION,
  approvedContract,
  buildWorld,
  contractFor,
  reviewedApplication,
  runJob,
  SLOWDOWN,
  type TestWorld,
} from '../helpers.ts';
import { checkPage, launch, signIn, type Person } from './browser.ts';

const WAIT = { timeout: 60_000 * SLOWDOWN };

/**
 * Issue 33 in Chromium: each role's main task, done through the console's forms, every page on the
 * way checked at 1280 and 390 px (checkPage: axe, no sideways scroll on a phone) — the operator
 * applies, submits SQL and downloads a released output; the provider reviews a request; the
 * bureau decides an application and votes on a held output; risk staff read a report. The queues
 * show each row's key facts on a phone, not only its id.
 */
describe("each role's main task in a browser, at 1280 and 390 px", () => {
  let world: TestWorld;
  let browser: Browser;
  let base: string;
  let contractId = '';
  let forProvider = '';
  let forBureau = '';
  let heldOutput = '';
  let reportId = '';

  const as = (role: 'operator' | 'provider' | 'bureau' | 'risk'): Promise<Person> =>
    signIn(browser, base, world.platform.keys, {
      role,
      ...{
        operator: { org: 'org-a', sub: 'zhang.wei' },
        provider: { org: 'org-psb', sub: 'li.na' },
        bureau: { org: 'org-bureau', sub: 'wang.fang' },
        risk: { org: 'org-bureau', sub: 'zhao.lei' },
      }[role],
    });
  /** Submits the page's form by its button and waits for the answer's flash, which must not be an error. */
  const submit = async (page: Page, button: string) => {
    await page.getByRole('button', { name: button }).click();
    const flash = page.locator('.flash').first();
    await flash.waitFor(WAIT);
    expect(await flash.getAttribute('class'), await flash.innerText()).toContain('ok');
  };
  /** At 390 px: the first row of the page's queue shows `facts` beside its id, inside the screen. */
  const queueAtPhone = async (page: Page, url: string, facts: RegExp[]) => {
    await page.goto(`${base}${url}`);
    await page.setViewportSize({ width: 390, height: 844 });
    const row = page.locator('tbody tr').first();
    await row.waitFor(WAIT);
    const text = await row.innerText();
    for (const f of facts) expect(text, url).toMatch(f);
    for (const cell of await row.locator('td').all()) {
      const box = await cell.boundingBox();
      if (box) expect(box.x + box.width, url).toBeLessThanOrEqual(391);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth), url).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });
  };

  beforeAll(async () => {
    world = await buildWorld();
    contractId = await approvedContract(world, 'org-a');
    const custom = await contractFor(world, {
      ...APPLICATION,
      datasets: APPLICATION.datasets.map((d) => ({ ...d, columns: [...d.columns] })),
      mode: 'custom',
      scenario: { name: '定制', purpose: '人工审核' },
    });
    const op = await world.token('operator', 'org-a', 'zhang.wei');
    heldOutput = (await runJob(world, op, custom, 'SELECT district, count(*) AS people FROM population GROUP BY 1'))
      .outputId as string;
    const filed = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: APPLICATION,
    });
    forProvider = filed.json().id as string;
    forBureau = await reviewedApplication(world, 'org-a', APPLICATION);
    const rep = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
      payload: { contractId },
    });
    reportId = rep.json().report.id as string;
    base = await world.server.listen({ port: 0, host: '127.0.0.1' });
    browser = await launch();
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it('the operator applies, submits SQL, and downloads the released output', async () => {
    const person = await as('operator');
    const { page } = person;
    await page.goto(`${base}/console/applications/new`);
    await page.getByLabel('场景名称').fill('区县人口结构');
    await page.getByLabel('用途').fill('公共服务规划');
    await page.getByLabel('联系人').fill('数智科技 安全负责人');
    await page.getByLabel('触发条件（每行一条）').fill('疑似重识别');
    await page.getByLabel('处置措施（每行一条）').fill('暂停合约');
    await page.getByRole('checkbox', { name: '申请此数据集' }).first().check();
    await page.getByRole('checkbox', { name: '申请字段 population.district' }).check();
    await page.getByRole('button', { name: '提交申请' }).click();
    await page.waitForURL(/\/console\/applications\/app_[a-z0-9]+$/, WAIT);
    await checkPage(page, 'task-operator-application');

    await page.goto(`${base}/console/contracts/${contractId}/sql`);
    await page.locator('#sql').fill('SELECT district, count(*) AS people FROM population GROUP BY 1');
    await page.getByRole('button', { name: '提交作业' }).click();
    await page.waitForURL(/\/console\/jobs\/job_[a-z0-9]+$/, WAIT);
    // the job page updates itself as the job runs: wait for the link to its output
    const toOutput = page.locator('a[href^="/console/outputs/out_"]').first();
    await toOutput.waitFor(WAIT);
    await toOutput.click();
    await page.waitForURL(/\/console\/outputs\/out_[a-z0-9]+$/, WAIT);
    await checkPage(page, 'task-operator-output');
    const [download] = await Promise.all([
      page.waitForEvent('download', WAIT),
      page.getByRole('link', { name: '下载 CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const body = await (await download.createReadStream()).toArray();
    expect(Buffer.concat(body).toString('utf8')).toContain('district');
    await queueAtPhone(page, '/console/jobs', [/job_\w+/, /已发布/]);
    expect(person.errors).toEqual([]);
    await person.context.close();
  });

  it('the provider reviews a request', async () => {
    const person = await as('provider');
    const { page } = person;
    await queueAtPhone(page, '/console/reviews', [/区县收入结构/, /org-a/]);
    await page.goto(`${base}/console/applications/${forProvider}`);
    await page.getByRole('radio', { name: '同意' }).check();
    await page.getByLabel('理由（拒绝时必填）').fill('字段与场景相符');
    await submit(page, '提交审核');
    await checkPage(page, 'task-provider-review');
    expect(person.errors).toEqual([]);
    await person.context.close();
  });

  it('the bureau decides an application and votes on a held output', async () => {
    const person = await as('bureau');
    const { page } = person;
    await queueAtPhone(page, '/console/applications', [/区县(收入|人口)结构/, /org-a/, /待审核|已批准/]);
    await page.goto(`${base}/console/applications/${forBureau}`);
    await page.getByRole('radio', { name: '批准并签署合约' }).check();
    await page.getByLabel('理由', { exact: true }).fill('场景合规，风险可控');
    const override = page.getByLabel('越过政策提示的理由（批准时必填，将写入合约与风险报告）');
    if (await override.count()) await override.fill('合成测试数据');
    await submit(page, '提交决定');
    await checkPage(page, 'task-bureau-decision');

    await queueAtPhone(page, '/console/outputs/held', [/ctr_\w+/, /job_\w+/, /定制模式/]);
    await page.goto(`${base}/console/outputs/${heldOutput}/review`);
    await page.getByRole('radio', { name: '同意发布' }).check();
    await submit(page, '提交投票');
    await checkPage(page, 'task-bureau-vote');
    expect(person.errors).toEqual([]);
    await person.context.close();
  });

  it('risk staff read a report', async () => {
    const person = await as('risk');
    const { page } = person;
    await queueAtPhone(page, '/console/reports', [/rpt_\w+/]);
    await page.goto(`${base}/console/reports`);
    await page.locator(`a[href="/console/reports/${reportId}"]`).first().click();
    await page.waitForURL(new RegExp(`/console/reports/${reportId}$`), WAIT);
    await checkPage(page, 'task-risk-report');
    expect(await page.locator('main').innerText()).toMatch(/评级/);
    expect(person.errors).toEqual([]);
    await person.context.close();
  });
});
