import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import pino from 'pino';
import { createServer } from '../api/index.ts';
import { ApiError, createPdsClient, must, type PdsClient } from '../client/index.ts';
import { isPdsError } from '../errors/index.ts';
import { issueToken, type UserRole } from '../auth/index.ts';
import { loadConfig } from '../config/index.ts';
import { CONTRACT_AUDIENCE, CONTRACT_ISSUER, CONTRACT_TYP, type ContractClaims } from '../contracts/index.ts';
import { domainPath, seedDomain } from '../domain/index.ts';
import { MANIFEST_TYP, verifyOutputFile } from '../outputs/index.ts';
import { createPlatform } from '../platform/index.ts';
import { issueLoginLink } from '../console/index.ts';
import type { KeyRing } from '../keys/index.ts';
import { verifyReport, type RiskAssessmentReport } from '../reports/index.ts';
import { configureOsSandbox, loaderArgs } from '../sandbox/index.ts';

export interface DemoOptions {
  dataDir?: string;
  rows: number;
  json: boolean;
  /** Where step lines go (stdout by default). */
  print?: (line: string) => void;
  /** Run the jobs through BullMQ on this Redis, with a separate `pds worker` process. */
  redisUrl?: URL;
  /** After the flow, keep the server up on this port (0: any) and print a console sign-in link per role. */
  serve?: { port: number; host: string };
}

export interface DemoSummary {
  ok: boolean;
  dataDir: string;
  contractId?: string;
  jobId?: string;
  outputId?: string;
  rowsReleased?: number;
  cellsSuppressed?: number;
  contractVerified?: boolean;
  manifestVerified?: boolean;
  escapeAttemptRefused?: boolean;
  lifecycleChecked?: boolean;
  auditVerified?: boolean;
  auditEntries?: number;
  reportRating?: string;
  reportVerified?: boolean;
  reportFile?: string;
  failedStep?: string;
  elapsedMs: number;
}

class StepFailed extends Error {}

/** `pds demo --serve`: the console's sign-in links, one per demo user, then wait for Ctrl-C. */
async function keepServing(base: string, keys: KeyRing, print: (line: string) => void): Promise<void> {
  print('');
  print(`console: ${base}/console/  (sign-in links below: each works once, for an hour)`);
  for (const [who, v] of Object.entries(ORGS)) {
    const link = await issueLoginLink(keys, { sub: v.sub, org: v.org, role: v.label as UserRole, ttlSeconds: 3600 });
    print(`  ${who.padEnd(9)} ${base}/console/login?link=${link}`);
  }
  print('more: pds login-link --data-dir DIR --role R --org O --sub S; Ctrl-C stops the server');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/** A `pds worker` child process for `--redis`; resolves once it takes jobs. */
async function startWorkerProcess(
  dataDir: string,
  api: string,
  redisUrl: URL,
  prefix: string,
  credential: string,
  sandboxOs: 'bwrap' | 'off',
): Promise<ChildProcess> {
  const main = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [...loaderArgs(), main, 'worker', '--data-dir', dataDir, '--api', api, '--concurrency', '2'],
    {
      env: {
        ...process.env,
        REDIS_URL: redisUrl.toString(),
        QUEUE_PREFIX: prefix,
        LOG_LEVEL: 'info',
        PDS_WORKER_TOKEN: credential,
        SANDBOX_OS: sandboxOs,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`pds worker did not start in 30 s: ${out.slice(-500)}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('worker ready')) {
        clearTimeout(timer);
        child.stdout!.resume();
        resolve(child);
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pds worker exited (${String(code)}): ${out.slice(-500)}`));
    });
  });
}

const ORGS = {
  operator: { org: 'org-shuzhi', sub: 'zhang.wei@shuzhi', label: 'operator' },
  provider: { org: 'org-psb', sub: 'li.na@psb', label: 'provider' },
  bureau: { org: 'org-bureau', sub: 'wang.fang@bureau', label: 'bureau' },
  bureau2: { org: 'org-bureau', sub: 'chen.jie@bureau', label: 'bureau' },
  risk: { org: 'org-bureau', sub: 'zhao.lei@risk', label: 'risk' },
} as const;

