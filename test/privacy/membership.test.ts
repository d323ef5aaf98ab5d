import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainPath } from '../../src/domain/index.ts';
import { APPLICATION, buildWorld, readRows, contractFor, waitForJob, type TestWorld } from '../helpers.ts';

/**
 * Membership attacks (issue 31), through the production release path over HTTP. An operator asks
 * about the people of a category among a base population, then about the same population less one
 * target's quasi-identifier combination; from everything it sees — statuses, reasons, which rows
 * exist, the values, the checks' words — it predicts whether the target is in the category. Twenty
 * targets, half in the category and half not, each with its own base population, unique on the
 * quasi-identifiers the snapshot shows (district, gender, education, hukou, birth year).
 *
 * The stated margin: over 20 targets, a predictor is right for at most 15 (base rate 10, plus 5:
 * about two standard deviations of chance, and in dp mode what ε allows the targets the budget
 * reaches before it is spent).
 *
 * - visits to the maternal and child health hospital (a pregnancy) are sensitive facts: an
 *   aggregate application for them is refused, and in dp mode each answer costs ε and the term's
 *   budget ends the attack after a few targets;
 * - legal representatives of firms are not sensitive: aggregate mode answers, and a set less one
 *   person gets the earlier answer whether or not the person was in it (also when two more known
 *   people are taken out, and when the second count is written otherwise).
 */

const MATERNITY = '贵阳市妇幼保健院';
const MAX_RIGHT = 15;
const DISTRICTS_SQL = 'SELECT DISTINCT district FROM population ORDER BY 1';

type Target = {
  district: string;
  gender: string;
  education: string;
  hukou_type: string;
  year: string;
  member: boolean;
};

const who = (t: Target, q = 'p') =>
  `(${q}.district = '${t.district}' AND ${q}.gender = '${t.gender}' AND ${q}.education = '${t.education}' AND ${q}.hukou_type = '${t.hukou_type}' AND ${q}.birth_date = '${t.year}')`;

/** Ten members and ten others, unique on the quasi-identifiers, from the raw domain (the truth the operator never sees). */
async function targets(world: TestWorld, member: string): Promise<Target[]> {
  const rows = await readRows<Target>(
    domainPath(world.dataDir),
    `WITH p AS (SELECT *, year(birth_date)::VARCHAR AS year FROM population),
       unique_ones AS (SELECT district, gender, education, hukou_type, year FROM p GROUP BY ALL HAVING count(*) = 1)
     SELECT u.*, (${member}) AS member FROM unique_ones u JOIN p USING (district, gender, education, hukou_type, year)
     ORDER BY hash(p.id_number)`,
  );
  const members = rows.filter((r) => r.member).slice(0, 10);
  const others = rows.filter((r) => !r.member).slice(0, 10);
  expect(members.length, 'ten targets in the category').toBe(10);
  expect(others.length).toBe(10);
  return [...members, ...others];
}

