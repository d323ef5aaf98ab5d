import { randomBytes } from 'node:crypto';
import { clone, fill, isNode, refuse, someNode, walk, type Node, type SqlParser } from './ast.ts';
import { perturbAggregates, perturbationTargets, type PerturbationSpec, type Perturbed } from './perturb.ts';
import { aggregates, columnName, functionName, groupsByUnit } from './aggregate-rules.ts';
import { isAggregateName, RESERVED_PREFIX, type SqlPolicy } from './references.ts';
import { isWeightedCount } from './per-person.ts';
import { fixedColumns } from './join-scans.ts';

/**
 * The units rewrite of aggregate mode: every outer row gets a column counting the distinct privacy
 * units behind it, which disclosure control reads (docs/architecture.md §12). The unit column of every snapshot
 * table the outer FROM reads is carried up through joins, subqueries and CTEs under reserved names.
 *
 * A row's count is the smallest, over the tables it reads, of the distinct units that (a) made the
 * row exist and (b) gave a non-NULL value to each of its aggregates (after their FILTER). So
 * `max(CASE WHEN <one person> THEN income END)` counts one unit, not the whole group.
 *
 * A subquery on the way may aggregate only per unit (GROUP BY the unit column): its rows are then
 * each one unit's own data. Window functions there must partition by the unit, or they would copy
 * one unit's value onto other units' rows.
 */

/** Default name of the units column; each job gets its own unguessable one (see unitsColumnName). */
export const UNITS_COLUMN = `${RESERVED_PREFIX}_units`;

/**
 * A per-job name for the units column, so that a query that somehow skipped the rewrite cannot
 * forge the column disclosure control trusts.
 */
export function unitsColumnName(): string {
  return `${UNITS_COLUMN}_${randomBytes(8).toString('hex')}`;
}

interface Source {
  /** Expression naming the unit column, as seen by the enclosing SELECT. */
  ref: Node;
  /**
   * True when each unit appears on at most one row here (a scan of a table with one row per unit,
   * filtered or projected but never joined): then counting values is counting distinct units, at a
   * fraction of the cost (bench: ~4× on 10 M rows).
   */
  unique: boolean;
  /** True when some rows carry no unit here (the other side of a UNION ALL fills the column with NULL). */
  padded?: boolean;
  /** A direct scan of a snapshot table: its units' record keys, read instead of hashed (perturb.ts). */
  key?: Node;
  /** The units' domain-wide keys (UNIT_KEY_COLUMN), for the differencing signature, where they can be carried. */
  unitKey?: Node;
  /** A direct scan of this snapshot table. */
  table?: string;
  /** The name a direct scan's columns are qualified with (its alias, else its table), lower case. */
  qualifier?: string;
  /** Identity, for the classes of sources an inner join on their units makes one (see UnitClass). */
  id: number;
  /** A derived table with a row per unit: its output columns holding the unit (a join on them joins its people). */
  unitNames?: string[];
  /**
   * Sets of columns each of which tells the source's rows apart with the unit: a derived table
   * grouped by its unit and these output columns, or a table's catalog `uniquePerUnit` sets that
   * held when its snapshot was built. A unit is on one row within each group of an outer GROUP BY
   * that keeps a whole set.
   */
  uniqueWithin?: string[][];
  /** A join may have repeated this source's rows (it met a side not met once per row). */
  repeated?: boolean;
}

/**
 * Sources an inner join equates on their units (`p.id_number = m.id_number`, both the tables'
 * privacy-unit pseudonyms): on every row they hold the same person, so the row's people are
 * counted, keyed and signed once for all of them — one distinct count where there were two, and
 * the same cell key as the same people read from one table.
 */
interface UnitClass extends Source {
  /**
   * Where each unit may be on several rows and it has a 31-bit unit key: one HUGEINT per person,
   * a 31-bit hash of the unit above bit 64 and the key below. A DISTINCT over it counts people,
   * not key values (two of ten million people share a 31-bit key), and its sum modulo 2^64 is the
   * people's key sum — so the units, the cell key and the signature share one distinct table.
   */
  personKey?: Node;
  /** The same with the key's square below bit 64: the signature's Σk² modulo 2^64. */
  personSquare?: Node;
}

/** A unit column a derived query adds: its name, and whether each unit is on at most one row. */
interface UnitColumn {
  name: string;
  unique: boolean;
  padded?: boolean;
  /** The column carrying the units' domain-wide keys beside it, when there is one. */
  unitKey?: string;
  /** Where the derived query has a row per unit: its own output columns that hold the unit. */
  unitNames?: string[];
  /** Grouped by the unit and these output columns of its own (Source.uniqueWithin). */
  uniqueWithin?: string[][];
}

/** A unit a FROM subquery carries, before its column is added: the reference, and its key when it has one. */
interface DerivedUnit {
  ref: Node;
  unique: boolean;
  padded?: boolean;
  unitKey?: Node;
}

/** CTEs in scope: the WITH entry and the list it sits in (copies are inserted next to it). */
type Ctes = Map<string, { entry: Node; list: Node[] }>;

/** A unit column without the keys it is unique within (its derived table's columns were renamed). */
function withoutKeys(u: UnitColumn): UnitColumn {
  const { uniqueWithin: _k, ...rest } = u;
  return rest;
}

/** Whether two column references name the same column as written (qualifier and name, any case). */
function sameRef(a: Node, b: Node): boolean {
  const names = (n: Node) => JSON.stringify(((n.column_names as string[]) ?? []).map((x) => x.toLowerCase()));
  return names(a) === names(b);
}

function columnRef(...names: string[]): Node {
  return { class: 'COLUMN_REF', type: 'COLUMN_REF', alias: '', column_names: names };
}

