import { fakerZH_CN } from '@faker-js/faker';
import { exec, quoteLiteral, type DuckDBConnection } from '../store/index.ts';
import { ID_CHECK_CHARS, ID_WEIGHTS, ORG_WEIGHTS, USCC_CHARSET, USCC_WEIGHTS } from './checksums.ts';
import {
  AGE_WEIGHTS,
  DIAGNOSES,
  DISTRICTS,
  EDUCATION,
  ENTERPRISE_STATUS,
  ETHNICITIES,
  HOSPITALS,
  INDUSTRIES,
  LOG_NORMAL,
  MOBILE_PREFIXES,
  RELIGION,
  SALARY_BASE,
  STREET_SUFFIXES,
  type Weighted,
} from './vocab.ts';

/**
 * Synthetic public data that looks like the real thing, generated inside DuckDB from a seed.
 * Every random draw is a hash of (row number, seed, tag), so the same seed gives the same
 * tables on any machine running the same DuckDB. People are laid out in (district × age) cells
 * whose sizes follow the district shares and the age pyramid; within a cell a person's position
 * fixes birth day and sequence number, so identity numbers are unique by construction.
 */

export const DOMAIN_TABLES = [
  'population',
  'enterprise',
  'social_insurance',
  'medical_visit',
  'utility_usage',
] as const;

export interface GenerateOptions {
  rows: number;
  seed: number;
  /** Months of social-insurance and utility records, ending the month before `asOf`. Default 3. */
  months?: number;
  /** Reference date (ages, months); fixed so that output never depends on the clock. */
  asOf?: string;
  /** Called before each step, for progress bars. */
  onStep?: (step: string, index: number, total: number) => void;
}

/**
 * A well-mixed 64-bit hash of (key, seed, tag). DuckDB's multi-argument hash combines its
 * arguments' hashes weakly: two draws of one row under different tags came out correlated
 * (r ≈ -0.6). Hashing the combined hash again decorrelates them (r ≈ 0.0005).
 */
const mix = (key: string, seed: number, tag: string) => `hash(hash(${key}, ${seed}, '${tag}'))`;
/** A uniform draw in [0, 1) for row expression `key`, the seed and a tag (2^64 hash range). */
const uniform = (key: string, seed: number, tag: string) => `(${mix(key, seed, tag)} / 18446744073709551616.0)`;
/** A standard normal draw (Box–Muller over two uniforms). */
const normal = (key: string, seed: number, tag: string) =>
  `(sqrt(-2 * ln(greatest(${uniform(key, seed, `${tag}-1`)}, 1e-15))) * cos(2 * pi() * ${uniform(key, seed, `${tag}-2`)}))`;

function sqlList(values: readonly string[]): string {
  return `[${values.map(quoteLiteral).join(', ')}]`;
}

/** A uniform pick from a list. */
const pick = (list: readonly string[], key: string, seed: number, tag: string) =>
  `${sqlList(list)}[1 + floor(${uniform(key, seed, tag)} * ${list.length})::BIGINT]`;

/** An exact weighted pick: a CASE over cumulative thresholds (rare values keep their true, tiny weight). */
function pickWeighted(pairs: Weighted, key: string, seed: number, tag: string): string {
  const total = pairs.reduce((s, [, w]) => s + w, 0);
  let acc = 0;
  const u = uniform(key, seed, tag);
  const branches = pairs.slice(0, -1).map(([v, w]) => {
    acc += w;
    return `WHEN ${u} < ${(acc / total).toPrecision(12)} THEN ${quoteLiteral(v)}`;
  });
  return `CASE ${branches.join(' ')} ELSE ${quoteLiteral(pairs.at(-1)![0])} END`;
}

/** Splits `total` over weights exactly (largest remainder), so cell sizes sum to the row count. */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let r = total - out.reduce((a, b) => a + b, 0), k = 0; r > 0; r--, k++) out[order[k % order.length]![1]]!++;
  return out;
}

/** Digit-weighted sum of a numeric SQL expression's decimal digits, for check characters. */
function digitSum(expr: string, weights: readonly number[]): string {
  const n = weights.length;
  return weights.map((w, k) => `(${expr} // ${10 ** (n - 1 - k)} % 10) * ${w}`).join(' + ');
}

const HOUSEHOLD_SIZE = 2.8;

