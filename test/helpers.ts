import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { afterEach } from 'vitest';
import { createServer } from '../src/api/index.ts';
import { issueToken, type UserRole } from '../src/auth/index.ts';
import { loadConfig, PACKAGE_ROOT, type Config } from '../src/config/index.ts';
import { seedDomain } from '../src/domain/index.ts';
import type { ContractClaims } from '../src/contracts/index.ts';
import { createPlatform, type Platform } from '../src/platform/index.ts';
import { resolveStored } from '../src/store/index.ts';
import { openInstance, queryRows, withConnection, type Row } from '../src/store/index.ts';

/** A fresh temporary DATA_DIR, removed by the returned cleanup. */
export function tmpDataDir(prefix = 'pds-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh data directory for each call within a test, all removed after each test (register in a describe block). */
export function freshDataDirs(): () => string {
  const dirs: Array<() => void> = [];
  afterEach(() => {
    while (dirs.length) dirs.pop()!();
  });
  return () => {
    const t = tmpDataDir();
    dirs.push(t.cleanup);
    return t.dir;
  };
}

export const silentLogger = pino({ level: 'silent' });

/** PDS_TEST_SLOWDOWN: how much longer than on an idle machine a deadline may be (vitest.config.ts). */
export const SLOWDOWN = Math.max(1, Number(process.env.PDS_TEST_SLOWDOWN ?? 1) || 1);

export function testConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
  return loadConfig({ DATA_DIR: dataDir, PORT: '0' }, overrides);
}

export interface TestWorld {
  dataDir: string;
  platform: Platform;
  server: Awaited<ReturnType<typeof createServer>>;
  token(role: UserRole, org: string, sub?: string): Promise<string>;
  close(): Promise<void>;
}

/** A platform over a small seeded domain and an HTTP server (not listening: use inject, or listen). */
export async function buildWorld(
  opts: { rows?: number; config?: Partial<Config>; dataDir?: string } = {},
): Promise<TestWorld> {
  const { dir, cleanup } = opts.dataDir ? { dir: opts.dataDir, cleanup: () => undefined } : tmpDataDir();
  await seedDomain(dir, { rows: opts.rows ?? 2000, seed: 7 });
  const platform = await createPlatform(testConfig(dir, opts.config), silentLogger);
  const server = await createServer(platform, silentLogger);
  const world: TestWorld = {
    dataDir: dir,
    platform,
    server,
    token: (role, org, sub = `${role}-user@${org}`) => issueToken(world.platform.keys, { sub, org, roles: [role] }),
    // the current platform and server: a test may restart them (Object.assign(world, …))
    async close() {
      await world.server.close();
      await world.platform.close();
      cleanup();
    },
  };
  return world;
}

export const APPLICATION = {
  scenario: { name: '区县收入结构', purpose: '普惠金融产品设计' },
  mode: 'aggregate',
  termMonths: 12,
  datasets: [{ dataset: 'population', columns: ['district', 'gender', 'education', 'income'] }],
  emergencyPlan: {
    contact: 'security@operator',
    triggers: ['suspected re-identification'],
    actions: ['suspend contract'],
  },
} as const;

/**
 * The override a test's approval carries: the small synthetic populations of the tests have rare
 * combinations (k = 1), so their risk previews break the policy (decision-safety.ts).
 */
export const TEST_OVERRIDE = { reason: 'test data: a small synthetic population' };

/** Drives application → review → decision over inject and returns the contract id. */
export async function approvedContract(
  world: TestWorld,
  operatorOrg = 'org-a',
  body: object = APPLICATION,
): Promise<string> {
  const id = await reviewedApplication(world, operatorOrg, body);
  const dec = await world.server.inject({
    method: 'POST',
    url: `/v1/applications/${id}/decision`,
    headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
    payload: { decision: 'approve', reason: 'ok', override: TEST_OVERRIDE },
  });
  return signedContract(world, dec);
}

/**
 * A contract on any datasets: the application filed by `operatorOrg`, every dataset approved by its
 * provider (as the catalog names it), the bureau's approval with `terms`; the active contract's id.
 */