/** Parsed templates per parser: the p-table's CASE and the rewrite's fragments are parsed once, not per query. */
const TEMPLATES = new WeakMap<SqlParser, Map<string, Node>>();

class UnitsRewriter {
  private counter = 0;
  private sourceIds = 0;
  /** Union-find over source ids: the classes inner joins on units make (see UnitClass). */
  private parent = new Map<number, number>();

  private root(id: number): number {
    let r = id;
    while (this.parent.has(r)) r = this.parent.get(r)!;
    return r;
  }

  private union(a: Source, b: Source): void {
    const [ra, rb] = [this.root(a.id), this.root(b.id)];
    if (ra !== rb) this.parent.set(rb, ra);
  }

  constructor(
    private readonly sql: string,
    private readonly policy: SqlPolicy,
    private readonly parser: SqlParser,
    private readonly unitsColumn: string,
    private readonly dominanceN: number,
    private readonly perturbation: PerturbationSpec | undefined,
  ) {}

  /** What the perturbation rewrite changed, by output position (from the first outer SELECT). */
  perturbed: Perturbed | undefined;

  /** A parsed expression template, shared by every rewrite on this parser: callers fill or clone it, never change it. */
  private async template(text: string): Promise<Node> {
    let cache = TEMPLATES.get(this.parser);
    if (!cache) TEMPLATES.set(this.parser, (cache = new Map()));
    let t = cache.get(text);
    if (!t) {
      t = await this.parser.expression(text);
      if (cache.size > 10_000) cache.clear();
      cache.set(text, t);
    }
    return t;
  }

  private fresh(kind: string): string {
    return `${RESERVED_PREFIX}_${kind}${this.counter++}`;
  }

  /** Positions of raw counts in the output (from the first outer SELECT), for rounding. */
  countColumns: number[] | undefined;
  /** Positions of the group keys (items with no aggregate of their own), for differencing. */
  keyColumns: number[] | undefined;
  /** Sums and means of the outer query and the hidden columns that measure their dominance. */
  dominance: DominanceColumn[] = [];

