import { fakerZH_CN } from '@faker-js/faker';
import { exec, quoteLiteral, type DuckDBConnection } from '../store/index.ts';

/**
 * Synthetic public data that looks like the real thing: GB 11643 identity numbers with valid
 * check characters, valid mobile prefixes, an age pyramid, log-normal incomes, districts of very
 * unequal size and rare categories, so that small cells occur naturally. Faker (zh_CN) supplies
 * vocabularies; the rows themselves are generated inside DuckDB, deterministically from a seed
 * (every random draw is a hash of the row number, the seed and a tag: same seed, same table).
 */

/** Guiyang's districts with their GB/T 2260 division codes and a share of the population. */
export const DISTRICTS: ReadonlyArray<{ code: string; name: string; weight: number }> = [
  { code: '520103', name: '云岩区', weight: 20 },
  { code: '520102', name: '南明区', weight: 19 },
  { code: '520115', name: '观山湖区', weight: 14 },
  { code: '520111', name: '花溪区', weight: 12 },
  { code: '520181', name: '清镇市', weight: 9 },
  { code: '520113', name: '白云区', weight: 8 },
  { code: '520112', name: '乌当区', weight: 7 },
  { code: '520123', name: '修文县', weight: 5 },
  { code: '520121', name: '开阳县', weight: 4 },
  { code: '520122', name: '息烽县', weight: 2 },
];

const ETHNICITIES: Array<[string, number]> = [
  ['汉族', 740], ['苗族', 80], ['布依族', 70], ['侗族', 30], ['土家族', 25], ['彝族', 15], ['仡佬族', 12],
  ['水族', 10], ['回族', 8], ['白族', 4], ['瑶族', 2], ['壮族', 2], ['满族', 1], ['蒙古族', 1],
];
const EDUCATION: Array<[string, number]> = [
  ['小学', 22], ['初中', 33], ['高中', 17], ['大专', 12], ['本科', 13], ['硕士', 2.6], ['博士', 0.4],
];
const RELIGION: Array<[string, number]> = [['无', 930], ['佛教', 40], ['基督教', 20], ['伊斯兰教', 8], ['道教', 2]];
const MOBILE_PREFIXES = ['130', '131', '132', '133', '135', '136', '137', '138', '139', '147', '150', '151', '152', '153', '155', '156', '157', '158', '159', '166', '173', '176', '177', '178', '180', '181', '182', '183', '185', '186', '187', '188', '189', '191', '198', '199'];
/** Rough shape of an ageing population pyramid: weight per age 0..99. */
const AGE_WEIGHTS = Array.from({ length: 100 }, (_, age) => {
  if (age < 15) return 1.0;
  if (age < 30) return 1.1;
  if (age < 40) return 1.45;
  if (age < 60) return 1.35;
  if (age < 70) return 1.0;
  if (age < 80) return 0.55;
  if (age < 90) return 0.2;
  return 0.03;
});

/** GB 11643 weights and check characters (ISO 7064 MOD 11-2). */
export const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
export const ID_CHECK_CHARS = '10X98765432';

function sqlList(values: readonly string[]): string {
  return `[${values.map(quoteLiteral).join(', ')}]`;
}

/** Expands weighted values into a list of `slots` entries, so a uniform draw picks by weight. */
function weightedList(pairs: ReadonlyArray<readonly [string, number]>, slots = 1000): string[] {
  const total = pairs.reduce((s, [, w]) => s + w, 0);
  const out: string[] = [];
  for (const [v, w] of pairs) out.push(...Array(Math.max(1, Math.round((w / total) * slots))).fill(v));
  return out;
}

export interface GenerateOptions {
  rows: number;
  seed: number;
  /** Reference date for ages; fixed so that output is byte-identical run to run. */
  asOf?: string;
}