interface Cell {
  division: string;
  district: string;
  age: number;
  n: number;
  off: number;
  divWeight: number;
  households: number;
}

function planCells(rows: number): Cell[] {
  const districtRows = apportion(
    rows,
    DISTRICTS.map((d) => d.weight),
  );
  const cells: Cell[] = [];
  let off = 0;
  DISTRICTS.forEach((d, di) => {
    const divWeight = [...d.code].reduce((s, ch, k) => s + Number(ch) * ID_WEIGHTS[k]!, 0);
    const households = Math.max(1, Math.ceil(districtRows[di]! / HOUSEHOLD_SIZE));
    apportion(districtRows[di]!, AGE_WEIGHTS).forEach((n, age) => {
      // 365 birth days × 499 sequence slots per cell keep every identity number unique
      if (n > 365 * 499)
        throw new RangeError(
          `too many rows for one district and age (${n}); the generator supports about 1.6 billion rows`,
        );
      if (n > 0) cells.push({ division: d.code, district: d.name, age, n, off, divWeight, households });
      off += n;
    });
  });
  return cells;
}

/** Age in whole years on the reference date, from a birth date column. */
const ageSql = (col: string, refYear: number) => `(${refYear - 1} - year(${col}))`;

/** What every table of one generation draws on: the seed, the reference year, the names and the plan. */
interface Generation {
  seed: number;
  refYear: number;
  /** The months of the monthly tables, as a SQL list. */
  monthList: string;
  surnames: string[];
  given: string[];
  streets: string[];
  company: { category: string[]; legal_entity_type: string[] };
  cells: Cell[];
  enterprises: number;
}

