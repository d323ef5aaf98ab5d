import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputChart } from '../../src/console/chart.ts';
import { approvedContract, buildWorld, contractFor, waitForJob, type TestWorld } from '../helpers.ts';
import { consoleAs, type ConsoleHttp } from './console-http.ts';

/** Issue 33 item 4 in the console: the templates page, a run through its form, the chart beside a released output. */
describe('query templates in the console', () => {
  let world: TestWorld;
  let op: ConsoleHttp;
  let contractId: string;
  let insurance: string;
  let token: string;

  beforeAll(async () => {
    world = await buildWorld();
    contractId = await approvedContract(world, 'org-a');
    insurance = await contractFor(world, {
      scenario: { name: '参保趋势', purpose: '各月参保人数' },
      mode: 'aggregate',
      termMonths: 12,
      datasets: [{ dataset: 'social_insurance', columns: ['month'] }],
      emergencyPlan: { contact: 'sec@org-a', triggers: ['t'], actions: ['a'] },
    });
    op = await consoleAs(world, { role: 'operator', org: 'org-a', sub: 'zhang.wei' });
    token = await world.token('operator', 'org-a');
  }, 180_000);
  afterAll(() => world?.close());

  /** Runs a template through its console form; answers the released output's page. */
  async function runThroughForm(contract: string, template: string, fields: [string, string][]): Promise<string> {
    const res = await op.post(`/console/contracts/${contract}/templates/${template}/run`, fields);
    expect(res.statusCode, res.body.slice(0, 300)).toBe(303);
    const jobId = /\/console\/jobs\/(job_[a-z0-9]+)/.exec(String(res.headers.location))![1]!;
    const job = await waitForJob(world, token, jobId);
    expect(job.status).toBe('released');
    const page = await op.get(`/console/outputs/${String(job.outputId)}`);
    expect(page.statusCode).toBe(200);
    return page.body;
  }

  it("lists a contract's templates, each a form of its typed parameters", async () => {
    const start = await op.get('/console/templates');
    expect(start.body).toContain(`<option value="${contractId}"`);
    const page = await op.get(`/console/templates?contract=${contractId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('某区县各学历人数与平均收入');
    expect(page.body).toMatch(/<select id="tp-education-in-district-district" name="p:district"[\s\S]*?南明区/);
    expect(page.body).toMatch(/name="p:min_income"\s+type="number"[^>]*min="0"[^>]*max="10000000"/);
    expect(page.body).not.toContain('各月参保人数');
  });

  it('a count by one group key is drawn as bars beside the table', async () => {
    const body = await runThroughForm(contractId, 'people-by-district', []);
    expect(body).toContain('data-chart="bars"');
    const rows = (/<caption>\s*输出数据（共 (\d+) 行）/.exec(body) ?? [])[1];
    expect(Number(rows)).toBeGreaterThan(1);
    expect(body.match(/<rect class="bar"/g)?.length).toBe(Number(rows));
  });

  it('a count over months is drawn as a line', async () => {
    const body = await runThroughForm(insurance, 'insured-by-month', [
      ['p:from_month', '2025-01'],
      ['p:to_month', '2025-12'],
    ]);
    expect(body).toContain('data-chart="line"');
    expect(body).toContain('<polyline class="line"');
    expect(body).not.toContain('data-chart="bars"');
  });

  it('no chart where a chart would not read better (two measures)', async () => {
    const body = await runThroughForm(contractId, 'education-in-district', [['p:district', '南明区']]);
    expect(body).toContain('输出数据');
    expect(body).not.toContain('<svg class="chart"');
  });

  it('a refused parameter comes back on the page with the API’s words and the value kept', async () => {
    const res = await op.post(`/console/contracts/${contractId}/templates/people-with-income-at-least/run`, [
      ['p:min_income', '-5'],
    ]);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('ERR_TEMPLATE_PARAMETER');
    expect(res.body).toContain('parameter min_income');
    expect(res.body).toMatch(/name="p:min_income"[^>]*value="-5"/);
  });
});

describe('outputChart shapes', () => {
  const cols = (a: string, b: string) => [
    { name: 'k', type: a },
    { name: 'n', type: b },
  ];
  it('bars for a key and a number, a line for months, nothing otherwise', () => {
    expect(
      outputChart(cols('VARCHAR', 'BIGINT'), [
        ['a', 10],
        ['b', 20],
      ])?.value,
    ).toContain('data-chart="bars"');
    expect(
      outputChart(cols('VARCHAR', 'DOUBLE'), [
        ['2025-02', 1],
        ['2025-01', 2],
      ])?.value,
    ).toContain('data-chart="line"');
    // 41 rows, one row, two numbers, three columns, all suppressed: no chart
    const many = Array.from({ length: 41 }, (_, i) => [`g${i}`, i]);
    expect(outputChart(cols('VARCHAR', 'BIGINT'), many)).toBeUndefined();
    expect(outputChart(cols('VARCHAR', 'BIGINT'), [['a', 1]])).toBeUndefined();
    expect(
      outputChart(cols('BIGINT', 'DOUBLE'), [
        [1, 2],
        [3, 4],
      ]),
    ).toBeUndefined();
    expect(
      outputChart(
        [...cols('VARCHAR', 'BIGINT'), { name: 'x', type: 'DOUBLE' }],
        [
          ['a', 1, 2],
          ['b', 3, 4],
        ],
      ),
    ).toBeUndefined();
    expect(
      outputChart(cols('VARCHAR', 'BIGINT'), [
        ['a', null],
        ['b', null],
      ]),
    ).toBeUndefined();
  });

  it('escapes keys drawn into the SVG', () => {
    const svg = outputChart(cols('VARCHAR', 'BIGINT'), [
      ['<script>', 1],
      ['b', 2],
    ])!.value;
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&#60;script&#62;');
  });
});
