import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalJWKSet } from 'jose';
import { bureauJwks } from '../../src/keys/index.ts';
import { verifyOutputFile } from '../../src/outputs/index.ts';
import { APPLICATION, approvedContract, buildWorld, SLOWDOWN, type TestWorld } from '../helpers.ts';
import { checkPage, launch, signIn, type Person } from './browser.ts';

const OPERATOR = { role: 'operator', org: 'org-shuzhi', sub: 'zhang.wei' } as const;
const PROVIDER = { role: 'provider', org: 'org-psb', sub: 'li.na' } as const;
const BUREAU = { role: 'bureau', org: 'org-bureau', sub: 'wang.fang' } as const;
const BUREAU2 = { role: 'bureau', org: 'org-bureau', sub: 'chen.jie' } as const;
const RISK = { role: 'risk', org: 'org-bureau', sub: 'zhao.lei' } as const;
const WAIT = { timeout: 30_000 * SLOWDOWN };

describe('the web console, each role through the UI only', () => {
  let world: TestWorld;
  let browser: Browser;
  let base: string;
  const people: Person[] = [];
  const as = async (who: Parameters<typeof signIn>[3]) => {
    const p = await signIn(browser, base, world.platform.keys, who);
    people.push(p);
    return p;
  };
  let applicationId = '';
  let contractId = '';
  let outputId = '';
  let jobId = '';

  beforeAll(async () => {
    world = await buildWorld();
    base = await world.server.listen({ port: 0, host: '127.0.0.1' });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it('the sign-in page and the error page pass the same checks', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/console/`);
    await page.waitForURL(/\/console\/signin/);
    expect(await page.locator('main').textContent()).toContain('pds login-link');
    await checkPage(page, 'signin');
    expect((await page.goto(`${base}/console/no-such-page`))!.status()).toBe(404);
    await checkPage(page, 'not-found');
    await context.close();
  });

  it('operator: reads the catalog and applies, choosing masking with the live risk preview', async () => {
    const { page } = await as(OPERATOR);
    await checkPage(page, 'operator-home');
    await page.getByRole('navigation').getByRole('link', { name: '数据目录' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('数据目录');
    await checkPage(page, 'catalog');
    // the negative list is visible and not selectable
    expect(await page.getByText('是，不可申请').count()).toBeGreaterThan(0);

    await page.goto(`${base}/console/applications/new`);
    await page.getByLabel('场景名称').fill('区县居民收入结构分析');
    await page.getByLabel('用途').fill('为普惠金融产品设计提供区县级收入分布参考');
    await page.getByLabel('联系人').fill('数智科技 安全负责人');
    await page.getByRole('checkbox', { name: '申请此数据集' }).first().check();
    for (const col of ['district', 'gender', 'education', 'income'])
      await page.getByRole('checkbox', { name: `申请字段 population.${col}` }).check();
    // the preview follows the form (console.js posts it as it changes)
    await page.locator('#risk-preview table').first().waitFor(WAIT);
    expect(await page.locator('#risk-preview').textContent()).toContain('检察官风险');
    await checkPage(page, 'application-form');
    await page.getByRole('button', { name: '提交申请' }).click();
    await page.waitForURL(/\/console\/applications\/app_/);
    applicationId = page.url().split('/').pop()!;
    expect(await page.locator('.flash').textContent()).toContain('已提交');
    await checkPage(page, 'application');
    await page.getByRole('navigation').getByRole('link', { name: '申请' }).click();
    expect(await page.locator('tbody').textContent()).toContain(applicationId);
    await checkPage(page, 'applications');
  });

  it('provider: sees the review in its queue with its deadline and approves it', async () => {
    const { page } = await as(PROVIDER);
    await page.getByRole('navigation').getByRole('link', { name: '审核队列' }).click();
    await checkPage(page, 'review-queue');
    await page.getByRole('link', { name: applicationId }).click();
    // nothing is chosen for the reviewer (issue 33)
    expect(await page.getByRole('radio', { name: '同意' }).isChecked()).toBe(false);
    await page.getByRole('radio', { name: '同意' }).check();
    await page.getByRole('button', { name: '提交审核' }).click();
    await page.waitForURL(`${base}/console/applications/${applicationId}`);
    expect(await page.locator('.flash').textContent()).toContain('已提交对 population 的审核意见');
  });

  it('bureau: a warned decision is refused without an override, then approved with one', async () => {
    const { page } = await as(BUREAU);
    await page.goto(`${base}/console/applications/${applicationId}`);
    await checkPage(page, 'decision');
    expect(await page.locator('.notice.warn').first().textContent()).toContain('政策提示');
    await page.getByRole('radio', { name: '批准并签署合约' }).check();
    await page.getByLabel('理由', { exact: true }).fill('场景合规，风险可控');
    await page.getByRole('button', { name: '提交决定' }).click();
    await page.waitForURL(`${base}/console/applications/${applicationId}`);
    expect(await page.locator('.flash.error').textContent()).toContain('ERR_DECISION_OVERRIDE_REQUIRED');
    // the refused decision comes back as it was entered (issue 33)
    expect(await page.getByRole('radio', { name: '批准并签署合约' }).isChecked()).toBe(true);
    expect(await page.getByLabel('理由', { exact: true }).inputValue()).toBe('场景合规，风险可控');
    await page.getByLabel(/越过政策提示的理由/).fill('合成测试数据；仅区县级汇总，输出经披露控制');
    await page.getByRole('button', { name: '提交决定' }).click();
    await page.waitForURL(/\/console\/contracts\/ctr_/);
    contractId = page.url().split('/').pop()!;
    // the snapshot is built after the decision: the page shows its progress until it is signed
    if (await page.locator('#build-meter').isVisible()) {
      await checkPage(page, 'contract-building');
      await page.locator('[data-build-note]', { hasText: '合约已签署生效' }).waitFor(WAIT);
      await page.getByRole('link', { name: '查看合约' }).click();
    }
    await page.locator('.verified').first().waitFor(WAIT);
    expect(await page.locator('.verified').first().textContent()).toContain('签名有效');
    await checkPage(page, 'contract');
    // the yearly effectiveness assessment, recorded on the contract
    await page.getByLabel(/指标/).fill('服务企业数=120/100=是\n投诉数=0/0=是');
    await page.getByLabel('评估人').fill('第三方评估机构');
    await page.getByRole('radio', { name: '通过', exact: true }).check();
    await page.getByRole('button', { name: '记录评估' }).click();
    expect(await page.locator('.flash').textContent()).toContain('评估已记录');
    expect(await page.getByRole('region', { name: '成效评估' }).textContent()).toContain('服务企业数：120 / 100');
  });

  it('operator: validates, runs on dummy data, submits, watches the job, downloads and verifies', async () => {
    const { page } = people[0]!;
    await page.goto(`${base}/console/contracts/${contractId}`);
    await page.getByRole('link', { name: '编写分析 SQL' }).click();
    const sql = page.getByLabel('SQL', { exact: true });
    await sql.fill('SELECT district, religion, count(*) AS people FROM population GROUP BY 1, 2');
    await page.getByRole('button', { name: '校验' }).click();
    expect(await page.locator('#sql-result').textContent()).toContain('未通过校验');
    await page
      .getByLabel('SQL', { exact: true })
      .fill(
        'SELECT district, education, count(*) AS people, round(avg(income), 0) AS avg_income FROM population GROUP BY district, education',
      );
    await page.getByRole('button', { name: '在模拟数据上运行' }).click();
    expect(await page.locator('#sql-result').textContent()).toContain('模拟数据上的结果');
    await checkPage(page, 'sql-editor');
    await page.getByLabel('作业名称').fill('区县×学历收入');
    await page.getByRole('button', { name: '提交作业' }).click();
    await page.waitForURL(/\/console\/jobs\/job_/);
    jobId = page.url().split('/').pop()!;
    // console.js polls the status and reloads the page when the job is done
    await page.getByRole('link', { name: /^out_/ }).waitFor(WAIT);
    expect(await page.locator('.facts').textContent()).toContain('已发布');
    await checkPage(page, 'job');
    await page.getByRole('link', { name: /^out_/ }).click();
    outputId = page.url().split('/').pop()!;
    expect(await page.locator('table').first().textContent()).toContain('min-units');
    expect(await page.locator('.verified').first().textContent()).toContain('发布清单签名有效');
    await checkPage(page, 'output');

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByText('下载 CSV').click()]);
    const [jws] = await Promise.all([page.waitForEvent('download'), page.getByText('下载发布清单').click()]);
    const file = (await csv.path())!;
    const check = await verifyOutputFile(
      fs.readFileSync(file),
      'csv',
      fs.readFileSync((await jws.path())!, 'utf8'),
      createLocalJWKSet(bureauJwks(world.platform.keys) as never),
    );
    expect(check.ok).toBe(true);
    // and in the browser: the file's SHA-256 against the manifest, computed locally
    await page.getByLabel(/校验已下载的文件/).setInputFiles(file);
    await expect.poll(() => page.locator('[data-verify-result]').textContent()).toContain('✓');
    fs.writeFileSync(`${file}.bad`, Buffer.concat([fs.readFileSync(file), Buffer.from('1')]));
    await page.getByLabel(/校验已下载的文件/).setInputFiles(`${file}.bad`);
    await expect.poll(() => page.locator('[data-verify-result]').textContent()).toContain('✗');
    await page.goto(`${base}/console/jobs`);
    await checkPage(page, 'jobs');
    await page.getByRole('navigation').getByRole('link', { name: '合约' }).click();
    expect(await page.locator('tbody').textContent()).toContain(contractId);
    await checkPage(page, 'contracts');
  });

  it('bureau: two reviewers release a held custom output with blinded votes', async () => {
    const custom = await approvedContract(world, OPERATOR.org, {
      ...APPLICATION,
      mode: 'custom',
      scenario: { name: '定制分析', purpose: '人工审核输出' },
    });
    const op = people[0]!.page;
    await op.goto(`${base}/console/contracts/${custom}/sql`);
    await op
      .getByLabel('SQL', { exact: true })
      .fill('SELECT district, count(*) AS people FROM population GROUP BY district');
    await op.getByRole('button', { name: '提交作业' }).click();
    await op.waitForURL(/\/console\/jobs\/job_/);
    await op.getByRole('link', { name: /^out_/ }).waitFor(WAIT);
    expect(await op.locator('.facts').textContent()).toContain('待人工审核');

    const one = (await as(BUREAU)).page;
    await one.getByRole('navigation').getByRole('link', { name: '待审输出' }).click();
    await checkPage(one, 'held-queue');
    await one.locator('tbody a').first().click();
    await checkPage(one, 'output-review');
    expect(await one.locator('pre.sql').first().textContent()).toContain('GROUP BY district');
    expect(await one.getByText('同一 SQL 在模拟数据上的结果').count()).toBe(1);
    await one.getByRole('radio', { name: '同意发布' }).check();
    await one.getByRole('button', { name: '提交投票' }).click();
    expect(await one.locator('.flash').textContent()).toContain('等待第二位审核人');
    const reviewUrl = one.url();

    const two = (await as(BUREAU2)).page;
    await two.goto(reviewUrl);
    // blinded: the second reviewer does not see the first vote before casting theirs
    expect(await two.getByText('wang.fang').count()).toBe(0);
    await two.getByRole('radio', { name: '同意发布' }).check();
    await two.getByRole('button', { name: '提交投票' }).click();
    expect(await two.locator('.flash').textContent()).toContain('已发布');
    expect(await two.locator('table').last().textContent()).toContain('wang.fang');
  });

  it('operator: previews a dp query’s ε and each statistic’s error, then runs it with its bounds', async () => {
    const dp = await approvedContract(world, OPERATOR.org, {
      ...APPLICATION,
      mode: 'dp',
      scenario: { name: '差分隐私分析', purpose: '区县收入均值' },
    });
    const op = people[0]!.page;
    await op.goto(`${base}/console/contracts/${dp}/sql`);
    await op
      .getByLabel('SQL', { exact: true })
      .fill('SELECT district, count(*) AS people, avg(income) AS mean_income FROM population GROUP BY district');
    await op.getByLabel(/取值范围/).fill('income=0:100000');
    await op.getByRole('button', { name: '预览 ε 与误差' }).click();
    const shown = await op.locator('#sql-result').textContent();
    expect(shown).toContain('本次查询消耗 ε 1');
    expect(shown).toContain('公开代码表');
    expect(shown).toContain('均值（income）');
    await checkPage(op, 'dp-preview');
    // a malformed bound is named, not sent
    await op.getByLabel(/取值范围/).fill('income=zero:100000');
    await op.getByRole('button', { name: '预览 ε 与误差' }).click();
    expect(await op.locator('#sql-result').textContent()).toContain('应写作 列名=下限:上限');
    await op.getByLabel(/取值范围/).fill('income=0:100000');
    await op.getByRole('button', { name: '提交作业' }).click();
    await op.waitForURL(/\/console\/jobs\/job_/);
    await op.getByRole('link', { name: /^out_/ }).waitFor(WAIT);
  });

  it('risk: opens a signed report inside the console and verifies the audit trail', async () => {
    const { page } = await as(RISK);
    await page.getByRole('navigation').getByRole('link', { name: '风险报告' }).click();
    await page.getByLabel('合约', { exact: true }).check();
    await page.getByLabel(/合约编号或运营单位/).fill(contractId);
    await page.getByRole('button', { name: '生成' }).click();
    await page.waitForURL(/\/console\/reports\/rpt_/);
    const frame = page.frameLocator('iframe.report-frame');
    await frame.locator('h1').first().waitFor(WAIT);
    expect(await frame.locator('body').textContent()).toContain(contractId);
    await checkPage(page, 'report');
    await page.goto(`${base}/console/reports`);
    await checkPage(page, 'reports');
    await page.getByRole('navigation').getByRole('link', { name: '审计日志' }).click();
    await page.getByRole('button', { name: /校验整条哈希链/ }).click();
    expect(await page.locator('.verified').textContent()).toContain('审计链完整');
    await checkPage(page, 'audit');
    await page.getByLabel('操作').fill('console.signed_in');
    await page.getByRole('button', { name: '筛选' }).click();
    expect(await page.locator('tbody tr').count()).toBeGreaterThanOrEqual(6);
    // the emergency plan's kill switch, then the trail of suspensions
    await page.goto(`${base}/console/contracts/${contractId}`);
    await page.getByLabel('暂停的理由').fill('应急预案触发：输出异常待核查');
    await page.getByRole('button', { name: '暂停', exact: true }).click();
    // a suspension is asked once more (issue 33)
    await checkPage(page, 'confirm');
    await page.getByRole('button', { name: '确认暂停' }).click();
    expect(await page.locator('.flash').textContent()).toContain('合约已暂停');
    await page.goto(`${base}/console/audit`);
    await page.getByRole('link', { name: '合约暂停' }).click();
    expect(await page.locator('tbody').textContent()).toContain(contractId);
  });

  it('operator acknowledges the report about it and gives feedback; the provider answers', async () => {
    const { page } = people[0]!;
    await page.goto(`${base}/console/reports`);
    await page.locator('tbody a').first().click();
    await page.getByLabel('说明').fill('已核查输出，暂停期间停止作业');
    await page.getByRole('button', { name: '确认' }).click();
    expect(await page.locator('.flash').textContent()).toContain('确认书已由数据主管部门签名');
    await page.goto(`${base}/console/feedback`);
    await page.getByLabel('数据集').fill('population');
    await page.getByLabel('主题').fill('学历字段缺失较多');
    await page.getByLabel('内容').fill('部分区县学历为空');
    await page.getByRole('button', { name: '提交反馈' }).click();
    expect(await page.locator('.flash').textContent()).toContain('反馈已提交');
    await checkPage(page, 'feedback');
    const provider = people[1]!.page;
    await provider.goto(`${base}/console/feedback`);
    await provider.getByLabel(/答复 学历字段缺失较多/).fill('已通知数据源单位补录');
    await provider.getByRole('button', { name: '答复' }).click();
    expect(await provider.locator('.flash').textContent()).toContain('已答复');
    expect(await provider.locator('tbody').textContent()).toContain('已通知数据源单位补录');
  });

  it("another operator's session reaches none of these pages (the API's IDOR checks, through the console)", async () => {
    const other = await as({ role: 'operator', org: 'org-other', sub: 'eve' });
    for (const url of [
      `/console/applications/${applicationId}`,
      `/console/contracts/${contractId}`,
      `/console/contracts/${contractId}/sql`,
      `/console/jobs/${jobId}`,
      `/console/outputs/${outputId}`,
      `/console/outputs/${outputId}/data.csv`,
      `/console/outputs/${outputId}/manifest.jws`,
      `/console/contracts/${contractId}/dummy?format=duckdb`,
    ]) {
      const res = await other.context.request.get(`${base}${url}`, { maxRedirects: 0 });
      expect(res.status(), url).toBe(404);
      expect(await res.text(), url).not.toContain('district');
    }
    // nor can it act on them: a form posted with its own valid CSRF token is still the API's refusal
    await other.page.goto(`${base}/console/contracts`);
    expect(await other.page.locator('tbody tr').count()).toBe(0);
    const csrf = await other.page.locator('input[name=_csrf]').first().inputValue();
    const res = await other.context.request.post(`${base}/console/jobs/${jobId}/thread`, {
      form: { _csrf: csrf, body: 'hello' },
      maxRedirects: 0,
    });
    expect(res.status()).toBe(303);
    await other.page.goto(`${base}/console/contracts`);
    expect(await other.page.locator('.flash.error').textContent()).toContain('ERR_NOT_FOUND');
  });

  it('provider withdraws its dataset on an objection: the contracts using it are suspended', async () => {
    const { page } = people[1]!;
    await page.goto(`${base}/console/catalog`);
    await page.getByLabel('撤回理由（异议）').fill('数据主体提出异议，核查中');
    await page.getByRole('button', { name: '撤回数据集 population' }).click();
    await page.getByRole('button', { name: '确认撤回' }).click();
    expect(await page.locator('.flash').textContent()).toContain('已撤回');
  });

  it('no page logged a console error or fetched anything from another origin', () => {
    // the IDOR probes above answered 404 by design (through the request API, not a page)
    expect(people.flatMap((p) => p.errors)).toEqual([]);
    expect(people.flatMap((p) => p.foreign)).toEqual([]);
  });
});