  /** At the outer level, only UNION ALL (BY NAME or not) of aggregates. */
  private checkOuterUnion(node: Node): void {
    if (
      !String(node.setop_type).startsWith('UNION') ||
      (node.setop_all === false && node.setop_type !== 'UNION_BY_NAME')
    ) {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'aggregate-outer',
        {
          reason: 'outer-set-operation',
          clause: `${String(node.setop_type)}${node.setop_all === false ? '' : ' ALL'}`,
        },
        `aggregate mode allows UNION ALL of aggregates at the outer level, not ${String(node.setop_type)}${node.setop_all === false ? ' (without ALL)' : ''}`,
        node,
        this.sql,
      );
    }
    if (node.setop_type === 'UNION_BY_NAME' && node.setop_all === false) {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'aggregate-outer',
        { reason: 'outer-union-by-name', clause: 'UNION BY NAME' },
        'aggregate mode allows UNION ALL BY NAME at the outer level, not UNION BY NAME',
        node,
        this.sql,
      );
    }
  }

  /** The outer query: each SELECT (or branch of an outer UNION ALL) gets the units column. */
  async outer(node: Node, ctes: Ctes): Promise<void> {
    const scope = this.withCtes(node, ctes);
    if (node.type === 'SET_OPERATION_NODE') {
      this.inUnion = true; // hidden dominance columns would not line up across branches
      this.checkOuterUnion(node);
      await this.outer(node.left as Node, scope);
      await this.outer(node.right as Node, scope);
      return;
    }
    if (node.type !== 'SELECT_NODE' || !aggregates(node, this.policy)) {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'aggregate-outer',
        { reason: 'outer-not-aggregate' },
        'aggregate mode needs the outer query to aggregate: GROUP BY, or an aggregate function such as count(*) or avg(x)',
        node,
        this.sql,
      );
    }
    this.countColumns ??= (node.select_list as Node[]).flatMap((item, i) =>
      item.class === 'FUNCTION' && !item.is_operator && (COUNTS.has(functionName(item)) || isWeightedCount(item))
        ? [i]
        : [],
    );
    this.keyColumns ??= (node.select_list as Node[]).flatMap((item, i) =>
      aggregates({ select_list: [item] }, this.policy) || hasWindow(item) ? [] : [i],
    );
    const targets = this.perturbation ? perturbationTargets(node) : [];
    this.ctesInScope = new Set(scope.keys());
    this.scanned = await this.from(node.from_table as Node, scope);
    this.uniqueInGroups(node, this.scanned);
    const sources = await this.unitClasses(this.scanned);
    this.nonNull = this.nonNullColumns(node.from_table as Node, sources);
    this.shareDistinctUnits(node, sources);
    const item = await this.unitsExpression(node, sources);
    item.alias = this.unitsColumn;
    (node.select_list as Node[]).push(item);
    if (!this.inUnion) {
      await this.addDominance(node, sources.length === 1 && sources[0]!.unique && !sources[0]!.padded);
      await this.addSignature(node, sources);
    }
    if (this.perturbation) {
      const done = await perturbAggregates(
        targets,
        sources.map((x) => ({
          ref: x.ref,
          // a unique class padded by an outer join sums its keys without DISTINCT too: sum skips NULLs
          unique: x.unique,
          ...(x.key ? { key: x.key } : {}),
          // carried unit keys are the record keys only when the snapshot keys cells by unit keys
          ...(x.unitKey && this.policy.recordKeyColumn === this.policy.unitKeyColumn ? { unitKey: x.unitKey } : {}),
          ...(x.personKey && this.policy.recordKeyColumn === this.policy.unitKeyColumn
            ? { personKey: x.personKey }
            : {}),
        })),
        this.perturbation,
        (text) => this.template(text),
        (aggregate) => this.conditionOf(aggregate),
      );
      this.perturbed ??= done;
    }
  }

  /**
   * A source whose units are on one row each within every cell of this SELECT: a derived table
   * grouped by its unit and columns the outer query groups by, or a table whose rows a set of its
   * columns tells apart with the unit (catalog uniquePerUnit, checked on the data) — all of them
   * grouped by as that source's own columns (no expression of them, no ROLLUP) or fixed to one
   * value by a WHERE equality — and no join repeating its rows. It counts as a table with one row
   * a person here.
   */
  private uniqueInGroups(node: Node, sources: Source[]): void {
    if (((node.group_sets as unknown[]) ?? []).length > 1) return;
    // every item of the FROM is one of these sources, under inner joins (a semi or anti join's
    // right side filters only): a VALUES list, a subquery or CTE of constants has no source and
    // could repeat rows unseen
    const leaves: Node[] = [];
    let inner = true;
    const visit = (ref: Node): void => {
      if (ref.type !== 'JOIN') return void leaves.push(ref);
      if (ref.ref_type !== 'REGULAR') inner = false;
      else if (ref.join_type === 'SEMI' || ref.join_type === 'ANTI') return visit(ref.left as Node);
      else if (ref.join_type !== 'INNER') inner = false;
      visit(ref.left as Node);
      visit(ref.right as Node);
    };
    visit(node.from_table as Node);
    if (!inner || leaves.length !== sources.length) return;
    const keys = [
      ...((node.group_expressions as Node[]) ?? []).filter((g) => g.class === 'COLUMN_REF'),
      ...fixedColumns(node.where_clause),
    ];
    for (const src of sources) {
      if (!src.uniqueWithin || src.padded || src.repeated || !src.qualifier) continue;
      const kept = (name: string) =>
        keys.some((g) => {
          const names = (g.column_names as string[]).map((n) => n.toLowerCase());
          return names.length === 2
            ? names[0] === src.qualifier && names[1] === name
            : sources.length === 1 && names[0] === name;
        });
      if (src.uniqueWithin.some((set) => set.every(kept))) src.unique = true;
    }
  }

  /**
   * The classes of the outer SELECT's sources (UnitClass), in the order they first appear. A
   * class is unique when one of its members is (they hold the same unit on every row), and keyed
   * by a member with a unit key, preferably a direct scan.
   */
  private async unitClasses(sources: Source[]): Promise<UnitClass[]> {
    const byRoot = new Map<number, Source[]>();
    for (const x of sources) {
      const r = this.root(x.id);
      byRoot.set(r, [...(byRoot.get(r) ?? []), x]);
    }
    const out: UnitClass[] = [];
    for (const members of byRoot.values()) {
      const rep = members.find((x) => x.key && x.unitKey) ?? members.find((x) => x.unitKey) ?? members[0]!;
      const unique = members.some((x) => x.unique);
      const cls: UnitClass = { ...rep, unique, padded: members.some((x) => x.padded) };
      if (!unique && rep.unitKey) {
        const person = await this.template('(((hash(slot_u) >> 33)::HUGEINT << 64) + slot_v)');
        const square = await this.template('slot_k::BIGINT * slot_k');
        cls.personKey = fill(person, { u: clone(rep.ref), v: clone(rep.unitKey) });
        cls.personSquare = fill(person, { u: clone(rep.ref), v: fill(square, { k: clone(rep.unitKey) }) });
        this.personKeys.add(sameText(cls.personKey));
      }
      out.push(cls);
    }
    return out;
  }

  /** The direct scans and carried units of the outer SELECT being rewritten, before classes. */
  private scanned: Source[] = [];
  /** Person keys of this query's classes (as text): never NULL where their class has a unit. */
  private personKeys = new Set<string>();

  /**
   * The columns of the outer SELECT never NULL on a row: a single scan's measured non-NULL
   * columns (by name), or, over inner joins of direct scans, each scan's (qualified by its name,
   * or by name alone where one scanned table has that column).
   */
  private nonNullColumns(from: Node, sources: Source[]): Set<string> {
    const [only] = sources;
    if (sources.length === 1 && only!.table && from.type === 'BASE_TABLE')
      return this.policy.nonNullColumns.get(only!.table) ?? new Set();
    const scans: Node[] = [];
    const inner = (ref: Node): boolean => {
      if (ref.type === 'BASE_TABLE') {
        scans.push(ref);
        return true;
      }
      return ref.type === 'JOIN' && ref.join_type === 'INNER' && inner(ref.left as Node) && inner(ref.right as Node);
    };
    if (!inner(from)) return new Set();
    const out = new Set<string>();
    const seen = new Map<string, number>();
    for (const scan of scans) {
      const table = String(scan.table_name).toLowerCase();
      if (!(table in this.policy.tables) || this.ctesInScope.has(table)) return new Set();
      for (const c of this.policy.tables[table]!) seen.set(c, (seen.get(c) ?? 0) + 1);
    }
    for (const scan of scans) {
      const table = String(scan.table_name).toLowerCase();
      const qualifier = String(scan.alias || scan.table_name).toLowerCase();
      for (const c of this.policy.nonNullColumns.get(table) ?? []) {
        out.add(`${qualifier}.${c}`);
        if (seen.get(c) === 1) out.add(c);
      }
    }
    return out;
  }

  /** CTE names visible at the outer SELECT being rewritten (a scan by such a name is no snapshot table). */
  private ctesInScope = new Set<string>();

  /**
   * The query's own count(DISTINCT <a unit's pseudonym>) counts the very people the units column
   * does: over a class keyed per person it counts that key (one distinct table instead of two,
   * and a HUGEINT's instead of a 32-character string's); over a unique class, each person is
   * one row already, so it counts without DISTINCT.
   */
  private shareDistinctUnits(node: Node, classes: UnitClass[]): void {
    walk([node.select_list, node.having, node.modifiers], (v) => {
      if (v.class === 'SUBQUERY' || v.class === 'WINDOW') return false;
      if (v.class === 'FUNCTION' && !v.is_operator && functionName(v) === 'count' && v.distinct === true && !v.filter) {
        const [arg] = (v.children as Node[]) ?? [];
        const owner = arg?.class === 'COLUMN_REF' ? this.unitOf(arg, this.scanned) : undefined;
        const cls = owner && classes.find((c) => this.root(c.id) === this.root(owner.id));
        if (cls?.unique) v.distinct = false;
        else if (cls?.personKey) v.children = [clone(cls.personKey)];
        return false;
      }
    });
  }

  private inUnion = false;

  /** Columns of the current outer SELECT that are never NULL (see outer). */
  private nonNull = new Set<string>();

  /** Hidden columns of each outer row's unit-set signature (see addSignature). */
  signature: Signature | undefined;

  /**
   * The signature of the set of units behind each outer row, for the differencing check
   * (docs/architecture.md §12): the count of its units and the first two power sums of their
   * domain-wide keys. Two rows whose sets differ by one or two units can be told apart from
   * unrelated rows exactly, whatever their columns are called and under whichever contract they
   * were made (disclosure/differencing.ts).
   */
  private async addSignature(node: Node, sources: UnitClass[]): Promise<void> {
    const src = sources.find((x) => x.unitKey);
    if (!src) return;
    const once = src.unique && !src.padded && sources.length === 1;
    const names = { n: `${this.unitsColumn}_sn`, s1: `${this.unitsColumn}_s1`, s2: `${this.unitsColumn}_s2` };
    // each unit once: plain sums over its rows; otherwise over distinct person keys, the sums
    // below bit 64 (Σk exact; Σk² modulo 2^64, which the differencing check compares modulo 2^64)
    const texts = src.unique
      ? {
          n: once ? 'count(*)' : 'count(slot_k)',
          s1: 'sum(slot_k)::VARCHAR',
          s2: 'sum(slot_k::BIGINT * slot_k)::VARCHAR',
        }
      : {
          n: 'count(DISTINCT slot_p)',
          s1: '(sum(DISTINCT slot_p) % 18446744073709551616)::VARCHAR',
          s2: '(sum(DISTINCT slot_q) % 18446744073709551616)::VARCHAR',
        };
    for (const part of ['n', 's1', 's2'] as const) {
      const item = fill(await this.template(texts[part]), {
        k: clone(src.unitKey!),
        ...(src.personKey ? { p: clone(src.personKey), q: clone(src.personSquare!) } : {}),
      });
      item.alias = names[part];
      (node.select_list as Node[]).push(item);
    }
    this.signature = names;
  }

  /**
   * For each sum or mean in the outer SELECT: the total of absolute contributions and the largest
   * `n` of them, as hidden columns, so disclosure control can apply the (n, k) dominance rule.
   * Contributions are units' when each unit is one row here, rows' otherwise (reported as such).
   */
  private async addDominance(node: Node, perUnit: boolean): Promise<void> {
    const list = node.select_list as Node[];
    const original = list.length - 1;
    // a sum and a mean of the same values share their measuring columns
    const measured = new Map<string, { total: string; top: string }>();
    // every sum or mean in the item, however wrapped (round(sum(x)), sum(x) + 0, sum(x) / count(*)):
    // a dominated one inside an expression suppresses the item as it would alone (issue 31)
    const inside = (v: unknown): Node[] => {
      const found: Node[] = [];
      walk(v, (n) => {
        if (n.class === 'SUBQUERY' || n.class === 'WINDOW') return false;
        if (n.class === 'FUNCTION' && !n.is_operator && SUMS.has(functionName(n)) && !isWeightedCount(n)) {
          found.push(n);
          return false;
        }
      });
      return found;
    };
    const sameText = (n: unknown) =>
      JSON.stringify(n, (k, x: unknown) => (k === 'query_location' || k === 'alias' ? undefined : x));
    const basis = perUnit ? ('units' as const) : ('rows' as const);
    for (let i = 0; i < original; i++) {
      for (const f of inside(list[i])) {
        const args = (f.children as Node[]) ?? [];
        if (args.length !== 1 || this.isConstant(args[0]!)) continue;
        const key = sameText([args[0], f.filter ?? null]);
        let names = measured.get(key);
        if (!names) {
          const arg = this.stripAlias(clone(args[0]!));
          const total = fill(await this.template('sum(abs(slot_x))'), { x: arg });
          const top = fill(await this.template(`max(abs(slot_x), ${this.dominanceN})`), { x: arg });
          for (const agg of [total, top]) if (f.filter) agg.filter = clone(f.filter);
          names = { total: `${this.unitsColumn}_dt${measured.size}`, top: `${this.unitsColumn}_dm${measured.size}` };
          total.alias = names.total;
          top.alias = names.top;
          list.push(total, top);
          measured.set(key, names);
        }
        if (!this.dominance.some((d) => d.column === i && d.total === names.total))
          this.dominance.push({ column: i, ...names, basis });
      }
    }
  }

  private withCtes(node: Node, outer: Ctes): Ctes {
    const list = ((node.cte_map as Node | undefined)?.map as Node[] | undefined) ?? [];
    if (list.length === 0) return outer;
    const scope = new Map(outer);
    for (const entry of list) scope.set(String(entry.key).toLowerCase(), { entry, list });
    return scope;
  }

  /** Carries unit columns up from a FROM item; returns how the enclosing SELECT names them. */
  private async from(ref: Node, ctes: Ctes): Promise<Source[]> {
    switch (ref.type) {
      case 'BASE_TABLE': {
        const name = String(ref.table_name).toLowerCase();
        const qualifier = String(ref.alias || ref.table_name);
        const found = ctes.get(name);
        if (!found)
          return [
            {
              ref: columnRef(qualifier, this.policy.privacyUnitColumn),
              unique: this.policy.uniqueUnitTables.has(name),
              ...(this.policy.recordKeyColumn && name in this.policy.tables
                ? { key: columnRef(qualifier, this.policy.recordKeyColumn) }
                : {}),
              ...(this.policy.unitKeyColumn && name in this.policy.tables
                ? { unitKey: columnRef(qualifier, this.policy.unitKeyColumn) }
                : {}),
              ...(name in this.policy.tables ? { table: name, qualifier: qualifier.toLowerCase() } : {}),
              ...(this.policy.uniqueWith.has(name) ? { uniqueWithin: this.policy.uniqueWith.get(name)! } : {}),
              id: this.sourceIds++,
            },
          ];
        // a CTE may also be used where extra columns would break it (IN, UNION): carry units through a copy
        const { entry: cte, list } = found;
        const value = cte.value as Node;
        const body = clone((value.query as Node).node as Node);
        if (!this.readsSnapshot(body)) return [];
        const units = await this.derived(body, ctes);
        if (units.length === 0) return [];
        const copyName = this.fresh('cte');
        list.splice(list.indexOf(cte) + 1, 0, {
          key: copyName,
          value: { ...clone(value), query: { ...(value.query as Node), node: body } },
        });
        ref.table_name = copyName;
        ref.alias = qualifier;
        // a list of column names renames what the outer query reads: its keys are not the body's
        const renamed =
          ((value.aliases as unknown[]) ?? []).length > 0 || ((ref.column_name_alias as unknown[]) ?? []).length > 0;
        return units.map((u) => this.carried(qualifier, renamed ? withoutKeys(u) : u));
      }
      case 'JOIN': {
        const left = await this.from(ref.left as Node, ctes);
        const right = await this.from(ref.right as Node, ctes);
        // a semi or anti join never repeats a left row; any other join may
        if (ref.join_type === 'SEMI' || ref.join_type === 'ANTI') return left;
        return this.joined(ref, left, right);
      }
      case 'SUBQUERY': {
        const body = (ref.subquery as Node).node as Node;
        const units = await this.derived(body, ctes);
        if (units.length === 0) return [];
        if (!ref.alias) ref.alias = this.fresh('sq');
        const renamed = ((ref.column_name_alias as unknown[]) ?? []).length > 0;
        return units.map((u) => this.carried(String(ref.alias), renamed ? withoutKeys(u) : u));
      }
      default:
        return []; // EMPTY and VALUES read no snapshot table
    }
  }

  /** A unit column of a derived table, as the enclosing SELECT sees it. */
  private carried(qualifier: string, u: UnitColumn): Source {
    return {
      ref: columnRef(qualifier, u.name),
      unique: u.unique,
      padded: u.padded,
      ...(u.unitKey ? { unitKey: columnRef(qualifier, u.unitKey) } : {}),
      ...(u.unitNames ? { unitNames: u.unitNames, qualifier: qualifier.toLowerCase() } : {}),
      ...(u.uniqueWithin ? { uniqueWithin: u.uniqueWithin, qualifier: qualifier.toLowerCase() } : {}),
      id: this.sourceIds++,
    };
  }

  /**
   * The sources of a join. A side's rows are repeated unless each of them meets at most one row
   * of the other side — the other side is one scan of a table with a row per unit, joined on its
   * unit (a visit meets one resident; a resident meets many visits). An outer join may leave a
   * side's unit NULL. An inner join on two tables' units makes them one class (UnitClass).
   */
  private joined(ref: Node, left: Source[], right: Source[]): Source[] {
    const pairs = this.equalities(ref, left, right);
    // a row per unit as the side stands now: a unique table already repeated by a join is not
    const rowPerUnit = (x: Source) => x.unique && !x.padded && (x.table !== undefined || x.unitNames !== undefined);
    const metOnce = (side: Source[], other: Source[]) =>
      side.length === 1 &&
      rowPerUnit(side[0]!) &&
      pairs.some(
        ([a, b]) =>
          (this.unitOf(a, side) && !this.unitOf(b, side) && this.reads(b, other)) ||
          (this.unitOf(b, side) && !this.unitOf(a, side) && this.reads(a, other)),
      );
    const type = String(ref.join_type);
    const leftOnce = metOnce(right, left);
    const rightOnce = metOnce(left, right);
    if (type === 'INNER')
      for (const [a, b] of pairs) {
        const [sa, sb] = [this.unitOf(a, left) ?? this.unitOf(a, right), this.unitOf(b, left) ?? this.unitOf(b, right)];
        if (sa && sb) this.union(sa, sb);
      }
    const padLeft = type === 'RIGHT' || type === 'OUTER';
    const padRight = type === 'LEFT' || type === 'OUTER';
    return [
      ...left.map((x) => ({
        ...x,
        unique: x.unique && leftOnce,
        padded: x.padded || padLeft,
        repeated: x.repeated || !leftOnce,
      })),
      ...right.map((x) => ({
        ...x,
        unique: x.unique && rightOnce,
        padded: x.padded || padRight,
        repeated: x.repeated || !rightOnce,
      })),
    ];
  }

  /** The column equalities of a join's condition (its top-level AND), and USING's. */
  private equalities(ref: Node, left: Source[], right: Source[]): [Node, Node][] {
    const using = (ref.using_columns as string[] | undefined) ?? [];
    if (using.length > 0) {
      // USING (c) equates the one scan on each side that has c, when there is exactly one
      const on = (side: Source[], c: string) => {
        const has = side.filter((x) => x.table && this.policy.tables[x.table]?.includes(c));
        return has.length === 1 ? columnRef(has[0]!.qualifier!, c) : undefined;
      };
      return using.flatMap((c) => {
        const [a, b] = [on(left, c), on(right, c)];
        return a && b ? [[a, b] as [Node, Node]] : [];
      });
    }
    const cond = ref.condition as Node | undefined;
    if (!isNode(cond)) return [];
    const conjuncts = cond.type === 'CONJUNCTION_AND' ? (cond.children as Node[]) : [cond];
    return conjuncts
      .filter(
        (c) =>
          c.type === 'COMPARE_EQUAL' &&
          (c.left as Node).class === 'COLUMN_REF' &&
          (c.right as Node).class === 'COLUMN_REF',
      )
      .map((c) => [c.left as Node, c.right as Node]);
  }

  /** The direct scan among `sources` whose unit the qualified column `ref` holds. */
  private unitOf(ref: Node, sources: Source[]): Source | undefined {
    const names = (ref.column_names as string[]).map((n) => n.toLowerCase());
    // an unqualified column names the unit of the only scan there is
    if (names.length === 1 && sources.length === 1 && sources[0]!.qualifier) names.unshift(sources[0]!.qualifier);
    if (names.length !== 2) return undefined;
    const src = sources.find((x) => x.qualifier === names[0]);
    const column = names[1]!;
    if (src?.unitNames) return src.unitNames.includes(column) ? src : undefined;
    if (!src?.table) return undefined;
    return column === this.policy.privacyUnitColumn || this.policy.unitAliases.get(src.table)?.has(column)
      ? src
      : undefined;
  }

  /** Whether the qualified column `ref` is read from one of these direct scans. */
  private reads(ref: Node, sources: Source[]): boolean {
    const names = ref.column_names as string[];
    return names.length === 2 && sources.some((x) => x.qualifier === names[0]!.toLowerCase());
  }

  private readsSnapshot(node: Node): boolean {
    return someNode(node, (v) => v.type === 'BASE_TABLE' && String(v.table_name).toLowerCase() in this.policy.tables);
  }

  /** Adds unit columns to a query below the outer one; returns them. */
  private async derived(node: Node, outer: Ctes): Promise<UnitColumn[]> {
    const ctes = this.withCtes(node, outer);
    switch (node.type) {
      case 'SELECT_NODE':
        return this.derivedSelect(node, ctes);
      case 'SET_OPERATION_NODE': {
        if (!String(node.setop_type).startsWith('UNION') || node.setop_all === false) {
          refuse(
            'ERR_SQL_SHAPE_NOT_ALLOWED',
            'units-traceable',
            { reason: 'subquery-set-operation', clause: String(node.setop_type) },
            `${String(node.setop_type)} in a FROM subquery cannot be traced to privacy units in aggregate mode; use UNION ALL`,
            node,
            this.sql,
          );
        }
        const left = await this.derived(node.left as Node, ctes);
        const right = await this.derived(node.right as Node, ctes);
        // each side keeps its own unit (and unit-key) columns; the other side fills them with NULL
        const added = (units: UnitColumn[]) => [
          ...units.map((u) => u.name),
          ...units.flatMap((u) => (u.unitKey ? [u.unitKey] : [])),
        ];
        await this.pad(node.left as Node, added(left).length, added(right), 'after');
        await this.pad(node.right as Node, added(right).length, added(left), 'before');
        this.renamePositional(node.left as Node, [...added(left), ...added(right)]);
        // each column holds one side's units only, so it stays unique if that side was
        return [...left, ...right].map((u) => ({ ...u, padded: true }));
      }
      default:
        if (!this.readsSnapshot(node)) return [];
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'units-traceable',
          { reason: 'recursive-cte', clause: 'WITH RECURSIVE' },
          'a recursive CTE over snapshot tables cannot be traced to privacy units in aggregate mode',
          node,
          this.sql,
        );
    }
  }

  /** Adds NULL unit columns to one side of a UNION ALL for the other side's units. */
  private async pad(side: Node, _own: number, others: string[], where: 'before' | 'after'): Promise<void> {
    const selects = this.branchSelects(side);
    for (const s of selects) {
      const list = s.select_list as Node[];
      const own = list.splice(list.length - _own, _own);
      const nulls = others.map((n) => ({ ...this.nullConstant(), alias: n }));
      list.push(...(where === 'after' ? [...own, ...nulls] : [...nulls, ...own]));
    }
  }

  private branchSelects(n: Node): Node[] {
    return n.type === 'SET_OPERATION_NODE'
      ? [...this.branchSelects(n.left as Node), ...this.branchSelects(n.right as Node)]
      : [n];
  }

  /** Names the last columns of every branch of a UNION's left side (a UNION's names come from there). */
  private renamePositional(left: Node, names: string[]): void {
    for (const s of this.branchSelects(left)) {
      const list = s.select_list as Node[];
      names.forEach((name, i) => {
        list[list.length - names.length + i]!.alias = name;
      });
    }
  }

  private nullConstant(): Node {
    return {
      class: 'CONSTANT',
      type: 'VALUE_CONSTANT',
      alias: '',
      value: { type: { id: 'NULL', type_info: null }, is_null: true },
    };
  }

  /** The units of a FROM subquery that aggregates (per unit only), and the keys it is one row a unit within. */
  private async groupedUnits(s: Node, sources: Source[]): Promise<{ units: DerivedUnit[]; withinGroups?: string[] }> {
    let withinGroups: string[] | undefined;
    if (!groupsByUnit(s, this.policy)) {
      refuse(
        'ERR_SQL_SHAPE_NOT_ALLOWED',
        'units-traceable',
        { reason: 'subquery-aggregate', columnName: this.policy.privacyUnitColumn },
        `a subquery in FROM may aggregate only per privacy unit (GROUP BY ${this.policy.privacyUnitColumn}); put other aggregation in the outer query`,
        s,
        this.sql,
      );
    }
    const groups = (s.group_expressions as Node[]) ?? [];
    // grouped by the unit alone, each row is one unit
    // (over a join, an outer side may group its missing unit as NULL: count values then, not rows)
    const padded = sources.length > 1 || sources.some((x) => x.padded);
    const units: DerivedUnit[] = groups
      .filter((g) => columnName(g) === this.policy.privacyUnitColumn)
      .map((g) => ({ ref: clone(g), unique: groups.length === 1, padded }));
    // grouped by the unit and plain columns it returns as they are: a unit per row within each
    // value of those columns (the outer query may know it is one row a person in its groups)
    const others = groups.filter((g) => columnName(g) !== this.policy.privacyUnitColumn);
    // each key returned as it is, under its own name, and no other output column of that name
    const outputName = (item: Node) => String(item.alias || columnName(item) || '').toLowerCase();
    const returned = (g: Node) =>
      (s.select_list as Node[]).some(
        (item) => item.class === 'COLUMN_REF' && sameRef(item, g) && (!item.alias || item.alias === columnName(item)),
      ) &&
      (s.select_list as Node[]).filter((item) => outputName(item) === String(columnName(g)).toLowerCase()).length === 1;
    if (
      units.length === 1 &&
      !padded &&
      others.length > 0 &&
      ((s.group_sets as unknown[]) ?? []).length <= 1 &&
      others.every((g) => g.class === 'COLUMN_REF' && returned(g))
    )
      withinGroups = others.map((g) => String(columnName(g)).toLowerCase());
    // one unit per group, one table keyed: its key is the unit's, whichever row gives it
    const keyed = sources.filter((x) => x.unitKey);
    if (units.length === 1 && sources.length === 1 && keyed.length === 1)
      units[0]!.unitKey = fill(await this.template('min(slot_k)'), { k: clone(keyed[0]!.unitKey!) });
    return { units, ...(withinGroups ? { withinGroups } : {}) };
  }

  private async derivedSelect(s: Node, ctes: Ctes): Promise<UnitColumn[]> {
    const sources = await this.from(s.from_table as Node, ctes);
    if (sources.length === 0) return [];
    this.checkWindows(s);
    let units: DerivedUnit[];
    let withinGroups: string[] | undefined;
    if (aggregates(s, this.policy)) {
      ({ units, withinGroups } = await this.groupedUnits(s, sources));
    } else {
      if ((s.modifiers as Node[]).some((m) => m.type === 'DISTINCT_MODIFIER')) {
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'units-traceable',
          { reason: 'subquery-distinct', clause: 'SELECT DISTINCT' },
          'SELECT DISTINCT in a FROM subquery cannot be traced to privacy units in aggregate mode; use count(DISTINCT …) in the outer query',
          s,
          this.sql,
        );
      }
      units = sources.map((x) => ({
        ref: clone(x.ref),
        unique: x.unique,
        padded: x.padded,
        ...(x.unitKey ? { unitKey: clone(x.unitKey) } : {}),
      }));
    }
    // a row per unit (or per unit and key), on every row: the subquery's own columns that are its
    // unit join its people
    const perUnit =
      aggregates(s, this.policy) &&
      units.length === 1 &&
      (units[0]!.unique || withinGroups !== undefined) &&
      !units[0]!.padded;
    const unitNames = perUnit
      ? (s.select_list as Node[])
          .filter((item) => item.class === 'COLUMN_REF' && columnName(item) === this.policy.privacyUnitColumn)
          .map((item) => String(item.alias || columnName(item)).toLowerCase())
      : [];
    const out: UnitColumn[] = units.map((u) => {
      const name = this.fresh('u');
      u.ref.alias = name;
      (s.select_list as Node[]).push(u.ref);
      return {
        name,
        unique: u.unique,
        padded: u.padded,
        ...(unitNames.length ? { unitNames } : {}),
        ...(withinGroups ? { uniqueWithin: [withinGroups] } : {}),
      };
    });
    // the keys go after every unit column: a UNION's padding counts the added columns from the end
    units.forEach((u, i) => {
      if (!u.unitKey) return;
      const name = this.fresh('k');
      u.unitKey.alias = name;
      (s.select_list as Node[]).push(u.unitKey);
      out[i]!.unitKey = name;
    });
    return out;
  }

  /** Windows below the outer query must partition by the unit (see the class comment). */
  private checkWindows(s: Node): void {
    walk([s.select_list, s.qualify], (v) => {
      if (v.class === 'SUBQUERY') return false;
      if (
        v.class === 'WINDOW' &&
        !((v.partitions as Node[]) ?? []).some((p) => columnName(p) === this.policy.privacyUnitColumn)
      ) {
        refuse(
          'ERR_SQL_SHAPE_NOT_ALLOWED',
          'units-traceable',
          { reason: 'subquery-window', columnName: this.policy.privacyUnitColumn },
          `a window function in a FROM subquery must PARTITION BY ${this.policy.privacyUnitColumn} in aggregate mode (otherwise it copies one unit's value onto other rows)`,
          v,
          this.sql,
        );
      }
    });
  }

  /** least(count(DISTINCT …), …) over tables × (the row, each aggregate). */
  private async unitsExpression(s: Node, sources: UnitClass[]): Promise<Node> {
    if (sources.length === 0) return this.parser.expression('0');
    const conditions = this.contributionConditions(s);
    const parts: Node[] = [];
    const [only] = sources;
    if (sources.length === 1 && only!.unique && !only!.padded) {
      // one unit per row and on every row: counting rows is counting units, and reads no unit column
      parts.push(clone(await this.template('count(*)')));
      const when = await this.template('count(CASE WHEN slot_c THEN 1 END)');
      for (const c of conditions) parts.push(fill(when, { c }));
    } else {
      const distinct = await this.template('count(DISTINCT slot_u)');
      const distinctWhen = await this.template('count(DISTINCT CASE WHEN slot_c THEN slot_u END)');
      const plain = await this.template('count(slot_u)');
      const plainWhen = await this.template('count(CASE WHEN slot_c THEN slot_u END)');
      for (const src of sources) {
        // a class keyed per person counts its person keys: the same distinct table as its cell key
        const u = src.personKey ?? src.ref;
        parts.push(fill(src.unique ? plain : distinct, { u }));
        for (const c of conditions) parts.push(fill(src.unique ? plainWhen : distinctWhen, { c, u }));
      }
    }
    if (parts.length === 1) return parts[0]!;
    const least = fill(await this.template('least(slot_a)'), {});
    if (sources.length === 1) {
      // an aggregate no unit contributed to counts 0 too: a NULL released beside a suppressed row would tell
      least.children = parts;
      return least;
    }
    // several tables: a side of an outer join that adds nothing to a row does not count against it
    const nonZero = await this.template('nullif(slot_p, 0)');
    least.children = parts.map((p) => fill(nonZero, { p }));
    const out = fill(await this.template('coalesce(slot_a, 0)'), { a: least });
    return out;
  }

  /**
   * For each aggregate of the outer SELECT with a non-constant argument: the condition under which
   * a row contributes to it (all arguments non-NULL, and its FILTER). Identical ones are merged.
   */
  private contributionConditions(s: Node): Node[] {
    const found = new Map<string, Node>();
    walk([s.select_list, s.having, s.qualify, s.modifiers], (v) => {
      if (v.class === 'SUBQUERY' || v.class === 'WINDOW') return false;
      if (v.class === 'FUNCTION' && !v.is_operator && isAggregateName(functionName(v), this.policy.functions)) {
        const cond = this.conditionOf(v);
        if (cond)
          found.set(
            JSON.stringify(cond, (k, x: unknown) => (k === 'query_location' ? undefined : x)),
            cond,
          );
        return false; // aggregates do not nest
      }
    });
    return [...found.values()];
  }

  /** The condition under which a row contributes to an aggregate: its non-constant arguments non-NULL, and its FILTER. */
  private conditionOf(v: Node): Node | undefined {
    const args = ((v.children as Node[]) ?? []).filter(
      (a) =>
        !this.isConstant(a) &&
        !(a.class === 'COLUMN_REF' && (this.nonNull.has(columnName(a) ?? '') || this.nonNull.has(qualifiedName(a)))) &&
        !this.personKeys.has(sameText(a)),
    );
    if (args.length === 0 && !v.filter) return undefined;
    const terms: Node[] = args.map((a) => ({
      class: 'OPERATOR',
      type: 'OPERATOR_IS_NOT_NULL',
      alias: '',
      children: [this.stripAlias(clone(a))],
    }));
    if (v.filter) terms.push(this.stripAlias(clone(v.filter as Node)));
    return terms.length === 1
      ? terms[0]!
      : { class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: terms };
  }

  private isConstant(n: Node): boolean {
    return !someNode(n, (v) => v.class === 'COLUMN_REF' || v.class === 'SUBQUERY' || v.class === 'STAR');
  }

  private stripAlias(n: Node): Node {
    n.alias = '';
    return n;
  }
}

