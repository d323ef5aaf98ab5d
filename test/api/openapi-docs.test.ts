import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { buildWorld, type TestWorld } from '../helpers.ts';

/**
 * The API documents itself (issue 33, item 6): every operation in the OpenAPI document says who
 * may call it, what it does and what it refuses, and shows a request body (when it takes one) and a
 * success response — each example valid against the schema beside it. And examples/ holds an
 * application file per mode that the API accepts as it is.
 */

interface Media {
  schema?: Record<string, unknown>;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  operationId: string;
  description?: string;
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
}

/** Who may call it, in the words the descriptions use: a description that names nobody fails. */
const WHO = /\b(operators?|providers?|bureau|risk staff|workers?|any user|anyone)\b/i;
/** A file, not a document: a binary body has no example to show. */
const binary = (m: Media) => m.schema?.format === 'binary';
const examplesOf = (m: Media): unknown[] =>
  m.example !== undefined ? [m.example] : Object.values(m.examples ?? {}).map((e) => e.value);

describe('the OpenAPI document describes and exemplifies every operation', () => {
  let world: TestWorld;
  let doc: Document;
  let operations: (Operation & { where: string })[];
  beforeAll(async () => {
    world = await buildWorld({ rows: 200 });
    doc = (await world.server.inject({ method: 'GET', url: '/openapi.json' })).json();
    operations = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ ...op, where: `${method.toUpperCase()} ${p}` })),
    );
  });
  afterAll(() => world.close());

  it('every operation has a description that names who may call it', () => {
    expect(operations.length).toBeGreaterThan(50);
    const missing = operations.filter((op) => !op.description || op.description.length < 60).map((op) => op.where);
    expect(missing).toEqual([]);
    expect(operations.filter((op) => !WHO.test(op.description!)).map((op) => op.where)).toEqual([]);
  });

  it('every request body has an example', () => {
    const missing = operations.flatMap((op) =>
      Object.entries(op.requestBody?.content ?? {})
        .filter(([, m]) => !binary(m) && examplesOf(m).length === 0)
        .map(([type]) => `${op.where} ${type}`),
    );
    expect(missing).toEqual([]);
  });

  it('every success response with a body has an example (a binary file excepted)', () => {
    const missing = operations.flatMap((op) =>
      Object.entries(op.responses)
        .filter(([status]) => /^2/.test(status))
        .flatMap(([status, r]) =>
          Object.entries(r.content ?? {})
            .filter(([, m]) => !binary(m) && examplesOf(m).length === 0)
            .map(([type]) => `${op.where} ${status} ${type}`),
        ),
    );
    // and no status is left without one unless it has no body at all (204) or only a file
    const bare = operations.filter((op) =>
      Object.entries(op.responses).some(
        ([status, r]) => /^2/.test(status) && r.content && Object.values(r.content).every((m) => !binary(m)),
      )
        ? !Object.entries(op.responses).some(
            ([status, r]) => /^2/.test(status) && Object.values(r.content ?? {}).some((m) => examplesOf(m).length),
          )
        : false,
    );
    expect(missing).toEqual([]);
    expect(bare.map((op) => op.where)).toEqual([]);
  });

  it('every example is valid against its schema', () => {
    // the document's schemas, as a client sees them; their $refs point into components
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const invalid: string[] = [];
    let checked = 0;
    const check = (where: string, media: Media) => {
      if (!media.schema) return;
      const validate = ajv.compile({ ...media.schema, components: doc.components });
      for (const value of examplesOf(media)) {
        checked++;
        if (!validate(value)) invalid.push(`${where}: ${ajv.errorsText(validate.errors)}`);
      }
    };
    for (const op of operations) {
      for (const [type, m] of Object.entries(op.requestBody?.content ?? {})) check(`${op.where} body ${type}`, m);
      for (const [status, r] of Object.entries(op.responses))
        for (const [type, m] of Object.entries(r.content ?? {})) check(`${op.where} ${status} ${type}`, m);
    }
    expect(invalid).toEqual([]);
    expect(checked).toBeGreaterThan(80);
  });

  it('the check finds an example that does not fit its schema', () => {
    const ajv = new Ajv({ strict: false });
    const op = doc.paths['/v1/applications']!.post!;
    const media = op.requestBody!.content['application/json']!;
    const validate = ajv.compile({ ...media.schema, components: doc.components });
    expect(validate(media.example)).toBe(true);
    expect(validate({ ...(media.example as object), mode: 'everything' })).toBe(false);
  });
});

describe('examples/: an application file per mode, accepted by the API', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await buildWorld({ rows: 300 });
  });
  afterAll(() => world.close());

  const dir = path.join(PACKAGE_ROOT, 'examples');
  const files = fs.readdirSync(dir).filter((f) => /^application-.*\.ya?ml$/.test(f));

  it('there is one for each mode', () => {
    expect(files.map((f) => YAML.parse(fs.readFileSync(path.join(dir, f), 'utf8')).mode).sort()).toEqual([
      'aggregate',
      'custom',
      'dp',
    ]);
  });

  it.each(files)('%s is filed by POST /v1/applications as it is (what `pds apply` sends)', async (file) => {
    const body = YAML.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const res = await world.server.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: { authorization: `Bearer ${await world.token('operator', 'org-shuzhi')}` },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(201);
    const app = res.json();
    expect(app).toMatchObject({ status: 'pending', mode: body.mode });
    // every masking choice the file makes is granted as it is
    for (const d of body.datasets as { dataset: string; masking?: Record<string, string> }[]) {
      const grant = app.grants.find((g: { dataset: string }) => g.dataset === d.dataset);
      for (const [column, rule] of Object.entries(d.masking ?? {}))
        expect(grant.columns).toContainEqual({ column, rule });
    }
  });
});