/** Creates (or replaces) the five linked domain tables in the connected database. */
export async function generateDomain(conn: DuckDBConnection, opts: GenerateOptions): Promise<void> {
  const { rows, seed, months = 3, asOf = '2026-01-01', onStep } = opts;
  if (!Number.isInteger(rows) || rows < 1) throw new TypeError(`rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(seed) || seed < 0) throw new TypeError(`seed must be a non-negative integer, got ${seed}`);
  if (!Number.isInteger(months) || months < 1 || months > 24)
    throw new TypeError(`months must be 1..24, got ${months}`);
  const refYear = Number(asOf.slice(0, 4));
  let step = 0;
  const next = () => onStep?.(DOMAIN_TABLES[step]!, step++, DOMAIN_TABLES.length);

  const person = fakerZH_CN.definitions.person as unknown as {
    last_name: { generic: string[] };
    first_name: { generic: string[] };
  };
  const surnames = person.last_name.generic.filter((x) => x.length === 1);
  const g: Generation = {
    seed,
    refYear,
    monthList: sqlList(
      Array.from({ length: months }, (_, m) =>
        new Date(Date.UTC(refYear, Number(asOf.slice(5, 7)) - 1 - months + m, 1)).toISOString().slice(0, 7),
      ),
    ),
    surnames,
    given: person.first_name.generic,
    streets: surnames.slice(0, 40).flatMap((x) => STREET_SUFFIXES.map((y) => `${x}${y}`)),
    company: fakerZH_CN.definitions.company as unknown as Generation['company'],
    cells: planCells(rows),
    enterprises: Math.max(20, Math.round(rows / 40)),
  };
  await createMacros(conn, g);
  next();
  await createPopulation(conn, g);
  next();
  await createEnterprise(conn, g);
  next();
  await createSocialInsurance(conn, g);
  next();
  await createMedicalVisit(conn, g);
  next();
  await createUtilityUsage(conn, g);
  for (const t of ['cells', 'expanded', 'homes_expanded', 'adult_cells', 'firms'])
    await exec(conn, `DROP TABLE IF EXISTS ${t}`);
}

/** The macros that make a person's identity and a household's address, and the plan's cells as a table. */
async function createMacros(conn: DuckDBConnection, g: Generation): Promise<void> {
  const { seed, refYear, streets, cells } = g;
  // the address of household `hh` of a district: street, number and building encode hh, so it is unique
  await exec(
    conn,
    `CREATE OR REPLACE TEMP MACRO pds_address(district, hh) AS
    '贵州省贵阳市' || district || ${sqlList(streets)}[1 + (hh % ${streets.length})::BIGINT]
    || (1 + (hh // ${streets.length}) % 300)::VARCHAR || '号'
    || (1 + (hh // ${streets.length * 300}) % 40)::VARCHAR || '栋'
    || (101 + (hh // ${streets.length * 300 * 40}))::VARCHAR || '室'`,
  );
  // a person is (cell, k): birth day and sequence follow from k, so any person's number can be recomputed
  await exec(conn, `CREATE OR REPLACE TEMP MACRO pds_male(i) AS ${uniform('i', seed, 'gender')} < 0.512`);
  await exec(
    conn,
    `CREATE OR REPLACE TEMP MACRO pds_birth(age, k) AS make_date(${refYear - 1} - age, 1, 1) + (k % 365)::INTEGER`,
  );
  await exec(
    conn,
    `CREATE OR REPLACE TEMP MACRO pds_seq(k, male) AS 2 * (k // 365) + CASE WHEN male THEN 1 ELSE 2 END`,
  );
  await exec(
    conn,
    `CREATE OR REPLACE TEMP MACRO pds_id(division, div_weight, birth_date, seq) AS
    division || strftime(birth_date, '%Y%m%d') || lpad(seq::VARCHAR, 3, '0')
    || ${quoteLiteral(ID_CHECK_CHARS)}[1 + ((div_weight + ${digitSum('year(birth_date)', ID_WEIGHTS.slice(6, 10))} + ${digitSum('month(birth_date)', ID_WEIGHTS.slice(10, 12))}
      + ${digitSum('day(birth_date)', ID_WEIGHTS.slice(12, 14))} + ${digitSum('seq', ID_WEIGHTS.slice(14, 17))}) % 11)::BIGINT]`,
  );
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE cells AS SELECT * FROM (VALUES ${cells
      .map((c) => `('${c.division}', '${c.district}', ${c.age}, ${c.n}, ${c.off}, ${c.divWeight}, ${c.households})`)
      .join(', ')})
    t(division, district, age, n, off, div_weight, households)`,
  );
}

async function createPopulation(conn: DuckDBConnection, g: Generation): Promise<void> {
  const { seed, surnames, given } = g;
  // expanding 1,000 cells is one vector, hence one thread: materialize it so the heavy SELECT scans in parallel
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE expanded AS
    SELECT division, district, age, off, div_weight, households, unnest(range(n)) AS k FROM cells`,
  );
  await exec(
    conn,
    `CREATE OR REPLACE TABLE population AS
    WITH drawn AS (
      SELECT *, off + k AS i, pds_male(off + k) AS male, ${mix('off + k', seed, 'household')} % households::UBIGINT AS hh FROM expanded
    ), dated AS (
      SELECT *, pds_birth(age, k) AS birth_date, pds_seq(k, male) AS seq FROM drawn
    )
    SELECT
      pds_id(division, div_weight, birth_date, seq) AS id_number,
      ${pick(surnames, 'i', seed, 'surname')} || ${pick(given, 'i', seed, 'given')} AS name,
      CASE WHEN male THEN '男' ELSE '女' END AS gender,
      birth_date,
      ${pickWeighted(ETHNICITIES, 'i', seed, 'ethnicity')} AS ethnicity,
      ${pick(MOBILE_PREFIXES, 'i', seed, 'phone-prefix')} || lpad((${mix('i', seed, 'phone')} % 100000000::UBIGINT)::VARCHAR, 8, '0') AS phone,
      pds_address(district, hh) AS address,
      district,
      CASE WHEN ${uniform('i', seed, 'hukou')} < 0.62 THEN '城镇' ELSE '农村' END AS hukou_type,
      CASE WHEN age < 7 THEN '学龄前' WHEN age < 13 THEN '小学' ELSE ${pickWeighted(EDUCATION, 'i', seed, 'education')} END AS education,
      CASE WHEN age < 18 THEN 0.0 ELSE round(exp(${LOG_NORMAL.income!.mu} + ${LOG_NORMAL.income!.sigma} * ${normal('i', seed, 'income')}), ${LOG_NORMAL.income!.digits}) END AS income,
      ${pickWeighted(RELIGION, 'i', seed, 'religion')} AS religion
    FROM dated`,
  );
}

/** `enterprise`, and `firms` (with each firm's number `j`) for `social_insurance` to join. */
async function createEnterprise(conn: DuckDBConnection, g: Generation): Promise<void> {
  const { seed, refYear, cells, enterprises, given, company } = g;
  const orgNumber = `((j * 48271 + ${seed % 100000} * 7919) % 100000000)`;
  const orgWeighted = `(${digitSum(orgNumber, ORG_WEIGHTS)}) % 11`;
  const districtCode = `CASE ${DISTRICTS.map((d) => `WHEN d = '${d.name}' THEN '${d.code}'`).join(' ')} END`;
  const adults = cells.filter((c) => c.age >= 18);
  let adultOff = 0;
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE adult_cells AS SELECT * FROM (VALUES ${adults
      .map((c) => {
        const row = `(${adultOff}, '${c.division}', ${c.divWeight}, ${c.age}, ${c.off})`;
        adultOff += c.n;
        return row;
      })
      .join(', ')}) t(aoff, division, div_weight, age, off)`,
  );
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE firms AS
    WITH base AS (
      SELECT j, ${pickWeighted(
        DISTRICTS.map((x) => [x.name, x.weight] as const),
        'j',
        seed,
        'ent-district',
      )} AS d,
        ${mix('j', seed, 'rep')} % ${adultOff}::UBIGINT AS rep
      FROM range(${enterprises}) t(j)
    ), represented AS (
      SELECT base.*, pds_id(a.division, a.div_weight, pds_birth(a.age, rep - a.aoff), pds_seq(rep - a.aoff, pds_male(a.off + rep - a.aoff))) AS legal_rep_id_number
      FROM base ASOF JOIN adult_cells a ON base.rep >= a.aoff
    ), coded AS (
      SELECT *, '91' || ${districtCode} || lpad(${orgNumber}::VARCHAR, 8, '0')
        || CASE 11 - ${orgWeighted} WHEN 10 THEN 'X' WHEN 11 THEN '0' ELSE (11 - ${orgWeighted})::VARCHAR END AS body
      FROM represented
    )
    SELECT j,
      body || ${quoteLiteral(USCC_CHARSET)}[1 + ((31 - list_sum(list_transform(range(17), k -> (instr(${quoteLiteral(USCC_CHARSET)}, body[k + 1]) - 1) * ${JSON.stringify(USCC_WEIGHTS)}[k + 1])) % 31) % 31)::BIGINT] AS uscc,
      '贵阳' || ${pick(given, 'j', seed, 'ent-name')} || ${pick(company.category, 'j', seed, 'ent-category')}
        || ${pickWeighted(
          company.legal_entity_type.map((t) => [t, t === '有限公司' || t === '有限责任公司' ? 40 : 2] as const),
          'j',
          seed,
          'ent-type',
        )} AS name,
      legal_rep_id_number,
      ${pickWeighted(INDUSTRIES, 'j', seed, 'industry')} AS industry,
      round(exp(${LOG_NORMAL.registered_capital!.mu} + ${LOG_NORMAL.registered_capital!.sigma} * ${normal('j', seed, 'capital')}), ${LOG_NORMAL.registered_capital!.digits}) AS registered_capital,
      d AS district,
      DATE '1992-01-01' + floor(sqrt(${uniform('j', seed, 'est')}) * (DATE '${refYear - 1}-12-31' - DATE '1992-01-01'))::INTEGER AS established_on,
      ${pickWeighted(ENTERPRISE_STATUS, 'j', seed, 'status')} AS status
    FROM coded`,
  );
  await exec(conn, `CREATE OR REPLACE TABLE enterprise AS SELECT * EXCLUDE (j) FROM firms`);
}

async function createSocialInsurance(conn: DuckDBConnection, g: Generation): Promise<void> {
  const { seed, refYear, enterprises, monthList } = g;
  await exec(
    conn,
    `CREATE OR REPLACE TABLE social_insurance AS
    WITH workers AS (
      -- about 62% of people of working age are insured employees; large employers take most of them
      SELECT id_number, income, floor(${enterprises} * pow(${uniform('id_number', seed, 'employer')}, 3))::BIGINT AS e
      FROM population
      WHERE ${ageSql('birth_date', refYear)} BETWEEN 18 AND 59 AND ${uniform('id_number', seed, 'employed')} < 0.62
    ), salaried AS (
      SELECT w.id_number, em.uscc, least(greatest(round(w.income / 12, 0), ${SALARY_BASE.min}), ${SALARY_BASE.max})::DOUBLE AS base FROM workers w JOIN firms em ON em.j = w.e
    )
    SELECT id_number, uscc AS employer_uscc, unnest(${monthList}) AS month, base AS base_salary, round(base * ${SALARY_BASE.contributionRate}, 2) AS contribution
    FROM salaried`,
  );
}

async function createMedicalVisit(conn: DuckDBConnection, g: Generation): Promise<void> {
  const { seed, refYear } = g;
  const common = DIAGNOSES.filter((d) => d.weight >= 1);
  const rare = DIAGNOSES.filter((d) => d.weight < 1);
  const pRare = rare.reduce((x, d) => x + d.weight, 0) / DIAGNOSES.reduce((x, d) => x + d.weight, 0);
  await exec(
    conn,
    `CREATE OR REPLACE TABLE medical_visit AS
    WITH visits AS (
      SELECT id_number, unnest(range(least(6, floor(-ln(greatest(${uniform('id_number', seed, 'visits')}, 1e-15)) * (0.8 + ${ageSql('birth_date', refYear)} / 50.0))::BIGINT))) AS r
      FROM population
    ), drawn AS (
      SELECT id_number, hash(hash(id_number, r)) AS key FROM visits
    ), coded AS (
      SELECT *, CASE WHEN ${uniform('key', seed, 'rare')} < ${pRare.toPrecision(12)}
        THEN ${pickWeighted(
          rare.map((d) => [d.code, d.weight] as const),
          'key',
          seed,
          'icd-rare',
        )}
        ELSE ${pickWeighted(
          common.map((d) => [d.code, d.weight] as const),
          'key',
          seed,
          'icd',
        )} END AS icd10
      FROM drawn
    )
    SELECT id_number,
      ${pickWeighted(HOSPITALS, 'key', seed, 'hospital')} AS hospital,
      DATE '${refYear - 1}-01-01' + floor(${uniform('key', seed, 'visit-day')} * 365)::INTEGER AS visit_date,
      icd10,
      round(exp(CASE icd10 ${DIAGNOSES.map((d) => `WHEN '${d.code}' THEN ${d.cost}`).join(' ')} END + 0.6 * ${normal('key', seed, 'cost')}), 2) AS cost
    FROM coded`,
  );
}

async function createUtilityUsage(conn: DuckDBConnection, g: Generation): Promise<void> {
  const { seed, monthList } = g;
  await exec(
    conn,
    `CREATE OR REPLACE TEMP TABLE homes_expanded AS
    SELECT division, district, unnest(range(households)) AS hh FROM (SELECT DISTINCT division, district, households FROM cells ORDER BY division)`,
  );
  await exec(
    conn,
    `CREATE OR REPLACE TABLE utility_usage AS
    WITH each_home AS (
      SELECT division, district, hh, pds_address(district, hh) AS address, ${uniform('hash(hash(division, hh))', seed, 'gas')} < 0.7 AS has_gas
      FROM homes_expanded
    ), each_month AS (
      SELECT *, unnest(${monthList}) AS month FROM each_home
    ), drawn AS (
      SELECT *, hash(hash(division, hh, month)) AS key FROM each_month
    )
    SELECT 'GY' || division || lpad(hh::VARCHAR, 8, '0') AS account, address, district, month,
      round(exp(${LOG_NORMAL.water_m3!.mu} + ${LOG_NORMAL.water_m3!.sigma} * ${normal('key', seed, 'water')}), ${LOG_NORMAL.water_m3!.digits}) AS water_m3,
      round(exp(${LOG_NORMAL.electricity_kwh!.mu} + ${LOG_NORMAL.electricity_kwh!.sigma} * ${normal('key', seed, 'power')}), ${LOG_NORMAL.electricity_kwh!.digits}) AS electricity_kwh,
      CASE WHEN has_gas THEN round(exp(${LOG_NORMAL.gas_m3!.mu} + ${LOG_NORMAL.gas_m3!.sigma} * ${normal('key', seed, 'gas-use')}), ${LOG_NORMAL.gas_m3!.digits}) ELSE 0.0 END AS gas_m3
    FROM drawn`,
  );
}
