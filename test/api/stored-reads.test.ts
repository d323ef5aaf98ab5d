import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { issueLoginLink } from '../../src/console/index.ts';
import { APPLICATION, buildWorld, contractFor, runJob, type TestWorld } from '../helpers.ts';

/**
 * Stored data never breaks a read (issue 32, item 4): a store filled with edge values — through
 * the API where it takes them, by direct writes for the rows older versions left (columns a later
 * migration added are NULL in them, text where numbers are now, reports in an earlier shape) —
 * and then every GET of the OpenAPI document and every console page, under every role, for every
 * stored id. Not one answer may be a 5xx.
 */

const ROLES = [
  ['operator', 'org-a'],
  ['provider', 'org-psb'],
  ['bureau', 'org-bureau'],
  ['risk', 'org-bureau'],
] as const;

const LONG = '长'.repeat(1990);
const EMOJI = '😀🧪👩🏽‍💻';
const CJK = '区县收入结构分析（测试）';

/** Columns a migration added after their table was made: NULL in every row an older version wrote. */
const ADDED_LATER: Record<string, { key: string; columns: string[]; unique?: string[] }> = {
  applications: { key: 'id', columns: ['risk', 'decision_terms', 'decision_override'], unique: ['contract_id'] },
  contracts: { key: 'id', columns: ['status_changed_at', 'status_changed_by'], unique: ['application_id'] },
  jobs: { key: 'id', columns: ['idempotency_key', 'request_sha256', 'dp_params', 'revision_of', 'name'] },
  outputs: { key: 'id', columns: ['held_because', 'manifest_draft', 'units_fingerprint'], unique: ['job_id'] },
};