export async function contractFor(
  world: TestWorld,
  body: { datasets: ({ dataset: string } & Record<string, unknown>)[] } & Record<string, unknown>,
  opts: { operatorOrg?: string; terms?: object } = {},
): Promise<string> {
  const app = await world.server.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await world.token('operator', opts.operatorOrg ?? 'org-a')}` },
    payload: body,
  });
  if (app.statusCode !== 201) throw new Error(`application: ${app.statusCode} ${app.body}`);
  const id = app.json().id as string;
  for (const { dataset } of body.datasets) {
    const provider = world.platform.policies.catalog.datasets[dataset]!.provider;
    const rev = await world.server.inject({
      method: 'POST',
      url: `/v1/applications/${id}/reviews`,
      headers: { authorization: `Bearer ${await world.token('provider', provider)}` },
      payload: { dataset, decision: 'approve' },
    });
    if (rev.statusCode !== 200) throw new Error(`review of ${dataset}: ${rev.statusCode} ${rev.body}`);
  }
  const dec = await world.server.inject({
    method: 'POST',
    url: `/v1/applications/${id}/decision`,
    headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
    payload: {
      decision: 'approve',
      reason: 'ok',
      override: TEST_OVERRIDE,
      ...(opts.terms ? { terms: opts.terms } : {}),
    },
  });
  return signedContract(world, dec);
}

/**
 * Takes an approval's answer (202, the contract `building`), waits for its snapshot build to
 * settle and returns the contract id once it is active; throws with the answer otherwise.
 */
export async function signedContract(
  world: TestWorld,
  decision: { statusCode: number; body: string; json(): unknown },
): Promise<string> {
  if (decision.statusCode !== 202) throw new Error(`decision: ${decision.statusCode} ${decision.body}`);
  const { contractId, contract } = decision.json() as { contractId: string; contract: { status: string } };
  if (contract.status !== 'building') throw new Error(`an approval answered a contract ${contract.status}`);
  const c = await settledContract(world, contractId);
  if (c.status !== 'active')
    throw new Error(`contract ${contractId} is ${String(c.status)}: ${String(c.statusReason)}`);
  return contractId;
}

/** Waits (on the build's own event) until a contract has left `building`, and returns its view. */
export async function settledContract(world: TestWorld, contractId: string): Promise<Record<string, unknown>> {
  await world.platform.builds.settled(contractId);
  const res = await world.server.inject({
    method: 'GET',
    url: `/v1/contracts/${contractId}`,
    headers: { authorization: `Bearer ${await world.token('bureau', 'org-bureau')}` },
  });
  return res.json() as Record<string, unknown>;
}

/** Polls a job over inject until it leaves queued/running. */
export async function waitForJob(
  world: TestWorld,
  token: string,
  jobId: string,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs * SLOWDOWN;
  for (;;) {
    const res = await world.server.inject({
      method: 'GET',
      url: `/v1/jobs/${jobId}`,
      headers: { authorization: `Bearer ${token}` },
    });
    const job = res.json() as Record<string, unknown>;
    if (!['queued', 'running'].includes(String(job.status))) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${String(job.status)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Submits SQL on a contract over inject and waits for the job to leave queued/running. */
export async function runJob(
  world: TestWorld,
  token: string,
  contractId: string,
  sql: string,
): Promise<Record<string, unknown>> {
  return waitForJob(world, token, await submitJob(world, token, contractId, sql));
}

/** Submits SQL on a contract over inject; returns the job id (throws unless 202). */
export async function submitJob(world: TestWorld, token: string, contractId: string, sql: string): Promise<string> {
  const res = await world.server.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { authorization: `Bearer ${token}` },
    payload: { contractId, sql },
  });
  if (res.statusCode !== 202) throw new Error(`submit: ${res.statusCode} ${res.body}`);
  return res.json().id as string;
}

/** Rows of one query over a DuckDB file opened read-only (snapshots, the domain database). */
export async function readRows<T extends Row = Row>(file: string, sql: string): Promise<T[]> {
  const instance = await openInstance(file, { access_mode: 'READ_ONLY' });
  try {
    return await withConnection(instance, (c) => queryRows<T>(c, sql));
  } finally {
    instance.closeSync();
  }
}

/** Well-formed contract claims for tests that sign contracts by hand (they must pass ContractClaimsSchema). */
export const CONTRACT_CLAIMS = {
  application: 'app_x',
  scenario: { name: '区县收入结构', purpose: '普惠金融' },
  mode: 'aggregate',
  datasets: [
    {
      dataset: 'population',
      provider: 'org-psb',
      providerName: '市公安局',
      privacyUnit: 'id_number',
      columns: [{ column: 'district', rule: 'keep' }],
    },
  ],
  disclosure: { minUnits: 10, maxRows: 10000 },
  privacyBudget: null,
  emergencyPlan: { contact: 'c', triggers: ['t'], actions: ['a'] },
  securityControls: [],
  policyHash: 'a'.repeat(64),
  catalogVersion: 'v',
  snapshot: { hash: 'b'.repeat(64), tables: {} },
} satisfies ContractClaims;

/** The file of a contract's snapshot (the store keeps it relative to DATA_DIR). */
export async function snapshotFile(world: TestWorld, contractId: string): Promise<string> {
  const row = await world.platform.store.one<{ snapshot_path: string }>(
    'SELECT snapshot_path FROM contracts WHERE id = $1',
    [contractId],
  );
  return resolveStored(world.dataDir, row!.snapshot_path);
}

/** The CLI's entry file, for tests that start `pds` processes of their own. */
export const CLI_MAIN = path.join(PACKAGE_ROOT, 'src', 'cli', 'main.ts');

/**
 * How a test starts a `pds` process (a worker, a server): the compiled dist/ when it matches the
 * sources, as the installed command does (bin/pds.js) — a process through tsx spends ~2 s
 * compiling the sources first — else the sources through tsx.
 */
export const PDS_ENTRY: readonly string[] = await (async () => {
  const { sourceFingerprint } = (await import(path.join(PACKAGE_ROOT, 'scripts', 'fingerprint.mjs'))) as {
    sourceFingerprint: (dir: string) => string;
  };
  const stamp = path.join(PACKAGE_ROOT, 'dist', '.fingerprint');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === sourceFingerprint(path.join(PACKAGE_ROOT, 'src')))
    return [path.join(PACKAGE_ROOT, 'dist', 'cli', 'main.js')];
  const tsx = path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs');
  return ['--import', pathToFileURL(tsx).href, CLI_MAIN];
})();

/** Several seconds on a few thousand people (equi-joins only, as aggregate mode allows): long enough to be caught mid-run. */
export const SLOW_SQL =
  "SELECT a.district, count(*) AS pairs FROM population a JOIN population b ON a.gender = b.gender WHERE a.income >= b.income AND contains(lower(a.district || b.education || a.education || b.district || a.district), '县') GROUP BY 1";

/** Waits until `check` holds, polling; the deadline (× PDS_TEST_SLOWDOWN) only bounds a hang. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs * SLOWDOWN;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An application of `operatorOrg` that its provider has approved, ready for the bureau's decision. */
export async function reviewedApplication(
  world: TestWorld,
  operatorOrg = 'org-a',
  body: object = APPLICATION,
): Promise<string> {
  const app = await world.server.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await world.token('operator', operatorOrg)}` },
    payload: body,
  });
  if (app.statusCode !== 201) throw new Error(`application: ${app.statusCode} ${app.body}`);
  const id = app.json().id as string;
  const rev = await world.server.inject({
    method: 'POST',
    url: `/v1/applications/${id}/reviews`,
    headers: { authorization: `Bearer ${await world.token('provider', 'org-psb')}` },
    payload: { dataset: 'population', decision: 'approve' },
  });
  if (rev.statusCode !== 200) throw new Error(`review: ${rev.statusCode} ${rev.body}`);
  return id;
}
