import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLICATION, approvedContract, buildWorld, type TestWorld } from '../helpers.ts';

/**
 * Hostile input generated from the OpenAPI document: every route, every declared parameter and
 * body field, with boundary and hostile values (huge, negative, NaN, exponent forms, wrong types,
 * unknown fields, deep nesting, oversized bodies), sent with tokens of every role. Not one answer
 * may be a 5xx: bad input is the client's error, and it is named.
 */

interface Operation {
  method: string;
  path: string;
  parameters: { name: string; in: string; schema?: Schema }[];
  body?: Schema;
}

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  required?: string[];
  $ref?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

const HOSTILE_SCALARS: unknown[] = [
  null,
  true,
  0,
  -1,
  1e400,
  -1e400,
  2 ** 63,
  '1e400',
  '99999999999999999999',
  '-99999999999999999999',
  'NaN',
  'Infinity',
  '',
  ' ',
  'x'.repeat(100_000),
  '\u0000',
  '../../../../etc/passwd',
  "'; DROP TABLE jobs; --",
  '<script>alert(1)</script>',
  '😀'.repeat(1000),
  // not well-formed Unicode: a lone high surrogate, a lone low one inside text (issue 32)
  '\ud800',
  'a\udc00b',
  { '\ud800': 1 },
  [],
  {},
  [[[[[[[[[[]]]]]]]]]],
];

const QUERY_VALUES = [
  '1e400',
  '-1',
  '-99999999999999999999',
  '99999999999999999999',
  'NaN',
  'Infinity',
  '',
  'abc',
  '0x10',
  '1.5',
  '%00',
  '[]',
  'x'.repeat(5000),
];

const PATH_VALUES = ['x'.repeat(3000), '..%2F..%2Fetc', '%00', '-1', '1e400', 'ctr_%F0%9F%98%80', ' '];

