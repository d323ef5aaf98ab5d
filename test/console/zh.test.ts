/**
 * Issue 33: every console page for every role, and the report page, in zh-CN (English only in
 * code, ids and SQL); forms that keep what was entered after a refusal, start with no decision
 * chosen and ask once more before a destructive choice; the held queue and the report at 390 px.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserRole } from '../../src/auth/index.ts';
import { issueLoginLink } from '../../src/console/index.ts';
import { APPLICATION, buildWorld, reviewedApplication, runJob, signedContract, type TestWorld } from '../helpers.ts';
import { launch } from './browser.ts';

const WHO: Record<UserRole, { org: string; sub: string }> = {
  operator: { org: 'org-a', sub: 'zhang.wei' },
  provider: { org: 'org-psb', sub: 'li.na' },
  bureau: { org: 'org-bureau', sub: 'wang.fang' },
  risk: { org: 'org-bureau', sub: 'zhao.lei' },
};
const OVERRIDE = { reason: '合成测试数据：小规模人口' };

/**
 * Runs of two or more English words in what a person reads: the page less its code, SQL, scripts,
 * styles, attribute values and the lines marked `lang="en"` (an API's detail beside its Chinese
 * sentence, which may only be such a line).
 */
export function englishProse(page: string): string[] {
  const marked = [...page.matchAll(/<(\w+)([^>]*)\slang="en"[^>]*>/g)].map((m) => m[0]);
  for (const tag of marked)
    expect(tag, 'only an error detail or a report sentence is marked English').toMatch(/class="(problem-detail|en)"/);
  const text = page
    .replace(/<(script|style|code|pre|svg|title)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<(\w+)[^>]*\slang="en"[^>]*>[\s\S]*?<\/\1>/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&[a-z#0-9]+;/gi, ' ')
    .replace(/\p{Script=Han}|[\u3000-\u303f\uff00-\uffef]/gu, ' ');
  const word = (t: string) => /^(?:a|[a-z]{2,}|[A-Z][a-z]+)$/.test(t.replace(/^[("'[]+|[)"'\].,;:!?]+$/g, ''));
  const found: string[] = [];
  let run: string[] = [];
  for (const t of [...text.split(/\s+/), '']) {
    if (t && word(t)) run.push(t);
    else {
      if (run.length >= 2 && run.some((w) => /^[a-z]/.test(w))) found.push(run.join(' '));
      run = [];
    }
  }
  return found;
}

describe('the console in zh-CN, forms that keep choices, confirmations (issue 33)', () => {
  let world: TestWorld;
  const cookies: Partial<Record<UserRole, string>> = {};
  let pending = '';
  let contractId = '';
  let releasedJob = '';
  let refusedJob = '';
  let releasedOutput = '';
  let heldOutput = '';
  let reportId = '';

  const approve = async (id: string) => {
    const dec = await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${id}/decision`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
      payload: { decision: 'approve', reason: '场景合规', override: OVERRIDE },
    });
    return signedContract(world, dec);
  };
  const get = (role: UserRole, url: string) =>
    world.server.inject({ method: 'GET', url, headers: { cookie: cookies[role]! } });
  const csrfOf = async (role: UserRole) =>
    /name="_csrf" value="([^"]+)"/.exec((await get(role, '/console/')).body)![1]!;
  const post = async (role: UserRole, url: string, form: Record<string, string>) =>
    world.server.inject({
      method: 'POST',
      url,
      headers: { cookie: cookies[role]!, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: await csrfOf(role), ...form }).toString(),
    });

  beforeAll(async () => {
    world = await buildWorld({ rows: 600 });
    for (const role of Object.keys(WHO) as UserRole[]) {
      const res = await world.server.inject({
        method: 'POST',
        url: '/console/login',
        payload: { link: await issueLoginLink(world.platform.keys, { role, ...WHO[role] }) },
      });
      cookies[role] = String(res.headers['set-cookie']).split(';')[0]!;
    }
    const body = {
      ...APPLICATION,
      emergencyPlan: { contact: '安全负责人', triggers: ['疑似重识别'], actions: ['暂停合约'] },
    };
    contractId = await approve(await reviewedApplication(world, 'org-a', body));
    const custom = await approve(
      await reviewedApplication(world, 'org-a', {
        ...body,
        mode: 'custom',
        scenario: { name: '定制', purpose: '人工审核' },
      }),
    );
    pending = await (async () => {
      const res = await world.server.inject({
        method: 'POST',
        url: '/v1/applications',
        headers: { authorization: `Bearer ${await world.token('operator', 'org-a')}` },
        payload: body,
      });
      return res.json().id as string;
    })();
    const op = await world.token('operator', 'org-a', 'zhang.wei');
    const released = await runJob(
      world,
      op,
      contractId,
      'SELECT district, count(*) AS people FROM population GROUP BY 1',
    );
    [releasedJob, releasedOutput] = [released.id as string, released.outputId as string];
    refusedJob = (await runJob(world, op, contractId, "SELECT * FROM read_csv('/etc/passwd')")).id as string;
    heldOutput = (await runJob(world, op, custom, 'SELECT district, count(*) AS people FROM population GROUP BY 1'))
      .outputId as string;
    const rep = await world.server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
      payload: { contractId },
    });
    reportId = rep.json().report.id as string;
  });
  afterAll(async () => {
    await world?.close();
  });

  let address: string | undefined;
  /** The console over a real port for Chromium, opened once for the tests that need it. */
  const listening = async () => (address ??= await world.server.listen({ port: 0, host: '127.0.0.1' }));
  /** Every console page a role may open, the report page included (ids from beforeAll). */
  const everyPage = () => [
    '/console/',
    '/console/catalog',
    '/console/applications',
    '/console/applications/new',
    `/console/applications/${pending}`,
    '/console/contracts',
    `/console/contracts/${contractId}`,
    `/console/contracts/${contractId}/sql`,
    '/console/templates',
    `/console/templates?contract=${contractId}`,
    '/console/jobs',
    `/console/jobs/${releasedJob}`,
    `/console/jobs/${refusedJob}`,
    `/console/outputs/${releasedOutput}`,
    '/console/outputs/held',
    `/console/outputs/${heldOutput}/review`,
    '/console/reviews',
    '/console/feedback',
    '/console/reports',
    `/console/reports/${reportId}`,
    `/console/reports/${reportId}/page`,
    '/console/audit?verify=1',
    '/console/no-such-page',
  ];

  it('every page of every role, and the report page, has no English prose outside code', async () => {
    const pages = everyPage();
    const found: string[] = [];
    let read = 0;
    for (const role of Object.keys(WHO) as UserRole[])
      for (const url of pages) {
        const res = await get(role, url);
        if (!String(res.headers['content-type']).startsWith('text/html')) continue;
        read++;
        for (const run of englishProse(res.body)) found.push(`${role} ${url} (${res.statusCode}): ${run}`);
      }
    expect(read).toBeGreaterThan(60);
    expect(found).toEqual([]);
    // the detector finds what it is for
    expect(englishProse('<p>a rejection needs a reason</p><code>SELECT count(*) FROM t</code>')).toEqual([
      'a rejection needs a reason',
    ]);
    expect(
      englishProse('<p class="problem-detail" lang="en">a rejection needs a reason</p><p>同意 ctr_abc</p>'),
    ).toEqual([]);
  });

  it('the report page shows its findings and rule conditions as signed, in Chinese, with no English line', async () => {
    const res = await world.server.inject({
      method: 'GET',
      url: `/v1/reports/${reportId}`,
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
    });
    const r = res.json().report as {
      rating: {
        findings: { rule: string; finding: string; recommendation: string }[];
        rulesApplied: { when: string }[];
      };
    };
    // the refused read of /etc/passwd is an escape attempt: the rule fires
    expect(r.rating.findings.map((f) => f.rule)).toContain('escape-attempts');
    const page = (await get('risk', `/console/reports/${reportId}/page`)).body;
    const esc = (v: string) =>
      v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
    for (const f of r.rating.findings) {
      expect(f.finding).toMatch(/\p{Script=Han}/u);
      expect(page).toContain(esc(f.finding));
      expect(page).toContain(esc(f.recommendation));
    }
    for (const x of r.rating.rulesApplied) expect(page).toContain(esc(x.when));
    expect(page).not.toContain('lang="en"');
  });

  it('a refused job and a refused validation explain the SQL refusal in Chinese, naming what the query named', async () => {
    const job = (await get('operator', `/console/jobs/${refusedJob}`)).body;
    expect(job).toContain('不允许表函数 read_csv，请按表名读取快照中的表。');
    expect(job).toContain('ERR_SQL_FUNCTION_NOT_ALLOWED');
    const checked = await post('operator', `/console/contracts/${contractId}/sql`, {
      sql: "SELECT district, getenv('HOME') FROM population GROUP BY 1",
      intent: 'validate',
    });
    expect(checked.body).toContain('函数 getenv 不在函数允许清单上');
    expect(englishProse(checked.body)).toEqual([]);
  });

  it('times are shown in Asia/Shanghai; the mode is 聚合统计 on every page', async () => {
    const job = (await get('operator', `/console/jobs/${releasedJob}`)).body;
    expect(job).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00/);
    expect(job).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    for (const url of [`/console/contracts/${contractId}`, `/console/applications/${pending}`])
      expect((await get('bureau', url)).body, url).toContain('聚合统计');
  });

  it('a provider’s 拒绝 without a reason comes back with 拒绝 still chosen; nothing starts chosen', async () => {
    const page = `/console/applications/${pending}`;
    const fresh = (await get('provider', page)).body;
    expect(fresh).toContain('name="decision" value="reject"');
    expect(fresh).not.toMatch(/name="decision"[^>]*checked/);
    // no choice at all: refused by the server, naming the field in Chinese
    const none = await post('provider', `${page}/reviews`, { dataset: 'population', reason: '' });
    expect(none.headers.location).toBe(page);
    const back = (await get('provider', page)).body;
    expect(back).toContain('请选择“审核意见”');
    const refused = await post('provider', `${page}/reviews`, {
      dataset: 'population',
      decision: 'reject',
      reason: '',
    });
    expect(refused.statusCode).toBe(303);
    const again = (await get('provider', page)).body;
    expect(again).toContain('拒绝时必须在“理由”中写明原因');
    expect(again).toContain('ERR_REVIEW_REASON_REQUIRED');
    expect(again).toMatch(/value="reject"\s+checked/);
    expect(again).not.toMatch(/value="approve"[^>]*checked/);
    // the draft is shown once
    expect((await get('provider', page)).body).not.toMatch(/value="reject"\s+checked/);
  });

  it('a provider’s rejection asks once more, then is made; 返回修改 keeps the text', async () => {
    const page = `/console/applications/${pending}`;
    const ask = await post('provider', `${page}/reviews`, {
      dataset: 'population',
      decision: 'reject',
      reason: '字段超出场景所需',
    });
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('确认拒绝');
    expect(ask.body).toContain('name="confirm" value="yes"');
    expect(ask.body).toContain('value="字段超出场景所需"');
    // nothing was decided yet; going back shows the form as it was
    const back = (await get('provider', page)).body;
    expect(back).toContain('字段超出场景所需');
    expect(back).toMatch(/value="reject"\s+checked/);
    const done = await post('provider', `${page}/reviews`, {
      dataset: 'population',
      decision: 'reject',
      reason: '字段超出场景所需',
      confirm: 'yes',
    });
    expect(done.statusCode).toBe(303);
    const after = await world.server.inject({
      method: 'GET',
      url: `/v1/applications/${pending}`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
    });
    expect(after.json().reviews[0].status).toBe('rejected');
  });

  it('the bureau’s refused decision keeps its choice and its words', async () => {
    const id = await reviewedApplication(world, 'org-a', APPLICATION);
    const page = `/console/applications/${id}`;
    expect((await get('bureau', page)).body).not.toMatch(/name="decision"[^>]*checked/);
    const res = await post('bureau', `${page}/decision`, {
      decision: 'approve',
      reason: '场景合规，风险可控',
      minUnits: '12',
    });
    expect(res.headers.location).toBe(page);
    const back = (await get('bureau', page)).body;
    expect(back).toContain('ERR_DECISION_OVERRIDE_REQUIRED');
    expect(back).toContain('风险预览不符合政策：批准需要填写越过政策提示的理由。');
    expect(back).toMatch(/value="approve"\s+required\s+checked/);
    expect(back).toContain('场景合规，风险可控</textarea>');
    expect(back).toContain('value="12"');
  });

  it('the output vote starts unchosen; reject and request-changes ask once more', async () => {
    const page = `/console/outputs/${heldOutput}/review`;
    expect((await get('bureau', page)).body).not.toMatch(/name="decision"[^>]*checked/);
    const none = await post('bureau', `/console/outputs/${heldOutput}/reviews`, { reason: '' });
    expect(none.headers.location).toBe(page);
    expect((await get('bureau', page)).body).toContain('请选择“您的意见”');
    const ask = await post('bureau', `/console/outputs/${heldOutput}/reviews`, {
      decision: 'request-changes',
      reason: '请合并小区县',
    });
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('确认退回修改');
    // not recorded: the output still waits for its first vote
    const o = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${heldOutput}`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
    });
    expect(o.json().votes.recorded).toBe(0);
  });

  it('suspend, revoke and withdraw ask once more and act only when confirmed', async () => {
    const status = async () =>
      (
        await world.server.inject({
          method: 'GET',
          url: `/v1/contracts/${contractId}`,
          headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
        })
      ).json().status as string;
    const ask = await post('bureau', `/console/contracts/${contractId}/suspend`, {
      form: 'suspend',
      reason: '应急预案触发',
    });
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('确认暂停');
    expect(await status()).toBe('active');
    const back = (await get('bureau', `/console/contracts/${contractId}`)).body;
    expect(back).toContain('value="应急预案触发"');
    const done = await post('bureau', `/console/contracts/${contractId}/suspend`, {
      form: 'suspend',
      reason: '应急预案触发',
      confirm: 'yes',
    });
    expect(done.statusCode).toBe(303);
    expect(await status()).toBe('suspended');
    const revoke = await post('bureau', `/console/contracts/${contractId}/revoke`, { form: 'revoke', reason: '违规' });
    expect(revoke.body).toContain('确认撤销');
    expect(await status()).toBe('suspended');
    const withdraw = await post('provider', '/console/datasets/population/withdraw', { reason: '数据主体异议' });
    expect(withdraw.statusCode).toBe(200);
    expect(withdraw.body).toContain('确认撤回');
  });

  it('at 390 px the held queue shows more than ids and the report page does not scroll sideways', async () => {
    const base = await listening();
    const browser: Browser = await launch();
    try {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
      const [name, value] = cookies.bureau!.split('=') as [string, string];
      await context.addCookies([{ name, value, url: base }]);
      const page = await context.newPage();
      await page.goto(`${base}/console/outputs/held`);
      const row = page.locator('tbody tr').first();
      await row.waitFor();
      // each row a card: the contract, the job and the reason are on screen beside the output's id
      const text = await row.innerText();
      expect(text).toMatch(/ctr_\w+/);
      expect(text).toMatch(/job_\w+/);
      expect(text).toContain('定制模式');
      for (const cell of await row.locator('td').all()) {
        const box = (await cell.boundingBox())!;
        expect(box.x + box.width).toBeLessThanOrEqual(390);
      }
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.goto(`${base}/console/reports/${reportId}/page`);
      await page.locator('h1').waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await context.close();
    } finally {
      await browser.close();
    }
  });

  it("a held differencing check's paired output is named in the Chinese sentence, from the check's facts", async () => {
    // an output held by the earlier differencing rule (outputs made before unit-set signatures):
    // its check as release.ts stores it, with the facts the English effect names
    const paired = releasedOutput;
    const held = {
      check: 'differencing',
      params: { k: 10, compared: 1, method: 'group-names' },
      passed: false,
      onFail: 'hold',
      facts: { pairedWith: paired, rows: 2 },
      effect: `2 row(s) differ from output ${paired}, made before unit-set signatures, by fewer than 10 units: together the two would describe fewer than 10 people; held for review`,
    };
    const row = await world.platform.store.one<{ checks: string }>('SELECT checks FROM outputs WHERE id = $id', {
      id: heldOutput,
    });
    const checks = [...(JSON.parse(row!.checks) as unknown[]), held];
    await world.platform.store.write((tx) =>
      tx.run('UPDATE outputs SET checks = $c WHERE id = $id', { c: JSON.stringify(checks), id: heldOutput }),
    );
    // the API gives the facts as they were stored
    const api = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${heldOutput}`,
      headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
    });
    expect(api.json().checks).toContainEqual(expect.objectContaining({ check: 'differencing', facts: held.facts }));
    const link = `<a href="/console/outputs/${paired}"><code>${paired}</code></a>`;
    const review = (await get('bureau', `/console/outputs/${heldOutput}/review`)).body;
    expect(review).toContain(`差分比对未通过（与输出 ${link} 配对）`);
    expect(review).toMatch(new RegExp(`与早先输出 ${link} 相比，有 2 行的人数相差少于 10\\s+人`));
    expect((await get('bureau', '/console/outputs/held')).body).toContain(`与输出 ${link} 配对`);
    expect((await get('operator', `/console/outputs/${heldOutput}`)).body).toContain(`与早先输出 ${link}`);
    expect(englishProse(review)).toEqual([]);
  });

  it('no page of any role scrolls sideways at 1280 or 390 px, the report page included', async () => {
    const base = await listening();
    const browser: Browser = await launch();
    const wide: string[] = [];
    let seen = 0;
    try {
      for (const width of [1280, 390])
        for (const role of Object.keys(WHO) as UserRole[]) {
          const context = await browser.newContext({ viewport: { width, height: 844 } });
          const [name, value] = cookies[role]!.split('=') as [string, string];
          await context.addCookies([{ name, value, url: base }]);
          const page = await context.newPage();
          for (const url of everyPage()) {
            // goto resolves on the load event: the page's styles and script have been applied
            const res = await page.goto(`${base}${url}`);
            if (!res || !String(res.headers()['content-type']).startsWith('text/html')) continue;
            seen++;
            const [scroll, inner] = await page.evaluate(() => [
              document.documentElement.scrollWidth,
              window.innerWidth,
            ]);
            if (scroll! > inner!) wide.push(`${role} ${url} at ${width} px: ${scroll} > ${inner}`);
          }
          await context.close();
        }
    } finally {
      await browser.close();
    }
    expect(seen).toBeGreaterThan(120);
    expect(wide).toEqual([]);
  }, 300_000);
});
