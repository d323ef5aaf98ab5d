import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import type { Command } from 'commander';
import { buildCli } from '../../src/cli/program.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { EMBEDDED_AUDIENCE, EMBEDDED_ISSUER } from '../../src/auth/index.ts';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { addMonths, signContract } from '../../src/contracts/index.ts';
import { appendAudit, SYSTEM_ACTOR } from '../../src/audit/index.ts';
import { Store } from '../../src/store/index.ts';
import { ERROR_ZH } from '../../src/terms/index.ts';
import { bureauJwks, loadKeyRing } from '../../src/keys/index.ts';
import { CONTRACT_CLAIMS, tmpDataDir } from '../helpers.ts';
import { startRedis } from '../support/redis.ts';

const run = promisify(execFile);
const PDS = path.join(PACKAGE_ROOT, 'bin', 'pds.js');
const pds = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [PDS, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 120_000 });

describe('pds', () => {
  const t = tmpDataDir();
  afterAll(() => t.cleanup());

  it('has --help on every command', async () => {
    // the installed command answers --help (one process each for the top and a nested command) …
    for (const cmd of [[], ['audit', 'verify']]) {
      const { stdout } = await pds([...cmd, '--help']);
      expect(stdout).toMatch(/用法： pds/);
    }
    // … and every command of the program, walked in-process, has a description and its usage
    const walk = (c: Command, trail: string[]): string[][] =>
      c.commands.flatMap((sub) => [[...trail, sub.name()], ...walk(sub, [...trail, sub.name()])]);
    const program = buildCli();
    const all = walk(program, []);
    expect(all.length).toBeGreaterThan(20);
    for (const trail of all) {
      let cmd: Command = program;
      for (const name of trail) cmd = cmd.commands.find((c) => c.name() === name)!;
      expect(cmd.description(), trail.join(' ')).not.toBe('');
      expect(cmd.helpInformation(), trail.join(' ')).toMatch(new RegExp(`用法： pds ${trail.join(' ')}`));
    }
  });

  it('a reader that closes the pipe early (pds … | head) is not an error', async () => {
    // an export far larger than a pipe's buffer, cut after its first byte
    const dir = path.join(t.dir, 'long-trail');
    const store = await Store.open(dir);
    await store.write(async (tx) => {
      for (let i = 0; i < 1500; i++)
        await appendAudit(tx, {
          actor: SYSTEM_ACTOR,
          action: 'test.padding',
          objectType: 'job',
          objectId: `job_${i}`,
          details: { pad: 'x'.repeat(200) },
        });
    });
    await store.close();
    const { stdout, stderr } = await run(
      'bash',
      ['-c', `set -o pipefail; "${process.execPath}" "${PDS}" audit export --data-dir "${dir}" | head -c 1`],
      { env: { PATH: process.env.PATH }, timeout: 60_000 },
    );
    expect(stdout).toBe('{');
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
  });

  it('token --json prints a token signed by the embedded issuer of DATA_DIR', async () => {
    const { stdout } = await pds([
      'token',
      '--role',
      'bureau',
      '--org',
      'org-bureau',
      '--sub',
      'wang',
      '--json',
      '--data-dir',
      t.dir,
    ]);
    const { token } = JSON.parse(stdout) as { token: string };
    const keys = await loadKeyRing(t.dir);
    const { payload } = await jwtVerify(token, keys.issuer.publicKey, {
      issuer: EMBEDDED_ISSUER,
      audience: EMBEDDED_AUDIENCE,
    });
    expect(payload).toMatchObject({ sub: 'wang', org: 'org-bureau', roles: ['bureau'] });
  });

  it('contract verify checks a contract offline, also after keys rotate; refuses a tampered one with its code', async () => {
    const dir = path.join(t.dir, 'contract-verify');
    const keys = await loadKeyRing(dir);
    const issuedAt = new Date();
    const claims = CONTRACT_CLAIMS;
    const jws = await signContract(keys.bureau, claims, {
      contractId: 'ctr_cli',
      operatorOrg: 'org-a',
      issuedAt,
      notBefore: issuedAt,
      expiresAt: addMonths(issuedAt, 12),
    });
    const file = path.join(dir, 'contract.jws');
    fs.writeFileSync(file, jws);
    const firstKid = keys.bureau.kid;
    const first = JSON.parse((await pds(['contract', 'verify', file, '--data-dir', dir, '--json'])).stdout);
    expect(first).toMatchObject({
      ok: true,
      header: { kid: firstKid, typ: 'pds-contract+jwt' },
      claims: { jti: 'ctr_cli', sub: 'org-a' },
    });

    const rotated = JSON.parse((await pds(['keys', 'rotate', '--data-dir', dir, '--json'])).stdout);
    expect(rotated).toMatchObject({ key: 'bureau', retiredKid: firstKid });
    expect(keys.bureau.kid).toBe(rotated.currentKid); // this process sees the rotation too
    expect(rotated.currentKid).not.toBe(rotated.retiredKid);
    const human = (await pds(['contract', 'verify', file, '--data-dir', dir])).stdout;
    expect(human).toContain(`校验通过：合约 ctr_cli（运营单位 org-a），签名密钥 ${rotated.retiredKid}`);
    expect(human).toMatch(/^ {2}期限 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00 至 /m);
    expect(human).toMatch(/^ {2}模式 +聚合统计 \(aggregate\)；k ≥ /m);
    expect(human).toContain('区县收入结构');

    const jwksFile = path.join(dir, 'jwks.json');
    fs.writeFileSync(jwksFile, JSON.stringify(bureauJwks(await loadKeyRing(dir))));
    expect((await pds(['contract', 'verify', file, '--jwks', jwksFile])).stdout).toMatch(/^校验通过/);
    await expect(
      pds(['contract', 'verify', file, '--data-dir', dir, '--at', addMonths(issuedAt, 13).toISOString()]),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/ERR_CONTRACT_EXPIRED/) });
    const [h, body, sig] = jws.split('.');
    const stretched = JSON.parse(Buffer.from(body!, 'base64url').toString());
    stretched.exp += 86400 * 365;
    fs.writeFileSync(file, [h, Buffer.from(JSON.stringify(stretched)).toString('base64url'), sig].join('.'));
    await expect(pds(['contract', 'verify', file, '--data-dir', dir])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/ERR_CONTRACT_SIGNATURE_INVALID/),
    });
  });

  it('refuses an unknown role and a bad configuration with a clear message', async () => {
    await expect(pds(['token', '--role', 'admin', '--org', 'x'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/Allowed choices are operator, provider, bureau, risk/),
    });
    await expect(
      pds(['token', '--role', 'risk', '--org', 'x'], { DATA_DIR: t.dir, PORT: 'abc' }),
    ).rejects.toMatchObject({
      code: 78,
      // the Chinese sentence of the code first, then the code and the English detail
      stderr: `pds: ${ERROR_ZH.ERR_CONFIG}\n  ERR_CONFIG: PORT: must be an integer, got "abc"\n`,
    });
  });

  it('seed --json prints the new versions; ingest refuses a bad file naming the problem', async () => {
    const dir = path.join(t.dir, 'seeded');
    const { stdout, stderr } = await pds(['seed', '--rows', '2000', '--seed', '5', '--json', '--data-dir', dir]);
    const out = JSON.parse(stdout);
    expect(out.datasets.population).toMatchObject({ version: 1, rows: 2000 });
    expect(stderr).toMatch(/seed \[6\/6\] content hashes/);
    const bad = path.join(t.dir, 'bad.csv');
    fs.writeFileSync(bad, 'id_number,name\n1,x\n');
    await expect(
      pds(['ingest', '--dataset', 'population', '--file', bad, '--data-dir', dir, '--quiet']),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        new RegExp(
          `^pds: ${ERROR_ZH.ERR_INGEST_COLUMNS}\n {2}ERR_INGEST_COLUMNS: .*missing column\\(s\\) gender, birth_date`,
        ),
      ),
    });
  });

  it('demo runs the whole flow and exits 0, keeping data with --data-dir', async () => {
    const dir = path.join(t.dir, 'demo');
    const { stdout } = await pds(['demo', '--json', '--data-dir', dir, '--rows', '3000']);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({
      ok: true,
      contractVerified: true,
      manifestVerified: true,
      escapeAttemptRefused: true,
      auditVerified: true,
    });
    expect(summary.rowsReleased).toBeGreaterThan(0);
    const audit = await pds(['audit', 'verify', '--json', '--data-dir', dir]);
    expect(JSON.parse(audit.stdout)).toMatchObject({ ok: true, entries: summary.auditEntries });
    expect(summary).toMatchObject({ reportVerified: true, reportRating: 'medium' });
    expect(fs.readFileSync(summary.reportFile as string, 'utf8')).toContain('data-chart="jobs-by-outcome"');

    // the same report made offline by risk staff, then verified offline against the bureau's keys
    const out = path.join(t.dir, 'reports');
    const made = JSON.parse(
      (await pds(['report', '--contract', summary.contractId, '--out', out, '--json', '--data-dir', dir])).stdout,
    ) as { id: string; rating: string; files: Record<'json' | 'html' | 'jws', string> };
    expect(made.rating).toBe('medium');
    const verified = await pds([
      'verify-report',
      made.files.json,
      made.files.jws,
      '--html',
      made.files.html,
      '--data-dir',
      dir,
    ]);
    expect(verified.stdout).toMatch(
      new RegExp(
        `^校验通过：报告 ${made.id}（合约 ${summary.contractId}，.*评级 中 \\(medium\\)；HTML 页面也一致$`,
        'm',
      ),
    );
    const doctored = JSON.parse(fs.readFileSync(made.files.json, 'utf8')) as { rating: { level: string } };
    doctored.rating.level = 'low';
    fs.writeFileSync(made.files.json, JSON.stringify(doctored));
    await expect(pds(['verify-report', made.files.json, made.files.jws, '--data-dir', dir])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('ERR_REPORT_SIGNATURE_INVALID'),
    });
    await expect(pds(['report', '--data-dir', dir])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--contract <id>, --operator <org> or --domain'),
    });
  });

  it('demo --redis runs the same flow through BullMQ and a separate pds worker', async () => {
    const redis = await startRedis();
    try {
      const { stdout } = await pds(['demo', '--json', '--rows', '3000', '--redis', redis.url.toString()]);
      expect(JSON.parse(stdout)).toMatchObject({
        ok: true,
        manifestVerified: true,
        escapeAttemptRefused: true,
        lifecycleChecked: true,
      });
    } finally {
      await redis.stop();
    }
  });
});

