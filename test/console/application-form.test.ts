import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorld, signedContract, type TestWorld } from '../helpers.ts';
import { consoleAs, type ConsoleHttp } from './console-http.ts';

/**
 * Issue 33 item 3: the application form offers each allowed masking rule with its parameters and
 * composes the rule text the API takes, so a sensible application of a city's population passes
 * the risk check without an override — posted as a browser without script posts it.
 */
describe('the application form: masking rules with their parameters', () => {
  let world: TestWorld;
  let op: ConsoleHttp;

  beforeAll(async () => {
    // a population large enough that district × ten-year age band is not a class of one by chance
    world = await buildWorld({ rows: 20_000 });
    op = await consoleAs(world, { role: 'operator', org: 'org-a', sub: 'zhang.wei' });
  }, 120_000);
  afterAll(() => world?.close());

  /** District kept, birth date as ten-year age bands with 80 and over as one band, income as ranges. */
  const realistic = (top = '80'): [string, string][] => [
    ['name', '区县年龄收入结构'],
    ['purpose', '普惠金融产品设计'],
    ['mode', 'aggregate'],
    ['termMonths', '12'],
    ['ds', 'population'],
    ['col:population', 'district'],
    ['col:population', 'birth_date'],
    ['col:population', 'income'],
    ['mask:population:district', 'keep'],
    ['mask:population:birth_date', 'generalize:age-band'],
    ['maskp:population:birth_date:generalize:age-band:width', '10'],
    ['maskp:population:birth_date:generalize:age-band:top', top],
    ['mask:population:income', 'generalize:range'],
    ['maskp:population:income:generalize:range:width', '10000'],
    ['contact', '数智科技 安全负责人'],
    ['triggers', '疑似重识别'],
    ['actions', '立即暂停合约'],
  ];

  it('offers each rule family with number inputs and defaults, never a bare kind', async () => {
    const page = await op.get('/console/applications/new');
    expect(page.statusCode).toBe(200);
    const birth = /<select name="mask:population:birth_date"[\s\S]*?<\/select>/.exec(page.body)![0];
    expect(birth).toContain('value="generalize:age-band"');
    expect(birth).toMatch(/value="generalize:year"\s+selected/);
    expect(birth).not.toMatch(/value="generalize"/);
    expect(page.body).toMatch(
      /name="maskp:population:birth_date:generalize:age-band:width"[^>]*min="1"[^>]*value="10"/,
    );
    expect(page.body).toMatch(/name="maskp:population:income:generalize:range:width"[^>]*value="10000"/);
    // the income's default (noise:0.15) stands for its family, its fraction as the default
    expect(page.body).toMatch(/name="maskp:population:income:noise:fraction"[^>]*min="0.12"[^>]*value="0.15"/);
  });

  it('the live preview recomputes k as the parameters change: passes with a top band, warns without', async () => {
    const passing = await op.post('/console/applications/preview', realistic());
    expect(passing.statusCode).toBe(200);
    expect(passing.body).toContain('风险预览符合政策');
    expect(passing.body).not.toContain('ERR_');
    const k = /<td[^>]*><code>population<\/code><\/td>\s*<td[^>]*>(\d+)<\/td>\s*<td[^>]*>(\d+)<\/td>/.exec(
      passing.body,
    )!;
    expect(Number(k[1])).toBeGreaterThanOrEqual(Number(k[2]));
    expect(passing.body).toContain('泛化：10 岁年龄段，80 岁及以上合并');
    // without the top band the oldest ages are a class of a few people in some districts
    const warned = await op.post('/console/applications/preview', realistic(''));
    expect(warned.body).toContain('政策提示');
    expect(warned.body).toMatch(/低于 k 的等价类[\s\S]*?<td[^>]*>[1-9]\d* 个<\/td>/);
  });

  it('without script, 预览风险 re-renders the page with the risk and every choice kept', async () => {
    const res = await op.post('/console/applications', [...realistic(), ['intent', 'preview']]);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('风险预览符合政策');
    expect(res.body).toMatch(/value="generalize:age-band"\s+selected/);
    expect(res.body).toMatch(/name="maskp:population:birth_date:generalize:age-band:top"[^>]*value="80"/);
  });

  it('is filed with the composed rules and approved without an override', async () => {
    const res = await op.post('/console/applications', [...realistic(), ['intent', 'submit']]);
    expect(res.statusCode).toBe(303);
    const id = /\/console\/applications\/(app_[a-z0-9]+)/.exec(String(res.headers.location))![1]!;
    const bureau = { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` };
    const app = (await world.server.inject({ method: 'GET', url: `/v1/applications/${id}`, headers: bureau })).json();
    expect(app.warnings).toEqual([]);
    const rules = Object.fromEntries(
      app.grants[0].columns.map((c: { column: string; rule: string }) => [c.column, c.rule]),
    );
    expect(rules).toMatchObject({
      district: 'keep',
      birth_date: 'generalize:age-band:10:80',
      income: 'generalize:range:10000',
    });
    const review = await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${id}/reviews`,
      headers: { authorization: `Bearer ${await world.token('provider', 'org-psb')}` },
      payload: { dataset: 'population', decision: 'approve' },
    });
    expect(review.statusCode).toBe(200);
    // no override: the policy's checks pass on their own
    const decision = await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${id}/decision`,
      headers: bureau,
      payload: { decision: 'approve', reason: '场景合规' },
    });
    expect(await signedContract(world, decision)).toMatch(/^ctr_/);
  });
});
