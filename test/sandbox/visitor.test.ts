import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNode, kindOf, SKIP, SqlParser, visitAst, walk, type Node } from '../../src/sandbox/ast.ts';
import { ATTACKS, HONEST } from '../redteam/cases.ts';

/** Queries that reach every corner the rules look into: CTEs, set operations, joins, windows, subqueries. */
const COMPLEX = [
  `WITH a AS (SELECT region, count(*) AS n FROM persons WHERE age > 30 GROUP BY region),
        b AS MATERIALIZED (SELECT * FROM a WHERE n > (SELECT avg(n) FROM a))
   SELECT b.region, sum(b.n) OVER (PARTITION BY b.region ORDER BY b.n ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
   FROM b LEFT JOIN a USING (region) WHERE EXISTS (SELECT 1 FROM a x WHERE x.region = b.region)
   QUALIFY row_number() OVER (ORDER BY b.n) < 10 ORDER BY 1 LIMIT 5 OFFSET 1`,
  `SELECT CASE WHEN x IN (1, 2, 3) THEN 'a' WHEN x BETWEEN 4 AND 6 THEN 'b' ELSE NULL END AS c,
          count(DISTINCT pid) FILTER (WHERE y IS NOT NULL), CAST(z AS DECIMAL(10, 2)) :: VARCHAR,
          list_transform([1, 2], e -> e + 1), {'k': 1}.k, COLUMNS('^a') + 1
   FROM t AS tt(x, y) TABLESAMPLE 10% JOIN (VALUES (1), (2)) v(w) ON tt.x = v.w AND NOT tt.y < 3
   GROUP BY GROUPING SETS ((c), ()) HAVING count(*) > 10`,
  `SELECT a FROM t UNION ALL SELECT b FROM u EXCEPT (SELECT c FROM v INTERSECT SELECT d FROM w) ORDER BY a`,
  `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * EXCLUDE (n) REPLACE (n * 2 AS m) FROM r`,
  `SELECT x FROM t WHERE x = ANY (SELECT y FROM u) AND x > ALL (SELECT z FROM v) ORDER BY x DESC NULLS LAST`,
];

/** Every object in the JSON, by brute force: no notion of node kinds at all. */
function everyObject(v: unknown, out: Node[] = []): Node[] {
  if (Array.isArray(v)) for (const x of v) everyObject(x, out);
  else if (isNode(v)) {
    out.push(v);
    for (const x of Object.values(v)) everyObject(x, out);
  }
  return out;
}

describe('the AST visitor', () => {
  let parser: SqlParser;
  let trees: Node[];
  beforeAll(async () => {
    parser = await SqlParser.create();
    const sqls = [...COMPLEX, ...ATTACKS.map((a) => a.sql), ...HONEST.map((h) => h.sql)];
    trees = [];
    for (const sql of sqls) {
      try {
        trees.push(...(await parser.parse(sql)).statements);
      } catch {
        // attacks that do not parse have no tree to visit
      }
    }
  });
  afterAll(() => parser.dispose());

  it('enters and leaves every object of every tree exactly once, in the same order as brute force', () => {
    expect(trees.length).toBeGreaterThan(100);
    for (const tree of trees) {
      const entered: Node[] = [];
      const left = new Set<Node>();
      visitAst(tree, { enter: (n) => void entered.push(n), leave: (n) => void left.add(n) }, undefined);
      const all = everyObject(tree);
      expect(entered).toEqual(all);
      expect(entered.every((n, i) => entered.indexOf(n) === i)).toBe(true);
      expect(left.size).toBe(all.length);
    }
  });

  it('runs the typed handlers on every node of their kind, and walk() reaches every object too', () => {
    for (const tree of trees) {
      const all = everyObject(tree);
      const typed: Node[] = [];
      const every = (n: Node) => void typed.push(n);
      const classes = new Set(all.filter((n) => kindOf(n) === 'expression').map((n) => String(n.class)));
      const queries = new Set(all.filter((n) => kindOf(n) === 'query').map((n) => String(n.type)));
      const tables = new Set(all.filter((n) => kindOf(n) === 'table').map((n) => String(n.type)));
      const by = (names: Set<string>) => Object.fromEntries([...names].map((c) => [c, every]));
      visitAst(tree, { expression: by(classes), query: by(queries), table: by(tables) }, undefined);
      expect(new Set(typed)).toEqual(new Set(all.filter((n) => kindOf(n) !== 'other')));
      const walked: Node[] = [];
      walk(tree, (n) => void walked.push(n));
      expect(walked).toEqual(all);
    }
  });

  it('tells expressions, query nodes and table refs apart', () => {
    const kinds = new Map<string, Set<string>>();
    for (const n of trees.flatMap((t) => everyObject(t))) {
      const k = kindOf(n);
      const name = String(k === 'expression' ? n.class : n.type);
      if (!kinds.has(k)) kinds.set(k, new Set());
      kinds.get(k)!.add(name);
    }
    expect([...kinds.get('query')!]).toEqual(expect.arrayContaining(['SELECT_NODE', 'SET_OPERATION_NODE']));
    expect([...kinds.get('table')!]).toEqual(expect.arrayContaining(['BASE_TABLE', 'JOIN', 'SUBQUERY']));
    expect([...kinds.get('expression')!]).toEqual(
      expect.arrayContaining(['COLUMN_REF', 'FUNCTION', 'SUBQUERY', 'WINDOW', 'CONSTANT', 'STAR', 'CASE', 'CAST']),
    );
    // a SUBQUERY table ref is not a SUBQUERY expression
    expect([...kinds.get('table')!].every((t) => !t.includes('_NODE'))).toBe(true);
  });

  it('finds a handler by the node’s own class only, never on the prototype', () => {
    const seen: string[] = [];
    const tree = { class: 'constructor', children: [{ class: 'toString' }, { class: 'COLUMN_REF' }] };
    // were Object or Object.prototype.toString taken as handlers, the scope would be lost on the way down
    visitAst(tree, { expression: { COLUMN_REF: (_n, at) => void seen.push(at.scope) } }, 'kept');
    expect(seen).toEqual(['kept']);
  });

  it('knows each node’s parent and key, skips children on SKIP and carries a scope down', () => {
    const tree = trees[0]!;
    visitAst(
      tree,
      {
        enter: (n, at) => {
          if (at.parent === undefined) return;
          const held = at.parent[at.key!];
          expect(held === n || (Array.isArray(held) && held.includes(n))).toBe(true);
        },
      },
      undefined,
    );
    const depths: number[] = [];
    visitAst(tree, { enter: (_n, at) => (depths.push(at.scope), { scope: at.scope + 1 }) }, 0);
    expect(Math.max(...depths)).toBeGreaterThan(5);
    const seen: Node[] = [];
    visitAst(tree, { expression: { SUBQUERY: () => SKIP }, enter: (n) => void seen.push(n) }, undefined);
    const inside = everyObject(tree)
      .filter((n) => n.class === 'SUBQUERY')
      .flatMap((n) => everyObject(Object.values(n)));
    expect(inside.length).toBeGreaterThan(0);
    expect(seen.filter((n) => inside.includes(n))).toEqual([]);
  });
});