describe('the installed command', () => {
  it('npx pds runs the package’s own bin after npm ci, from anywhere in the tree, as the README says', async () => {
    const { stdout } = await run('npx', ['pds', 'reviews', '--help'], {
      cwd: path.join(PACKAGE_ROOT, 'src', 'cli'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/用法： pds reviews/);
    const readme = fs.readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/`npx pds …`/);
  });

  it('compiles every module to JavaScript that starts without a loader, and names the sources it came from', async () => {
    // inside the package (node_modules/.cache), so the compiled config finds the package root
    const out = path.join(PACKAGE_ROOT, 'node_modules', '.cache', `pds-build-${process.pid}`);
    try {
      await run(process.execPath, [path.join(PACKAGE_ROOT, 'scripts', 'build.mjs'), '--out', out]);
      const { sourceFingerprint } = (await import(path.join(PACKAGE_ROOT, 'scripts', 'fingerprint.mjs'))) as {
        sourceFingerprint: (dir: string) => string;
      };
      expect(fs.readFileSync(path.join(out, '.fingerprint'), 'utf8')).toBe(
        sourceFingerprint(path.join(PACKAGE_ROOT, 'src')),
      );
      // no .ts specifier is left for Node to choke on
      const main = fs.readFileSync(path.join(out, 'cli', 'program.js'), 'utf8');
      expect(main).not.toMatch(/from ['"]\.{1,2}\/[^'"]+\.ts['"]/);
      const { stdout } = await run(process.execPath, [path.join(out, 'cli', 'main.js'), 'submit', '--help'], {
        env: { PATH: process.env.PATH },
      });
      expect(stdout).toMatch(/用法： pds submit/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