describe('membership attacks over HTTP', () => {
  let world: TestWorld;
  let op: string;
  let districts: string[];
  beforeAll(async () => {
    world = await buildWorld({ rows: 4000 });
    op = await world.token('operator', 'org-a');
    districts = (await readRows<{ district: string }>(domainPath(world.dataDir), DISTRICTS_SQL)).map((r) => r.district);
  }, 120_000);
  afterAll(() => world.close());

  const QI = ['district', 'gender', 'education', 'hukou_type', 'birth_date'];
  const contract = (
    mode: 'aggregate' | 'dp',
    datasets: ({ dataset: string } & Record<string, unknown>)[],
    terms?: object,
  ) => contractFor(world, { ...APPLICATION, mode, datasets }, terms ? { terms } : {});

  /** Everything the operator sees of one query: the submission's answer, the job, the output and its data. */
  async function observe(contractId: string, sql: string): Promise<string> {
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql },
    });
    if (res.statusCode !== 202) return `refused ${res.statusCode} ${String(res.json().code)}`;
    const job = await waitForJob(world, op, res.json().id as string);
    if (!job.outputId)
      return `${String(job.status)} ${JSON.stringify(((job.reasons as { code: string }[] | undefined) ?? []).map((r) => r.code))}`;
    const out = (
      await world.server.inject({
        method: 'GET',
        url: `/v1/outputs/${String(job.outputId)}`,
        headers: { authorization: `Bearer ${op}` },
      })
    ).json() as { status: string; checks: { check: string; effect: string; passed: boolean }[] };
    const data = await world.server.inject({
      method: 'GET',
      url: `/v1/outputs/${String(job.outputId)}/data?format=json`,
      headers: { authorization: `Bearer ${op}` },
    });
    return JSON.stringify([
      job.status,
      out.status,
      out.checks.map((c) => [c.check, c.passed, c.effect]),
      data.statusCode,
      data.statusCode === 200 ? data.json() : null,
    ]);
  }

  /** Runs the attack on every target; the predictor says "in the category" when the two observations differ. */
  async function attack(
    list: Target[],
    pair: (t: Target, i: number) => [string, string],
    run: (sql: string) => Promise<string>,
  ): Promise<{ right: number; differed: number }> {
    let right = 0;
    let differed = 0;
    for (const [i, t] of list.entries()) {
      const [base, less] = pair(t, i);
      const predicted = (await run(base)) !== (await run(less));
      if (predicted) differed++;
      if (predicted === t.member) right++;
    }
    return { right, differed };
  }

  const otherDistrict = (t: Target, i: number) =>
    districts.filter((d) => d !== t.district)[i % (districts.length - 1)]!;

  it('visits (a pregnancy read off a maternity hospital): refused in aggregate mode, and under ε in dp mode the budget ends the attack', async () => {
    const list = await targets(
      world,
      `EXISTS (SELECT 1 FROM medical_visit m WHERE m.id_number = p.id_number AND m.hospital = '${MATERNITY}')`,
    );
    const datasets = [
      { dataset: 'population', columns: QI },
      { dataset: 'medical_visit', columns: ['hospital'] },
    ];
    // aggregate mode: the application itself is refused, whatever the target
    const refused = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: { ...APPLICATION, mode: 'aggregate', datasets },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().detail).toMatch(/medical_visit .*dp mode/);

    // dp mode: every answer is noisy, costs ε, and the term's budget (10, 1 a query) ends the attack
    const dp = await contract('dp', datasets, { epsilon: 10, epsilonPerQuery: 1 });
    const count = (t: Target, i: number, less: boolean) =>
      `SELECT count(DISTINCT p.pds_unit) AS n FROM population p JOIN medical_visit m ON p.pds_unit = m.pds_unit WHERE m.hospital = '${MATERNITY}' AND p.district <> '${otherDistrict(t, i)}'${less ? ` AND NOT ${who(t)}` : ''}`;
    const values: (number | null)[][] = [];
    let right = 0;
    for (const [i, t] of list.entries()) {
      const answers = [await observe(dp, count(t, i, false)), await observe(dp, count(t, i, true))].map((o) => {
        try {
          const rows = (JSON.parse(o) as unknown[])[4] as { n: number }[] | null;
          return rows?.[0]?.n ?? null;
        } catch {
          return null; // refused: the budget is spent
        }
      });
      values.push(answers);
      // the best guess from two noisy counts: in the category when the base is larger
      const predicted = answers[0] !== null && answers[1] !== null ? answers[0]! > answers[1]! : false;
      if (predicted === t.member) right++;
    }
    // the budget ran out after ten queries: five targets at most were answered at all
    expect(values.filter(([a, b]) => a !== null && b !== null).length).toBeLessThanOrEqual(5);
    expect(right).toBeLessThanOrEqual(MAX_RIGHT);
  }, 300_000);

  it('legal representatives in aggregate mode: the set less one person gets the same answer either way — direct, less three people, the complement, and another statistic', async () => {
    const list = await targets(world, `EXISTS (SELECT 1 FROM enterprise e WHERE e.legal_rep_id_number = p.id_number)`);
    const agg = await contract('aggregate', [
      { dataset: 'population', columns: QI },
      {
        dataset: 'enterprise',
        columns: ['legal_rep_id_number', 'industry'],
        masking: { legal_rep_id_number: 'pseudonymize' },
      },
    ]);
    const from = 'FROM population p JOIN enterprise e ON e.legal_rep_id_number = p.pds_unit';
    const run = (sql: string) => observe(agg, sql);
    // known others: two people unique on the quasi-identifiers who are not representatives
    const known = list.filter((t) => !t.member).slice(0, 2);
    const variants: [string, (t: Target, i: number) => [string, string]][] = [
      [
        'direct',
        (t, i) => {
          const base = `SELECT count(DISTINCT p.pds_unit) AS n ${from} WHERE p.district <> '${otherDistrict(t, i)}'`;
          return [base, `${base} AND NOT ${who(t)}`];
        },
      ],
      [
        'three-person difference',
        (t, i) => {
          const base = `SELECT count(DISTINCT p.pds_unit) AS reps ${from} WHERE p.education <> '${i % 2 ? '小学' : '初中'}' AND p.district <> '${otherDistrict(t, i + 3)}'`;
          return [base, `${base} AND NOT ${who(t)} AND NOT ${who(known[0]!)} AND NOT ${who(known[1]!)}`];
        },
      ],
      [
        'the complement (people who are not representatives)',
        (t, i) => {
          const base = `SELECT count(*) AS others FROM population p WHERE p.district <> '${otherDistrict(t, i + 7)}' AND NOT EXISTS (SELECT 1 FROM enterprise e WHERE e.legal_rep_id_number = p.pds_unit)`;
          return [base, `${base} AND NOT ${who(t)}`];
        },
      ],
      [
        'another statistic for the second',
        (t, i) => {
          const where = `WHERE p.hukou_type IN ('城镇', '农村') AND p.district <> '${otherDistrict(t, i + 5)}'`;
          return [
            `SELECT count(DISTINCT p.pds_unit) AS n ${from} ${where}`,
            `SELECT count(DISTINCT e.legal_rep_id_number) AS n ${from} ${where} AND NOT ${who(t)}`,
          ];
        },
      ],
    ];
    for (const [name, pair] of variants) {
      const { right, differed } = await attack(list, pair, run);
      expect(right, `${name}: ${right} of 20 right, ${differed} pairs differed`).toBeLessThanOrEqual(MAX_RIGHT);
      if (name !== 'another statistic for the second') expect(differed, name).toBe(0);
    }
  }, 600_000);
});
