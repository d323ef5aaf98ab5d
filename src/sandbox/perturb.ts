import { createHash } from 'node:crypto';
import { clone, fill, isNode, SKIP, visitAst, type Node, type Visitor } from './ast.ts';
import { functionName } from './aggregate-rules.ts';
import { recordKeySql } from '../digest/index.ts';
import { isWeightedCount, settled, stageMeanCount } from './per-person.ts';

/**
 * Perturbation where the value is made (docs/architecture.md §12): every count, sum and mean of
 * an aggregate-mode outer query is replaced, in the AST the engine runs, by its perturbed value —
 * so arithmetic between aggregates, HAVING and ORDER BY only ever see perturbed values.
 *
 * The noise of a cell is chosen by its cell key: the sum, mod 2^32, of a keyed hash of each
 * contributing unit (the units its rows are selected by: WHERE/JOIN, the aggregate's FILTER and a
 * non-NULL argument). The same set of units always gets the same noise — repeating a query or
 * renaming its columns gains nothing — and sets that differ by one unit get independent-looking
 * noise. The hash is keyed per contract (`salt`), and the units are the contract's pseudonyms,
 * which aggregate mode never releases.
 *
 * - counts (count, count(DISTINCT …)): the p-table's noise for the count and the key;
 * - sums: uniform noise in ±max(fraction × (sum of the n largest |contributions|), floor): a
 *   one-person difference is hidden in noise of that person's own order of magnitude, and a sum
 *   of constants (a count in disguise) still gets at least the floor;
 * - means: the perturbed sum over the count.
 */

export interface PerturbationSpec {
  /** Keys the per-unit hash of snapshots without unit keys (a decimal unsigned integer below 2^63), per contract. */
  salt: string;
  /** Count p-table: row i for a count of i, the last row for larger counts. */
  counts: { values: number[]; thresholds: number[] }[];
  /** Sums and means (variances from perturbed moments). */
  magnitudes: { fraction: number; floor: number; topN: number };
  /** Central quantiles: uniform noise within ± this fraction of the cell's interquartile range. */
  quantiles: { iqrFraction: number };
  /**
   * Counts inside an expression (`count(*) + 0`, a share) are rounded here, to this multiple, as
   * disclosure control rounds a count released whole (policies/disclosure.yaml roundCountsTo).
   */
  roundCountsTo?: number;
}

/** What the rewrite perturbed, by output position (for the release decision's report). */
export interface Perturbed {
  counts: number[];
  magnitudes: number[];
  quantiles?: number[];
}

const COUNT = new Set(['count', 'count_star']);
const SUM = new Set(['sum']);
const MEAN = new Set(['avg', 'mean']);
const VARIANCE = new Set(['var_samp', 'variance', 'stddev', 'stddev_samp']);
const VARIANCE_POP = new Set(['var_pop', 'stddev_pop']);
const QUANTILE = new Set(['median', 'quantile_cont', 'quantile_disc', 'quantile']);
const PERTURBED = new Set([...COUNT, ...SUM, ...MEAN, ...VARIANCE, ...VARIANCE_POP, ...QUANTILE]);

/** A unit column feeding the outer query, and whether each unit is on one row there. */
export interface KeySource {
  ref: Node;
  unique: boolean;
  /** The record key column of a direct snapshot scan: the same value as recordKeySql(unit, salt), stored. */
  key?: Node;
  /** The units' domain-wide keys carried up from a subquery (when the snapshot's record keys are its unit keys). */
  unitKey?: Node;
  /** Where units repeat over rows: one number per person with its key below bit 64 (units.ts, UnitClass). */
  personKey?: Node;
}

type Template = (text: string) => Promise<Node>;

/** An aggregate to perturb: its output position, and whether it is the whole select item. */
export interface Target {
  node: Node;
  position: number | undefined;
  whole?: boolean;
}

