import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/api/index.ts';
import { issueToken } from '../../src/auth/index.ts';
import { seedDomain } from '../../src/domain/index.ts';
import { createPlatform, type Platform } from '../../src/platform/index.ts';
import { checkDataDirEncryption } from '../../src/store/index.ts';
import { approvedContract, silentLogger, testConfig, type TestWorld } from '../helpers.ts';

const METRICS_TOKEN = 'encryption-test-metrics-credential-0123456789';

/**
 * Issue 35: `pds serve` says whether DATA_DIR is encrypted at rest — a warning at start by default,
 * a refusal with REQUIRE_ENCRYPTED_DATA_DIR=true — and shows it in /healthz, the metrics and every
 * risk report. The plain directory is on /dev/shm (tmpfs: never an encrypted device) where there is
 * one, so the test holds on a laptop whose disk is LUKS.
 */
describe('DATA_DIR on a plain directory', () => {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  let dataDir: string;
  let platform: Platform;
  let server: Awaited<ReturnType<typeof createServer>>;
  const warnings: Array<Record<string, unknown> & { msg: string }> = [];

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(base, 'pds-enc-'));
    expect(checkDataDirEncryption(dataDir).state).not.toBe('encrypted');
    await seedDomain(dataDir, { rows: 300, seed: 7 });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await platform?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('REQUIRE_ENCRYPTED_DATA_DIR=true refuses to start, naming DATA_DIR and the docs, before opening the store', async () => {
    const config = testConfig(dataDir, { requireEncryptedDataDir: true });
    const err = await createPlatform(config, silentLogger).then(
      () => undefined,
      (e: unknown) => e as { code?: string; detail?: string; extra?: { directory?: string } },
    );
    expect(err?.code).toBe('ERR_DATA_DIR_NOT_ENCRYPTED');
    expect(err?.extra?.directory).toBe(dataDir);
    expect(err?.detail).toContain('docs/operations.md');
    expect(fs.existsSync(path.join(dataDir, 'control.duckdb'))).toBe(false);
  });

  it('by default starts with a warning, and says so in /healthz, the metrics and the risk report', async () => {
    // the start-up log, as pino writes it
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    platform = await createPlatform(testConfig(dataDir, { metricsToken: METRICS_TOKEN }), logger);
    server = await createServer(platform, silentLogger);
    const warned = warnings.find((w) => /DATA_DIR is not known to be encrypted/.test(w.msg));
    expect(warned).toMatchObject({ dataDir, dataDirEncryption: { state: platform.dataDirEncryption.state } });
    expect(['not-encrypted', 'unknown']).toContain(platform.dataDirEncryption.state);

    const health = await server.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(health.json().dataDirEncryption).toEqual(platform.dataDirEncryption);

    const metrics = await server.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(metrics.body).toContain(`pds_data_dir_encrypted{state="${platform.dataDirEncryption.state}",how="none"} 0`);

    const world: TestWorld = {
      dataDir,
      platform,
      server,
      token: (role, org, sub = `${role}@${org}`) => issueToken(platform.keys, { sub, org, roles: [role] }),
      close: () => Promise.resolve(),
    };
    const contractId = await approvedContract(world);
    const made = await server.inject({
      method: 'POST',
      url: '/v1/reports',
      headers: { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` },
      payload: { contractId },
    });
    const risk = { authorization: `Bearer ${await world.token('risk', 'org-bureau')}` };
    expect(made.statusCode, made.body).toBe(201);
    expect(made.json().report.dataDirEncryption).toEqual(platform.dataDirEncryption);
    const words = platform.dataDirEncryption.state === 'unknown' ? '无法确定' : '未加密';
    const page = await server.inject({ method: 'GET', url: made.json().html as string, headers: risk });
    expect(page.body).toContain(`数据目录加密：<strong>${words}</strong>`);
  });
});