/** Creates (or replaces) the `population` table in the connected database. */
export async function generatePopulation(conn: DuckDBConnection, { rows, seed, asOf = '2026-01-01' }: GenerateOptions): Promise<void> {
  if (!Number.isInteger(rows) || rows < 1) throw new TypeError(`rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
  const defs = fakerZH_CN.definitions.person as unknown as { last_name: { generic: string[] }; first_name: { generic: string[] } };
  const surnames = defs.last_name.generic.filter((s) => s.length === 1);
  const given = defs.first_name.generic;
  const streetSuffixes = (fakerZH_CN.definitions.location as unknown as { street_suffix: string[] }).street_suffix;
  const districts = weightedList(DISTRICTS.map((d) => [`${d.code}|${d.name}`, d.weight] as const));
  const ages = weightedList(AGE_WEIGHTS.map((w, age) => [String(age), w] as const), 4000);

  // u(tag): a uniform draw in [0, 1) for this row, seed and tag
  const u = (tag: string) => `((hash(i, ${seed}, '${tag}') % 1000000007)::DOUBLE / 1000000007.0)`;
  const pick = (list: string, tag: string) => `${list}[1 + floor(${u(tag)} * len(${list}))::BIGINT]`;

  await exec(conn, `
    CREATE OR REPLACE TABLE population AS
    WITH draws AS (
      SELECT
        i,
        string_split(${pick(sqlList(districts), 'district')}, '|') AS d,
        ${pick(sqlList(ages), 'age')}::INTEGER AS age,
        ${u('gender')} < 0.512 AS male,
        ${u('doy')} AS doy
      FROM range(${rows}) t(i)
    ),
    people AS (
      SELECT
        i, d[1] AS division, d[2] AS district, age, male,
        (DATE '${asOf}' - INTERVAL (age) YEAR - INTERVAL (floor(doy * 365)::INTEGER) DAY)::DATE AS birth_date
      FROM draws
    ),
    numbered AS (
      SELECT *, row_number() OVER (PARTITION BY division, birth_date, male ORDER BY i) AS rn FROM people
    ),
    bodies AS (
      SELECT *,
        division || strftime(birth_date, '%Y%m%d') || lpad((2 * (rn % 500) + CASE WHEN male THEN 1 ELSE 2 END)::VARCHAR, 3, '0') AS body
      FROM numbered
    )
    SELECT
      body || ${quoteLiteral(ID_CHECK_CHARS)}[1 + (list_sum(list_transform(range(17), k -> (ascii(body[k + 1]) - 48) * ${JSON.stringify(ID_WEIGHTS)}[k + 1])) % 11)::BIGINT] AS id_number,
      ${pick(sqlList(surnames), 'surname')} || ${pick(sqlList(given), 'given')} AS name,
      CASE WHEN male THEN '男' ELSE '女' END AS gender,
      birth_date,
      ${pick(sqlList(weightedList(ETHNICITIES)), 'ethnicity')} AS ethnicity,
      ${pick(sqlList(MOBILE_PREFIXES), 'phone-prefix')} || lpad((hash(i, ${seed}, 'phone') % 100000000)::VARCHAR, 8, '0') AS phone,
      '贵州省贵阳市' || district || ${pick(sqlList(surnames), 'street')} || ${pick(sqlList(streetSuffixes), 'street-suffix')}
        || (1 + hash(i, ${seed}, 'house') % 300)::VARCHAR || '号' AS address,
      district,
      CASE WHEN ${u('hukou')} < 0.62 THEN '城镇' ELSE '农村' END AS hukou_type,
      CASE WHEN age < 7 THEN '学龄前' WHEN age < 13 THEN '小学' ELSE ${pick(sqlList(weightedList(EDUCATION)), 'education')} END AS education,
      CASE WHEN age < 18 THEN 0.0
        ELSE round(exp(10.7 + 0.75 * sqrt(-2 * ln(greatest(${u('inc1')}, 1e-12))) * cos(2 * pi() * ${u('inc2')})), 2)
      END AS income,
      ${pick(sqlList(weightedList(RELIGION)), 'religion')} AS religion
    FROM bodies
    ORDER BY i
  `);
}