/** The aggregates to perturb, found before the rewrite adds its own (units, dominance). */
export function perturbationTargets(select: Node): Target[] {
  const found: Target[] = [];
  // the scope is the select item's position (none in HAVING, QUALIFY, ORDER BY)
  const visitor: Visitor<number | undefined> = {
    enter: (v, at) => {
      if (v.class === 'SUBQUERY' || v.class === 'WINDOW') return SKIP;
      if (v.class === 'FUNCTION' && !v.is_operator && PERTURBED.has(functionName(v))) {
        const item = at.scope === undefined ? undefined : (select.select_list as Node[])[at.scope];
        found.push({ node: v, position: at.scope, whole: item === v });
        return SKIP;
      }
    },
  };
  const visit = (v: unknown, position: number | undefined) => visitAst(v, visitor, position);
  (select.select_list as Node[]).forEach((item, i) => visit(item, i));
  visit(select.having, undefined);
  visit(select.qualify, undefined);
  visit(select.modifiers, undefined);
  return found;
}

function literal(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(17);
}

/** `CASE WHEN k < t1 THEN v1 … ELSE vn END` for one p-table row. */
function lookup(row: { values: number[]; thresholds: number[] }): string {
  if (row.values.length === 1) return literal(row.values[0]!);
  const whens = row.thresholds.map((t, i) => `WHEN slot_k < ${literal(t)} THEN ${literal(row.values[i]!)}`).join(' ');
  return `CASE ${whens} ELSE ${literal(row.values[row.values.length - 1]!)} END`;
}

function countNoise(spec: PerturbationSpec, type: 'BIGINT' | 'DOUBLE'): string {
  const rows = spec.counts;
  const last = rows.length - 1;
  const whens = rows
    .slice(0, last)
    .map((r, c) => `WHEN slot_f = ${c} THEN ${lookup(r)}`)
    .join(' ');
  // inside expressions a DOUBLE, as every perturbed statistic, so arithmetic over it can never
  // fail (no integer overflow); a count released as it is stays an integer
  return `((slot_f + CASE ${whens} ELSE ${lookup(rows[last]!)} END)::${type})`;
}

function magnitudeNoise(spec: PerturbationSpec, filtered: boolean): string {
  const { fraction, floor, topN } = spec.magnitudes;
  // no top-contributor term: skip measuring the top contributions (a heap per cell) altogether
  if (fraction === 0) return `(${literal(floor)} * (2 * slot_k - 1))`;
  const filter = filtered ? ' FILTER (WHERE slot_w)' : '';
  return `(greatest(${literal(fraction)} * coalesce(list_sum(max(abs(slot_x), ${topN})${filter}), 0), ${literal(floor)}) * (2 * slot_k - 1))`;
}