function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** A plausible value for a schema (defaults, first enum member, small numbers), for the fields not under attack. */
function plausible(s: Schema | undefined, refs: Record<string, Schema>, depth = 0): unknown {
  if (!s || depth > 6) return null;
  if (s.$ref) return plausible(refs[s.$ref.replace(/^#\/components\/schemas\//, '')], refs, depth + 1);
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.anyOf) return plausible(s.anyOf[0], refs, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(
        Object.entries(s.properties ?? {}).map(([k, v]) => [k, plausible(v, refs, depth + 1)] as const),
      );
    case 'array':
      return [plausible(s.items, refs, depth + 1)];
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      return 'x';
    default:
      return null;
  }
}

/** Every top-level body field replaced in turn by each hostile value, plus whole-body attacks. */
function hostileBodies(body: Schema | undefined, refs: Record<string, Schema>): unknown[] {
  const base = plausible(body, refs);
  const out: unknown[] = [
    undefined,
    null,
    'not an object',
    12,
    [],
    deep(2000),
    { ...(base as object), unknownField: 1 },
    { ...(base as object), __proto__: { admin: true } },
  ];
  if (base && typeof base === 'object' && !Array.isArray(base)) {
    for (const key of Object.keys(base)) {
      for (const v of HOSTILE_SCALARS) out.push({ ...(base as Record<string, unknown>), [key]: v });
      out.push({ ...(base as Record<string, unknown>), [key]: deep(200) });
    }
  }
  // random JSON of every kind, reproducible
  out.push(...fc.sample(fc.jsonValue({ maxDepth: 4 }), { numRuns: 25, seed: 42 }));
  return out;
}

describe('hostile input from the OpenAPI document', () => {
  let world: TestWorld;
  let operations: Operation[];
  let refs: Record<string, Schema>;
  const tokens: string[] = [];
  let contractId: string;

  beforeAll(async () => {
    world = await buildWorld({ rows: 500 });
    contractId = await approvedContract(world, 'org-a', APPLICATION);
    for (const [role, org] of [
      ['operator', 'org-a'],
      ['provider', 'org-psb'],
      ['bureau', 'org-bureau'],
      ['risk', 'org-bureau'],
    ] as const)
      tokens.push(await world.token(role, org));
    const doc = (await world.server.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<
        string,
        Record<
          string,
          { parameters?: Operation['parameters']; requestBody?: { content?: Record<string, { schema?: Schema }> } }
        >
      >;
      components?: { schemas?: Record<string, Schema> };
    };
    refs = doc.components?.schemas ?? {};
    operations = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path: p,
        parameters: op.parameters ?? [],
        body: op.requestBody?.content?.['application/json']?.schema,
      })),
    );
    expect(operations.length).toBeGreaterThan(20);
  }, 120_000);
  afterAll(() => world.close());

  /** A concrete URL: path parameters filled (a real contract id where one fits), query from `query`. */
  function url(op: Operation, pathValue: (name: string) => string, query: Record<string, string> = {}): string {
    const filled = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => pathValue(name));
    const qs = new URLSearchParams(query).toString();
    return qs ? `${filled}?${qs}` : filled;
  }
  const realId = (name: string) => (name === 'id' ? contractId : 'x');

  async function send(op: Operation, target: string, payload?: unknown, token = tokens[0]!) {
    const res = await world.server.inject({
      method: op.method as 'GET',
      url: target,
      headers: {
        authorization: `Bearer ${token}`,
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { payload: JSON.stringify(payload) ?? 'null' } : {}),
    });
    return {
      status: res.statusCode,
      body: res.body.slice(0, 300),
      target: target.slice(0, 200),
      type: String(res.headers['content-type'] ?? ''),
    };
  }

  it('no route answers 5xx to hostile path, query or body values, under any role', async () => {
    const failures: { status: number; body: string; target: string; payload?: string }[] = [];
    const notProblem: { status: number; body: string; target: string }[] = [];
    const seen = new Map<number, number>();
    for (const op of operations) {
      const attempts: { target: string; payload?: unknown }[] = [];
      for (const v of PATH_VALUES) if (op.path.includes('{')) attempts.push({ target: url(op, () => v) });
      for (const p of op.parameters.filter((x) => x.in === 'query')) {
        for (const v of QUERY_VALUES) attempts.push({ target: url(op, realId, { [p.name]: v }) });
      }
      attempts.push({ target: url(op, realId, { unknownParam: '1' }) });
      if (['POST', 'PUT', 'PATCH'].includes(op.method)) {
        for (const payload of hostileBodies(op.body, refs)) attempts.push({ target: url(op, realId), payload });
      }
      for (const a of attempts) {
        for (const token of op.method === 'GET' ? [tokens[0]!] : tokens) {
          const r = await send(op, a.target, a.payload, token);
          seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
          // every refusal is problem+json, the router's own (a 414 for a path parameter past 100 characters) too
          if (r.status >= 400 && !r.type.includes('application/problem+json')) notProblem.push(r);
          if (r.status >= 500)
            failures.push({
              ...r,
              ...(a.payload !== undefined ? { payload: JSON.stringify(a.payload)?.slice(0, 120) } : {}),
            });
        }
      }
    }
    expect(failures).toEqual([]);
    expect(notProblem).toEqual([]);
    expect(seen.get(414) ?? 0).toBeGreaterThan(10);
    // the attack reached validation and the handlers, not only the doors
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(2000);
    expect(seen.get(400) ?? 0).toBeGreaterThan(1000);
  }, 600_000);

  it('text that is not well-formed Unicode is refused with 400 naming the field; a long path parameter 414, as problem+json (issue 32)', async () => {
    const lone = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${tokens[0]!}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ ...APPLICATION, scenario: { name: 'x\ud800', purpose: 'p' } }),
    });
    expect(lone.statusCode).toBe(400);
    expect(lone.json()).toMatchObject({ code: 'ERR_VALIDATION', errors: [{ field: '/body/scenario/name' }] });
    const long = await world.server.inject({
      method: 'GET',
      url: `/v1/contracts/${'c'.repeat(101)}`,
      headers: { authorization: `Bearer ${tokens[0]!}` },
    });
    expect(long.statusCode).toBe(414);
    expect(long.headers['content-type']).toContain('application/problem+json');
    expect(long.json()).toMatchObject({ code: 'ERR_URI_TOO_LONG' });
  });

  it('a body over the limit gets 413 naming the limit; a wrong media type 415', async () => {
    const op = tokens[0]!;
    const big = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ contractId, sql: 'x'.repeat(5 * 1024 * 1024) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'ERR_PAYLOAD_TOO_LARGE' });
    expect(big.json().detail).toMatch(/1 MiB|1048576/);
    const text = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}`, 'content-type': 'text/plain' },
      payload: 'SELECT 1',
    });
    expect(text.statusCode).toBe(415);
  });

  it('bodies are typed strictly: a number for a string or a string for a number is refused, not coerced', async () => {
    const op = tokens[0]!;
    const asNumber = await world.server.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { authorization: `Bearer ${op}` },
      payload: { contractId, sql: 123 },
    });
    expect(asNumber.statusCode).toBe(400);
    expect(asNumber.json().errors).toContainEqual(expect.objectContaining({ field: '/body/sql' }));
    const asString = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${op}` },
      payload: { ...APPLICATION, termMonths: '12' },
    });
    expect(asString.statusCode).toBe(400);
    expect(asString.json().errors).toContainEqual(expect.objectContaining({ field: '/body/termMonths' }));
  });
});
