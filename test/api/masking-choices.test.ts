import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incompatibility, parseRule } from '../../src/policies/index.ts';
import { buildWorld, type TestWorld } from '../helpers.ts';

/**
 * Every rule the masking policy allows for a column is selectable over HTTP (issue 18, item 1):
 * each allowed entry of every column in GET /v1/catalog, in every concrete form its column's type
 * takes, is accepted by POST /v1/applications with a risk preview; a rule the column does not
 * allow is refused, naming the allowed ones.
 */

interface CatalogColumn {
  name: string;
  type: string;
  dpOnly: boolean;
  masking: { default: string; allowed: string[] } | null;
}

/** The concrete rules an allowed entry stands for on a column of this type. */
function concrete(entry: string, type: string): string[] {
  const forms: Record<string, string[]> = {
    generalize: [
      'generalize:year',
      'generalize:quarter',
      'generalize:month',
      'generalize:age-band:10',
      'generalize:district',
      'generalize:range:10000',
    ],
    'generalize:age-band': ['generalize:age-band:5'],
    'generalize:range': ['generalize:range:5000'],
    topcode: ['topcode:100000'],
    bottomcode: ['bottomcode:0'],
    noise: ['noise:0.2'],
    'rare-to-other': ['rare-to-other:20'],
  };
  return (forms[entry] ?? [entry]).filter((r) => incompatibility(parseRule(r), type) === undefined);
}

describe('masking choices over HTTP', () => {
  let world: TestWorld;
  let op: string;
  let datasets: { name: string; sensitiveFacts: boolean; columns: CatalogColumn[] }[];

  beforeAll(async () => {
    world = await buildWorld({ rows: 600 });
    op = await world.token('operator', 'org-a');
    const res = await world.server.inject({
      method: 'GET',
      url: '/v1/catalog',
      headers: { authorization: `Bearer ${op}` },
    });
    datasets = res.json().datasets;
  }, 120_000);
  afterAll(() => world.close());

  const apply = (dataset: string, masking: Record<string, string>, mode = 'aggregate') =>
    world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: {
        scenario: { name: `masking ${dataset}`, purpose: '测试' },
        mode,
        termMonths: 6,
        datasets: [{ dataset, columns: Object.keys(masking), masking }],
        emergencyPlan: { contact: 'sec@org-a', triggers: ['suspected leak'], actions: ['suspend'] },
      },
    });

  it('accepts every allowed rule of every column, in each form its type takes, with a risk preview', async () => {
    let chosen = 0;
    for (const ds of datasets) {
      // dp-only columns are asked for in a dp application of their own
      for (const dp of [false, true]) {
        const columns = ds.columns.filter((c) => c.masking && c.dpOnly === dp);
        if (columns.length === 0) continue;
        const choices = new Map(columns.map((c) => [c.name, c.masking!.allowed.flatMap((e) => concrete(e, c.type))]));
        for (const [name, rules] of choices) expect(rules.length, `${ds.name}.${name}`).toBeGreaterThan(0);
        // one application per round: each column takes its next rule (a dropped column is asked alone)
        const rounds = Math.max(...[...choices.values()].map((r) => r.length));
        for (let round = 0; round < rounds; round++) {
          const masking: Record<string, string> = {};
          for (const [name, rules] of choices) {
            const rule = rules[round];
            if (rule && rule !== 'drop') masking[name] = rule;
          }
          if (Object.keys(masking).length === 0) continue;
          // a dataset of sensitive facts is granted to dp contracts only
          const res = await apply(ds.name, masking, dp || ds.sensitiveFacts ? 'dp' : 'aggregate');
          expect(res.statusCode, `${ds.name} ${JSON.stringify(masking)}: ${res.body}`).toBe(201);
          expect(res.json().risk[ds.name]).toMatchObject({ records: expect.any(Number) });
          chosen += Object.keys(masking).length;
        }
      }
    }
    expect(chosen).toBeGreaterThan(50);
  }, 300_000);

  it('refuses a rule the column does not allow, naming the allowed ones', async () => {
    const population = datasets.find((d) => d.name === 'population')!;
    const income = population.columns.find((c) => c.name === 'income')!;
    const res = await apply('population', { income: 'pseudonymize' });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toContain(`allowed: ${income.masking!.allowed.join(', ')}`);
    // outside the grammar: the schema's pattern refuses it before any service sees it
    const bad = await apply('population', { income: 'noise:lots' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'ERR_VALIDATION' });
  });
});