/** A sum, mean, variance or standard deviation with noise of its magnitude (`keys`: the cell's three keys). */
async function perturbMagnitude(
  f: Node,
  original: Node,
  spec: PerturbationSpec,
  template: Template,
  [key, key2, key3]: [Node, Node, Node],
): Promise<Node> {
  const name = functionName(f);
  const [x] = original.children as Node[];
  const filter = original.filter as Node | undefined;
  const filtered = filter !== undefined && filter !== null;
  const noiseOf = async (value: Node, k: Node) =>
    fill(await template(magnitudeNoise(spec, filtered)), {
      x: clone(value),
      k,
      ...(filtered ? { w: clone(filter) } : {}),
    });
  const sumOf = (value: Node) => ({ ...clone(original), function_name: 'sum', children: [value] });
  if (SUM.has(name)) {
    return fill(await template('(slot_f::DOUBLE + slot_n)'), { f: original, n: await noiseOf(x!, key2) });
  } else if (MEAN.has(name)) {
    // a mean over each person's sums (per-person.ts) divides by the sum of their counts
    const perPerson = stageMeanCount(f);
    const count = perPerson ? sumOf(clone(perPerson)) : { ...clone(original), function_name: 'count' };
    const mean = fill(await template('((slot_t::DOUBLE + slot_n) / nullif(slot_c, 0))'), {
      t: sumOf(clone(x!)),
      n: await noiseOf(x!, key2),
      c: count,
    });
    settled(f);
    return mean;
  } else {
    // a variance from perturbed moments: the count, the sum and the sum of squares, each perturbed
    const count = clone(original);
    count.function_name = 'count';
    const n = fill(await template(countNoise(spec, 'DOUBLE')), { f: count, k: key });
    const square = fill(await template('(slot_x::DOUBLE * slot_x)'), { x: clone(x!) });
    const s1 = fill(await template('(slot_f::DOUBLE + slot_n)'), {
      f: sumOf(fill(await template('slot_x::DOUBLE'), { x: clone(x!) })),
      n: await noiseOf(x!, key2),
    });
    const s2 = fill(await template('(slot_f + slot_n)'), { f: sumOf(square), n: await noiseOf(square, key3) });
    const pop = VARIANCE_POP.has(name);
    const variance = fill(
      await template(
        `CASE WHEN slot_n > ${pop ? 0 : 1} THEN greatest((slot_b - slot_a * slot_a / slot_n) / (slot_n${pop ? '' : ' - 1'}), 0) END`,
      ),
      { n, a: s1, b: s2 },
    );
    return name.startsWith('stddev') ? fill(await template('sqrt(slot_v)'), { v: variance }) : variance;
  }
}

/**
 * Replaces each target aggregate, in place, by its perturbed value. `condition` gives the
 * contribution condition of an aggregate (its non-NULL arguments and FILTER), or undefined when
 * every row of the group contributes.
 */
export async function perturbAggregates(
  targets: Target[],
  sources: KeySource[],
  spec: PerturbationSpec,
  template: Template,
  condition: (aggregate: Node) => Node | undefined,
): Promise<Perturbed> {
  const perturbed: Perturbed = { counts: [], magnitudes: [] };
  if (sources.length === 0) return perturbed;
  for (const { node: f, position, whole } of targets) {
    const name = functionName(f);
    const original = clone(f);
    const alias = original.alias;
    original.alias = '';
    const sum = await keySum(sources, spec.salt, template, condition(original));
    // the statistic's own offset: the same people under the same statistic always get the same
    // noise (repeating it gains nothing), and under another statistic other noise, so that equal
    // answers of two statistics never tell that their sets of people are equal (issue 31)
    const s = fill(await template(`(slot_s + ${statisticOffset(original)})`), { s: sum });
    const key = fill(await template('((slot_s % 4294967296)::DOUBLE / 4294967296.0)'), { s });
    const key2 = fill(await template('(((slot_s * 1000003) % 4294967296)::DOUBLE / 4294967296.0)'), { s });
    const key3 = fill(await template('(((slot_s * 999983) % 4294967296)::DOUBLE / 4294967296.0)'), { s });
    let replacement: Node;
    if (COUNT.has(name) || isWeightedCount(f)) {
      // a count read as a sum of weights (per-person.ts) is 0, not NULL, over no rows
      const counted = isWeightedCount(f) ? fill(await template('coalesce(slot_c, 0)'), { c: original }) : original;
      settled(f);
      replacement = fill(await template(countNoise(spec, whole ? 'BIGINT' : 'DOUBLE')), { f: counted, k: key });
      const base = spec.roundCountsTo ?? 1;
      if (!whole && base > 1)
        replacement = fill(await template(`(floor(slot_v / ${base} + 0.5) * ${base})`), { v: replacement });
      if (position !== undefined) perturbed.counts.push(position);
    } else if (QUANTILE.has(name)) {
      replacement = await perturbQuantile(original, spec, template, key2);
      if (position !== undefined) (perturbed.quantiles ??= []).push(position);
    } else {
      replacement = await perturbMagnitude(f, original, spec, template, [key, key2, key3]);
      if (position !== undefined) perturbed.magnitudes.push(position);
    }
    replacement.alias = alias;
    for (const k of Object.keys(f)) delete f[k];
    Object.assign(f, replacement);
  }
  return perturbed;
}