/** An expression's text without positions and aliases, to tell equal expressions. */
function sameText(n: unknown): string {
  return JSON.stringify(n, (k, x: unknown) => (k === 'query_location' || k === 'alias' ? undefined : x));
}

/** `q.c` for a qualified column, lower case; '' for anything else. */
function qualifiedName(n: Node): string {
  const names = (n.column_names as string[] | undefined) ?? [];
  return names.length === 2 ? `${names[0]!.toLowerCase()}.${names[1]!.toLowerCase()}` : '';
}

const COUNTS = new Set(['count', 'count_star', 'count_if', 'countif']);
const SUMS = new Set(['sum', 'avg', 'mean', 'fsum', 'sumkahan']);

/** The hidden columns of the unit-set signature: units, and the sums of their keys and of their squares. */
export interface Signature {
  n: string;
  s1: string;
  s2: string;
}

/** A sum or mean at output position `column` and the hidden columns measuring its dominance. */
export interface DominanceColumn {
  column: number;
  total: string;
  top: string;
  basis: 'units' | 'rows';
}

function hasWindow(v: unknown): boolean {
  return someNode(v, (n) => n.class === 'WINDOW');
}

/**
 * Rewrites an aggregate-mode query in place so that every outer row carries the units column;
 * answers the output positions of raw counts (for rounding).
 */
export async function addUnitsColumn(
  root: Node,
  sql: string,
  policy: SqlPolicy,
  parser: SqlParser,
  unitsColumn: string,
  dominanceN: number,
  perturbation?: PerturbationSpec,
): Promise<{
  countColumns: number[];
  keyColumns: number[];
  dominance: DominanceColumn[];
  perturbed?: Perturbed;
  signature?: Signature;
}> {
  const rewriter = new UnitsRewriter(sql, policy, parser, unitsColumn, dominanceN, perturbation);
  await rewriter.outer(root, new Map());
  return {
    countColumns: rewriter.countColumns ?? [],
    keyColumns: rewriter.keyColumns ?? [],
    dominance: rewriter.dominance,
    ...(rewriter.signature ? { signature: rewriter.signature } : {}),
    ...(rewriter.perturbed ? { perturbed: rewriter.perturbed } : {}),
  };
}