/**
 * The whole flow on synthetic data, over real HTTP with real tokens, acting as the four roles:
 * catalog → application → provider review → bureau decision → signed contract → masked
 * snapshot → sandboxed job → disclosure control → signed release → suspend/resume → audit verification.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const print = opts.print ?? ((line: string) => console.log(line));
  const keep = opts.dataDir !== undefined;
  const dataDir = path.resolve(opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pds-demo-')));
  const summary: DemoSummary = { ok: false, dataDir, elapsedMs: 0 };
  const logger = pino({ level: 'warn' }, pino.destination(2));
  let step = 0;
  const say = (role: string, action: string, result: string, ok = true) => {
    step++;
    if (!opts.json)
      print(`${ok ? '✓' : '✗'} ${String(step).padStart(2)}  ${role.padEnd(9)} ${action.padEnd(44)} ${result}`);
  };

  const config = loadConfig({
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: opts.redisUrl?.toString() ?? '',
    RECONCILE_MS: '1000',
    // a demo's own queue, so it never meets another domain's jobs on a shared Redis
    QUEUE_PREFIX: `pds-demo-${process.pid}`,
    AUTH_JWKS_URL: '',
    AUTH_ISSUER: '',
    AUTH_AUDIENCE: '',
  });
  if (!fs.existsSync(domainPath(dataDir))) {
    const versions = await seedDomain(dataDir, { rows: opts.rows, seed: 20261123 });
    say(
      'domain',
      'seed synthetic public data',
      Object.values(versions)
        .map((v) => `${v.dataset} ${v.rows}`)
        .join(', '),
    );
  }
  // the demo runs on synthetic data, so on a machine without bubblewrap it goes on without the OS
  // layer — saying so here, in /healthz and in its risk report; `pds serve` would refuse instead
  if (config.sandboxOs === 'bwrap' && !process.env.SANDBOX_OS) {
    try {
      await configureOsSandbox('bwrap');
    } catch (err) {
      if (!isPdsError(err, 'ERR_SANDBOX_OS_UNAVAILABLE')) throw err;
      config.sandboxOs = 'off';
      say('sandbox', 'OS layer (bubblewrap) OFF for this demo', err.detail.split('. ')[0]!);
    }
  }
  const platform = await createPlatform(config, logger);
  const server = await createServer(platform, logger);
  await server.listen({ port: opts.serve?.port ?? 0, host: opts.serve?.host ?? '127.0.0.1' });
  const address = server.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  let worker: ChildProcess | undefined;
  if (opts.redisUrl) {
    // the bureau registers the worker: it signs in with its own credential, never a shared role
    const { worker: registered, credential } = await platform.workers.register(
      { sub: ORGS.bureau.sub, org: ORGS.bureau.org, roles: ['bureau'] },
      { name: 'demo worker', ttlDays: 1 },
    );
    worker = await startWorkerProcess(dataDir, base, opts.redisUrl, config.queuePrefix, credential, config.sandboxOs);
    say(
      'worker',
      'pds worker (BullMQ, separate process)',
      `${registered.id} ready, pid ${String(worker.pid)}, queue ${config.queuePrefix}:pds-jobs on ${opts.redisUrl.host}`,
    );
  }
  const tokens = Object.fromEntries(
    await Promise.all(
      Object.entries(ORGS).map(async ([k, v]) => [
        k,
        await issueToken(platform.keys, { sub: v.sub, org: v.org, roles: [v.label as UserRole] }),
      ]),
    ),
  ) as Record<keyof typeof ORGS, string>;

  const api = Object.fromEntries(
    Object.entries(tokens).map(([k, token]) => [k, createPdsClient({ baseUrl: base, token })]),
  ) as Record<keyof typeof ORGS, PdsClient>;

  /** One call through the typed client; a refusal ends the demo with the problem it answered. */
  async function call<T>(
    who: keyof typeof ORGS,
    what: string,
    request: Promise<{ data?: T; response: Response }>,
  ): Promise<T> {
    try {
      return await must(request);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      say(ORGS[who].label, what, `${err.status} ${err.code} ${err.detail}`, false);
      throw new StepFailed(what);
    }
  }

  /** A call that must be refused with `code`: the refusal is the step. */
  async function refused(
    who: keyof typeof ORGS,
    what: string,
    request: Promise<unknown>,
    code: string,
  ): Promise<ApiError> {
    const err = await request.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (err instanceof ApiError && err.code === code) return err;
    say(ORGS[who].label, what, `expected ${code}, got ${err instanceof ApiError ? err.code : 'success'}`, false);
    throw new StepFailed(what);
  }

  /** As a client would: asks every 100 ms until the answer has settled, for at most `seconds`. */
  async function poll<T>(what: string, ask: () => Promise<T>, settled: (t: T) => boolean, seconds: number) {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const answer = await ask();
      if (settled(answer)) return answer;
      if (Date.now() > deadline) throw new StepFailed(`${what} did not settle in ${seconds} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const waitForJob = (jobId: string) =>
    poll(
      `job ${jobId}`,
      () =>
        call(
          'operator',
          `GET /v1/jobs/${jobId}`,
          api.operator.GET('/v1/jobs/{id}', { params: { path: { id: jobId } } }),
        ),
      (job) => !['queued', 'running'].includes(job.status),
      120,
    );

  /** The contract until its snapshot is sealed (or its build failed). */
  const waitForContract = (contractId: string) =>
    poll(
      `the snapshot build of ${contractId}`,
      () =>
        call(
          'operator',
          `GET /v1/contracts/${contractId}`,
          api.operator.GET('/v1/contracts/{id}', { params: { path: { id: contractId } } }),
        ),
      (contract) => contract.status !== 'building',
      300,
    );

  let printed = false;
  const printSummary = () => {
    printed = true;
    summary.elapsedMs = Math.round(performance.now() - started);
    if (opts.json) {
      print(JSON.stringify(summary, null, 2));
      return;
    }
    print('');
    print(`${summary.ok ? 'DEMO PASSED' : 'DEMO FAILED'} in ${(summary.elapsedMs / 1000).toFixed(1)} s`);
    for (const [k, v] of Object.entries(summary))
      if (!['ok', 'elapsedMs'].includes(k)) print(`  ${k.padEnd(20)} ${String(v)}`);
    if (!keep)
      print(
        opts.serve && summary.ok
          ? '  (temporary data: removed when the server stops; pass --data-dir DIR to keep it)'
          : '  (temporary data removed; pass --data-dir DIR to keep it)',
      );
  };
  try {
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));

    const catalog = await call('operator', 'GET /v1/catalog', api.operator.GET('/v1/catalog'));
    const population = catalog.datasets.find((d) => d.name === 'population')!;
    say(
      'operator',
      'GET /v1/catalog',
      `${catalog.datasets.length} dataset(s); population has ${population.columns.length} columns, ${population.columns.filter((c) => c.negativeList).length} on the negative list`,
    );

    const app = await call(
      'operator',
      'POST /v1/applications',
      api.operator.POST('/v1/applications', {
        body: {
          scenario: { name: '区县居民收入结构分析', purpose: '为普惠金融产品设计提供区县级收入分布参考', paid: false },
          mode: 'aggregate',
          termMonths: 12,
          datasets: [{ dataset: 'population', columns: ['district', 'gender', 'birth_date', 'education', 'income'] }],
          emergencyPlan: {
            contact: '数智科技 安全负责人 0851-00000000',
            triggers: ['疑似重识别', '输出异常'],
            actions: ['立即暂停合约', '通知数据局'],
          },
          securityControls: ['仅在沙箱内分析', '输出经披露控制'],
        },
      }),
    );
    const risk = app.risk?.population;
    say(
      'operator',
      'POST /v1/applications',
      `201 ${app.id} (${app.grants[0]!.columns.map((c) => `${c.column}:${c.rule}`).join(' ')}); preview k = ${risk?.k ?? '—'}`,
    );

    const review = await call(
      'provider',
      'POST …/reviews',
      api.provider.POST('/v1/applications/{id}/reviews', {
        params: { path: { id: app.id } },
        body: { dataset: 'population', decision: 'approve', reason: '用途明确，字段最小必要' },
      }),
    );
    say('provider', `POST …/reviews (population)`, `200 review ${review.reviews[0]!.status}`);

    // decision safety: the preview breaks the policy, so an approval needs an override with a reason
    const decide = (override?: { reason: string }) =>
      api.bureau.POST('/v1/applications/{id}/decision', {
        params: { path: { id: app.id } },
        body: { decision: 'approve', reason: '场景合规，风险可控', ...(override ? { override } : {}) },
      });
    if (app.warnings.length > 0) {
      const warned = await refused(
        'bureau',
        'POST …/decision (no override)',
        decide(),
        'ERR_DECISION_OVERRIDE_REQUIRED',
      );
      say(
        'bureau',
        'POST …/decision (risk preview breaks policy)',
        `${warned.status} ${warned.code}: ${app.warnings.length} warning(s), e.g. ${app.warnings[0]!.slice(0, 60)}…`,
      );
    }
    const decision = await call(
      'bureau',
      'POST …/decision',
      decide(app.warnings.length ? { reason: '合成演示数据；仅区县级汇总，输出经披露控制' } : undefined),
    );
    if (!decision.contractId || !decision.contract) throw new StepFailed('the approval made no contract');
    summary.contractId = decision.contractId;
    const contractId = decision.contractId;
    say(
      'bureau',
      `POST …/decision (approve${app.warnings.length ? ', override recorded' : ''})`,
      `202 contract ${contractId} ${decision.contract.status}`,
    );
    // the snapshot is built after the answer; the contract is signed when it is sealed
    const contract = await waitForContract(contractId);
    if (contract.status !== 'active') {
      say('operator', `GET …/contracts/{id}`, `${contract.status}: ${contract.statusReason ?? ''}`, false);
      throw new StepFailed('the snapshot build failed');
    }
    const snap = (contract.claims as unknown as ContractClaims).snapshot;
    say(
      'operator',
      'GET …/contracts/{id} (snapshot sealed)',
      `active, snapshot ${snap.hash.slice(0, 12)}… (${Object.entries(snap.tables)
        .map(([t, v]) => `${t}: ${v.rows}`)
        .join(', ')})`,
    );

    const jws = await call(
      'operator',
      'GET …/jws',
      api.operator.GET('/v1/contracts/{id}/jws', { params: { path: { id: contractId } }, parseAs: 'text' }),
    );
    const verifiedContract = await jwtVerify(jws, jwks, {
      algorithms: ['EdDSA'],
      typ: CONTRACT_TYP,
      issuer: CONTRACT_ISSUER,
      audience: CONTRACT_AUDIENCE,
    });
    summary.contractVerified = verifiedContract.payload.jti === contractId;
    say(
      'operator',
      'verify contract JWS against /.well-known/jwks',
      summary.contractVerified
        ? `valid EdDSA signature, expires ${String(contract.expiresAt).slice(0, 10)}`
        : 'jti mismatch',
      summary.contractVerified,
    );

    const sql = `SELECT district, education, count(*) AS people, round(avg(income), 0) AS avg_income
FROM population WHERE income > 0 GROUP BY district, education ORDER BY district, education`;
    const typo = await call(
      'operator',
      'POST /v1/jobs/validate',
      api.operator.POST('/v1/jobs/validate', { body: { contractId, sql: sql.replace('education,', 'religion,') } }),
    );
    const checked = await call(
      'operator',
      'POST /v1/jobs/validate',
      api.operator.POST('/v1/jobs/validate', { body: { contractId, sql } }),
    );
    say(
      'operator',
      'POST /v1/jobs/validate (a typo, then the query)',
      `${typo.valid ? 'valid?!' : typo.reasons[0]!.message.slice(0, 60)}…; then ${checked.valid ? 'valid' : 'refused'}`,
      !typo.valid && checked.valid,
    );

    const job = await call(
      'operator',
      'POST /v1/jobs',
      api.operator.POST('/v1/jobs', { body: { contractId, sql, name: 'income by district and education' } }),
    );
    summary.jobId = job.id;
    const done = await waitForJob(job.id);
    const jobOk = done.status === 'released';
    say(
      'operator',
      'POST /v1/jobs → sandbox → disclosure control',
      `202 ${job.id} → ${done.status}${jobOk ? '' : ` ${JSON.stringify(done.reasons)}`}`,
      jobOk,
    );
    if (!jobOk) throw new StepFailed('job not released');
    summary.outputId = done.outputId!;
    const outputId = done.outputId!;

    const output = await call(
      'operator',
      'GET /v1/outputs/:id',
      api.operator.GET('/v1/outputs/{id}', { params: { path: { id: outputId } } }),
    );
    summary.rowsReleased = output.rowCount;
    summary.cellsSuppressed = output.cellsSuppressed;
    say(
      'operator',
      'GET /v1/outputs/:id',
      `${output.rowCount} rows released; ${output.checks.map((c) => `${c.check}: ${c.effect}`).join('; ')}`,
    );

    const manifest = await call(
      'operator',
      'GET …/manifest',
      api.operator.GET('/v1/outputs/{id}/manifest', { params: { path: { id: outputId } }, parseAs: 'text' }),
    );
    const m = await jwtVerify(manifest, jwks, { algorithms: ['EdDSA'], typ: MANIFEST_TYP, issuer: CONTRACT_ISSUER });
    let csv = '';
    const forms: string[] = [];
    summary.manifestVerified = true;
    for (const format of ['csv', 'json', 'parquet'] as const) {
      const bytes = Buffer.from(
        (await call(
          'operator',
          `GET …/data?format=${format}`,
          api.operator.GET('/v1/outputs/{id}/data', {
            params: { path: { id: outputId }, query: { format } },
            parseAs: 'arrayBuffer',
          }),
        )) as ArrayBuffer,
      );
      if (format === 'csv') csv = bytes.toString('utf8');
      const check = await verifyOutputFile(bytes, format, manifest, jwks);
      summary.manifestVerified &&= check.ok;
      forms.push(`${format} ${check.ok ? '✓' : '✗'}`);
    }
    say(
      'operator',
      'download csv, json, parquet + verify manifest',
      `${forms.join(', ')} against the signed sha256 of each; sources: ${JSON.stringify((m.payload as { dataSources: { providerName: string }[] }).dataSources.map((d) => d.providerName))}`,
      summary.manifestVerified,
    );
    if (!opts.json)
      print(
        csv
          .trim()
          .split('\r\n')
          .slice(0, 6)
          .map((l) => `        │ ${l}`)
          .join('\n') + '\n        │ …',
      );

    const escape = await call(
      'operator',
      'POST /v1/jobs',
      api.operator.POST('/v1/jobs', { body: { contractId, sql: "SELECT * FROM read_csv('/etc/passwd')" } }),
    );
    const stopped = await waitForJob(escape.id);
    summary.escapeAttemptRefused = stopped.status === 'rejected';
    const by = stopped.reasons
      .map((r) => `${r.code}${r.layer ? ` (${r.layer}${r.rule ? `: ${r.rule}` : ''})` : ''}`)
      .join(', ');
    say(
      'operator',
      'POST /v1/jobs (escape attempt: read_csv)',
      `${stopped.status} ${by}`,
      summary.escapeAttemptRefused,
    );

    // seed 002 第三十九条: the emergency plan's kill switch, and the bureau lifting it
    const change = (who: 'risk' | 'bureau', action: 'suspend' | 'resume', reason: string) =>
      call(
        who,
        `POST /v1/contracts/:id/${action}`,
        api[who].POST(`/v1/contracts/{id}/${action}`, { params: { path: { id: contractId } }, body: { reason } }),
      );
    const suspended = await change('risk', 'suspend', '应急预案触发：输出异常待核查');
    say('risk', 'POST /v1/contracts/:id/suspend', `200 contract ${suspended.status}`);
    const blocked = await refused(
      'operator',
      'POST /v1/jobs (contract suspended)',
      api.operator.POST('/v1/jobs', { body: { contractId, sql } }),
      'ERR_CONTRACT_SUSPENDED',
    );
    say('operator', 'POST /v1/jobs (contract suspended)', `${blocked.status} ${blocked.code}`);
    const resumed = await change('bureau', 'resume', '核查完毕，恢复运营');
    summary.lifecycleChecked = suspended.status === 'suspended' && resumed.status === 'active';
    say('bureau', 'POST /v1/contracts/:id/resume', `200 contract ${resumed.status}`, summary.lifecycleChecked);

    // seed 002 第三十四条(四): the periodic risk assessment, here on demand for the quarter so far
    const made = await call('risk', 'POST /v1/reports', api.risk.POST('/v1/reports', { body: { contractId } }));
    const report = made.report as RiskAssessmentReport;
    const page = await call(
      'risk',
      'GET /v1/reports/:id.html',
      api.risk.GET('/v1/reports/{id}.html', { params: { path: { id: report.id } }, parseAs: 'text' }),
    );
    summary.reportVerified = await verifyReport(made.jws, report, page, jwks).then(
      () => true,
      () => false,
    );
    summary.reportRating = report.rating.level;
    if (keep) {
      summary.reportFile = path.join(dataDir, 'reports', `${report.id}.html`);
      fs.mkdirSync(path.dirname(summary.reportFile), { recursive: true });
      fs.writeFileSync(summary.reportFile, page);
    }
    say(
      'risk',
      'POST /v1/reports (risk assessment, this quarter)',
      `201 ${report.id}: rated ${report.rating.level.toUpperCase()} (${report.rating.findings.map((f) => f.rule).join(', ') || 'no finding'}); ${summary.reportVerified ? 'signature and page verified' : 'SIGNATURE INVALID'}`,
      summary.reportVerified,
    );

    const audit = await call('risk', 'GET /v1/audit/verify', api.risk.GET('/v1/audit/verify'));
    summary.auditVerified = audit.ok;
    summary.auditEntries = audit.entries;
    say(
      'risk',
      'GET /v1/audit/verify',
      `${audit.ok ? 'chain intact' : 'CHAIN BROKEN'}: ${audit.entries} entries, head ${audit.headHash.slice(0, 12)}…`,
      audit.ok,
    );

    summary.ok = Boolean(
      summary.contractVerified &&
      summary.manifestVerified &&
      summary.escapeAttemptRefused &&
      summary.lifecycleChecked &&
      summary.auditVerified &&
      summary.reportVerified,
    );
  } catch (err) {
    summary.failedStep = err instanceof StepFailed ? err.message : String((err as Error).stack ?? err);
    if (!(err instanceof StepFailed) && !opts.json) print(`✗ unexpected error: ${summary.failedStep}`);
  } finally {
    if (opts.serve && summary.ok) {
      printSummary();
      await keepServing(base, platform.keys, print);
    }
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await server.close();
    await platform.close();
    if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
  if (!printed) printSummary();
  return summary;
}