/**
 * A central quantile plus uniform noise within ± iqrFraction × the cell's interquartile range (of
 * the same rows): the value of the person at that rank never comes out as it is, and the noise is
 * of the scale of the distribution, not of anyone's value.
 */
async function perturbQuantile(original: Node, spec: PerturbationSpec, template: Template, key: Node): Promise<Node> {
  const [x] = original.children as Node[];
  const at = async (q: number) => {
    const f = clone(original);
    f.function_name = 'quantile_cont';
    f.children = [clone(x!), clone(await template(literal(q)))];
    return f;
  };
  return fill(
    await template(
      `(slot_q::DOUBLE + (2 * slot_k - 1) * ${literal(spec.quantiles.iqrFraction)} * (slot_h::DOUBLE - slot_l::DOUBLE))`,
    ),
    { q: original, k: key, h: await at(0.75), l: await at(0.25) },
  );
}

/** The sum of the contributing units' keyed hashes (each unit once), over every source's units. */
async function keySum(
  sources: KeySource[],
  salt: string,
  template: Template,
  condition: Node | undefined,
): Promise<Node> {
  const parts: Node[] = [];
  for (const src of sources) {
    if (src.personKey && !src.unique) {
      // each person once, whichever key they share with another: the sum below bit 64 is Σk
      const text = condition
        ? 'coalesce(sum(DISTINCT CASE WHEN (slot_c) THEN slot_p END) % 18446744073709551616, 0)'
        : 'coalesce(sum(DISTINCT slot_p) % 18446744073709551616, 0)';
      parts.push(
        fill(await template(text), { p: clone(src.personKey), ...(condition ? { c: clone(condition) } : {}) }),
      );
      continue;
    }
    const distinct = src.unique ? '' : 'DISTINCT ';
    // the snapshot stores the record key for direct scans; units carried up from a subquery are
    // hashed here with the same expression (masking recordKeySql): the same people, the same noise
    const summand = src.key || src.unitKey ? 'slot_k' : recordKeySql('slot_u', salt);
    // a CASE, not a FILTER: a FILTER evaluated per row costs several times more (bench:privacy);
    // a direct scan has a unit on every row, a carried unit column may be NULL (a UNION's padding)
    const when = [...(condition ? ['(slot_c)'] : []), ...(src.key ? [] : ['slot_u IS NOT NULL'])];
    const key = src.key ?? src.unitKey;
    const text =
      when.length === 0
        ? `coalesce(sum(${distinct}${summand}), 0)`
        : `coalesce(sum(${distinct}CASE WHEN ${when.join(' AND ')} THEN ${summand} END), 0)`;
    parts.push(
      fill(await template(text), {
        u: clone(src.ref),
        ...(key ? { k: clone(key) } : {}),
        ...(condition ? { c: clone(condition) } : {}),
      }),
    );
  }
  let sum = parts[0]!;
  for (const p of parts.slice(1)) sum = fill(await template('(slot_a + slot_b)'), { a: sum, b: p });
  // hugeint arithmetic: the sum of many 64-bit hashes never overflows
  return fill(await template('(slot_s)::HUGEINT'), { s: sum });
}

/**
 * A statistic's text as the engine reads it — no aliases, no positions, columns by their own
 * name (`p.income` and `income` are one statistic) — hashed to an offset below 2^32 for its cell key.
 */
export function statisticOffset(aggregate: Node): string {
  const text = JSON.stringify(aggregate, (k, v: unknown) => {
    if (k === 'query_location' || k === 'alias') return undefined;
    if (isNode(v) && v.class === 'COLUMN_REF' && Array.isArray(v.column_names))
      return { ...v, column_names: [(v.column_names as string[]).at(-1)!.toLowerCase()] };
    return v;
  });
  return String(createHash('sha256').update(text).digest().readUInt32BE(0));
}