describe('stored documents never break a read (issue 32)', () => {
  let world: TestWorld;
  const tokens = new Map<string, string>();
  const cookies = new Map<string, string>();
  const ids: Record<string, string[]> = {};

  async function call(method: 'GET' | 'POST', url: string, token: string, payload?: object, expect = [200, 201, 202]) {
    const res = await world.server.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload ? { payload } : {}),
    });
    if (!expect.includes(res.statusCode)) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json() as Record<string, unknown>;
  }

  beforeAll(async () => {
    world = await buildWorld({ rows: 300 });
    for (const [role, org] of ROLES) tokens.set(role, await world.token(role, org));
    const [op, provider, bureau, risk] = ROLES.map(([r]) => tokens.get(r)!) as [string, string, string, string];

    // through the API: edge texts and numbers wherever a body takes them
    const contractId = await contractFor(world, {
      ...APPLICATION,
      datasets: [...APPLICATION.datasets].map((d) => ({ ...d, columns: [...d.columns] })),
      scenario: { name: `${CJK}${EMOJI}`, purpose: LONG, description: '' },
      emergencyPlan: { contact: EMOJI, triggers: [LONG.slice(0, 500)], actions: [CJK] },
    });
    const released = await runJob(world, op, contractId, 'SELECT district, count(*) AS n FROM population GROUP BY 1');
    expect(released.status).toBe('released');
    await runJob(world, op, contractId, `SELECT * FROM no_such_table -- ${EMOJI}`);
    await call('POST', `/v1/jobs/${String(released.id)}/thread`, op, { body: `${LONG}${EMOJI}` });
    const year = new Date().getUTCFullYear();
    await call('POST', `/v1/contracts/${contractId}/assessments`, bureau, {
      year,
      passed: false,
      indicators: [
        { name: EMOJI, value: 0, target: -1, met: false },
        { name: CJK, value: -1e308, target: 1e308, met: true },
        { name: 'x', value: null, target: null, met: false },
        { name: 'y', value: Number.MIN_VALUE, met: true },
      ],
      assessor: CJK,
      notes: '',
    });
    await call('POST', '/v1/datasets/population/feedback', op, {
      kind: 'usage',
      contractId,
      subject: EMOJI,
      body: LONG,
    });
    const fb = (await call('GET', '/v1/feedback', provider)) as unknown as { id: string }[];
    expect(fb.length).toBeGreaterThan(0);
    for (const f of fb) await call('POST', `/v1/feedback/${f.id}/answer`, provider, { body: CJK });
    await call('POST', '/v1/workers', bureau, { name: `${CJK}${EMOJI}` });
    await call('POST', `/v1/contracts/${contractId}/suspend`, bureau, { reason: EMOJI });
    await call('POST', `/v1/contracts/${contractId}/resume`, bureau, { reason: LONG.slice(0, 900) });
    for (const body of [{ contractId }, { operatorOrg: 'org-a' }, { domain: true }]) {
      const made = (await call('POST', '/v1/reports', risk, body)) as { report: { id: string } };
      if ('contractId' in body)
        await call('POST', `/v1/reports/${made.report.id}/acknowledgement`, op, { statement: `${EMOJI}${LONG}` });
    }

    // what older versions left, written straight into the store
    await world.platform.store.write(async (tx) => {
      // an assessment with the text values the API took before values were numbers
      await tx.run(
        `UPDATE effectiveness_assessments SET indicators = '[{"name":"调用量","value":"n/a","target":"","met":false}]' WHERE contract_id = $1`,
        [contractId],
      );
      // each kind of row again as a version before the migrations that added columns wrote it
      for (const [table, { key, columns, unique = [] }] of Object.entries(ADDED_LATER)) {
        const row = await tx.one<Record<string, string>>(`SELECT ${key} FROM ${table} ORDER BY ${key} LIMIT 1`);
        const replace = [
          `${key} || '9old' AS ${key}`,
          ...unique.map((c) => `${c} || '9old' AS ${c}`),
          ...columns.map((c) => `NULL AS ${c}`),
        ];
        await tx.run(`INSERT INTO ${table} SELECT * REPLACE (${replace.join(', ')}) FROM ${table} WHERE ${key} = $1`, [
          row![key]!,
        ]);
      }
      // a report made before fields were added to reports, with an indicator stored as text then
      const report = await tx.one<{ id: string; body: string }>(
        `SELECT id, body FROM reports WHERE kind = 'contract' LIMIT 1`,
      );
      const body = JSON.parse(report!.body) as Record<string, Record<string, unknown>>;
      delete body.sandbox;
      delete body.figures!.feedback;
      delete body.figures!.trackers;
      delete body.figures!.runsOutsideOsSandbox;
      delete body.facts!.acknowledgements;
      delete body.facts!.decisionOverride;
      delete body.facts!.attackCost;
      body.facts!.effectiveness = [
        { year, passed: false, indicators: [{ name: '调用量', value: 'n/a', target: '100', met: false }] },
      ];
      await tx.run(
        `INSERT INTO reports SELECT * REPLACE (id || '9old' AS id, $2 AS body, NULL AS schedule_key) FROM reports WHERE id = $1`,
        [report!.id, JSON.stringify(body)],
      );
    });

    for (const [table, key] of [
      ['applications', 'id'],
      ['contracts', 'id'],
      ['jobs', 'id'],
      ['outputs', 'id'],
      ['reports', 'id'],
    ] as const)
      ids[table] = (await world.platform.store.all<{ id: string }>(`SELECT ${key} AS id FROM ${table}`)).map(
        (r) => r.id,
      );
    ids.datasets = Object.keys(world.platform.policies.catalog.datasets);

    for (const [role, org] of ROLES) {
      const link = await issueLoginLink(world.platform.keys, { sub: `${role}-user@${org}`, org, role });
      const res = await world.server.inject({ method: 'POST', url: '/console/login', payload: { link } });
      const cookie = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('pds_console='))!;
      cookies.set(role, cookie.split(';')[0]!);
    }
  }, 600_000);
  afterAll(() => world?.close());

  /** Each stored id a path's parameter can name: the resource is the segment before it. */
  function fill(template: string, param: RegExp): string[] {
    let urls = [template];
    for (;;) {
      const m = param.exec(urls[0]!);
      if (!m) return urls;
      const before = urls[0]!.slice(0, m.index).split('/').filter(Boolean).pop()!;
      const values =
        m[1] === 'format' ? ['csv', 'json', 'parquet'] : m[1] === 'sha256' ? ['0'.repeat(64)] : (ids[before] ?? ['x']);
      urls = urls.flatMap((u) => values.map((v) => u.replace(m[0], v)));
    }
  }

  it('every GET of the OpenAPI document answers below 500 for every stored id, under every role', async () => {
    const doc = (await world.server.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const gets = Object.entries(doc.paths)
      .filter(([, methods]) => 'get' in methods)
      .map(([p]) => p);
    expect(gets.length).toBeGreaterThan(25);
    const failures: string[] = [];
    let sent = 0;
    let read = 0;
    for (const template of gets)
      for (const url of fill(template, /\{(\w+)\}/))
        for (const [role] of ROLES) {
          const res = await world.server.inject({
            method: 'GET',
            url,
            headers: { authorization: `Bearer ${tokens.get(role)!}` },
          });
          sent++;
          if (res.statusCode === 200) read++;
          if (res.statusCode >= 500) failures.push(`${role} GET ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
        }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(200);
    // the sweep read documents, not only refusals (other roles' documents are 403 or 404)
    expect(read).toBeGreaterThan(sent / 2);
  }, 600_000);

  it('every console page answers below 500 for every stored id, under every role', async () => {
    // the pages as the sources declare them, so a new page is swept without a change here
    const dir = path.join(PACKAGE_ROOT, 'src', 'console', 'pages');
    const pages = [
      ...new Set(
        fs
          .readdirSync(dir)
          .flatMap((f) => [
            ...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/\.get(?:<[^>]*>)?\(\s*'(\/console[^']*)'/g),
          ])
          .map((m) => m[1]!),
      ),
    ];
    expect(pages.length).toBeGreaterThan(15);
    const failures: string[] = [];
    let pagesSent = 0;
    let pagesRead = 0;
    for (const template of pages)
      for (const url of fill(template, /:(\w+)/))
        for (const [role] of ROLES) {
          const res = await world.server.inject({ method: 'GET', url, headers: { cookie: cookies.get(role)! } });
          pagesSent++;
          if (res.statusCode === 200) pagesRead++;
          if (res.statusCode >= 500) failures.push(`${role} GET ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
        }
    expect(failures).toEqual([]);
    expect(pagesRead).toBeGreaterThan(pagesSent / 2);
  }, 600_000);
});
