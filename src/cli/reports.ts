import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { createPdsClient, must } from '../client/index.ts';
import { PdsError } from '../errors/index.ts';
import { loadKeyRing } from '../keys/index.ts';
import type { ReportRequest, RiskAssessmentReport, StoredReport } from '../reports/index.ts';
import { checkDataDirEncryption } from '../store/index.ts';
import { RATING, RATING_RULE, REPORT_KIND, term } from '../terms/index.ts';
import { configFrom, dataDirOption, jwksFrom, jwksOption, readJws, withStore } from './shared.ts';

/** Writes <id>.json, <id>.html and <id>.jws into `dir`; answers the paths. */
function writeReport(dir: string, r: StoredReport): Record<'json' | 'html' | 'jws', string> {
  fs.mkdirSync(dir, { recursive: true });
  const files = {
    json: path.join(dir, `${r.report.id}.json`),
    html: path.join(dir, `${r.report.id}.html`),
    jws: path.join(dir, `${r.report.id}.jws`),
  };
  fs.writeFileSync(files.json, `${JSON.stringify(r.report, null, 2)}\n`, { mode: 0o600 });
  fs.writeFileSync(files.html, r.html, { mode: 0o600 });
  fs.writeFileSync(files.jws, `${r.jws}\n`, { mode: 0o600 });
  return files;
}

/**
 * `pds report` for a person: the rating and each finding by its rule's Chinese name (src/terms,
 * as the report page shows them); the finding's own sentence, with its figures, is in the files.
 */
function reportLines(report: RiskAssessmentReport, files: Record<'json' | 'html' | 'jws', string>): string[] {
  const subject = report.kind === 'domain' ? '全域概况' : `${term(REPORT_KIND, report.kind)} ${report.subject}`;
  return [
    `风险评估报告 ${report.id}：${subject}，${report.period.label}${report.partial ? '（截至目前）' : ''}，评级 ${term(RATING, report.rating.level)} (${report.rating.level})`,
    ...report.rating.findings.map(
      (f) =>
        `  [${term(RATING, f.level)}] ${RATING_RULE[f.rule]?.name ?? f.rule} (${f.rule})：${RATING_RULE[f.rule]?.when ?? f.finding}`,
    ),
    `  已写入 ${files.json}、${files.html}、${files.jws}（各条发现的具体数字见报告页面）`,
  ];
}

/** The subject as the command names it: --contract C, --operator O or --domain. */
function reportTarget(req: ReportRequest): string {
  const period = req.period ? ` --period ${req.period}` : '';
  if (req.kind === 'contract') return `--contract ${req.subject}${period}`;
  if (req.kind === 'operator') return `--operator ${req.subject}${period}`;
  return `--domain${period}`;
}

async function reportFromStore(opts: { dataDir?: string }, req: ReportRequest): Promise<StoredReport> {
  const [{ SYSTEM_ACTOR }, { loadPolicies }, { ReportService }] = await Promise.all([
    import('../audit/index.ts'),
    import('../policies/index.ts'),
    import('../reports/index.ts'),
  ]);
  const config = configFrom(opts);
  const keys = await loadKeyRing(config.dataDir);
  const policies = loadPolicies(config.policiesDir);
  const made = await withStore(
    config.dataDir,
    (store) =>
      new ReportService({
        store,
        keys,
        policies,
        // made offline by the CLI: the setting the API would run with
        osSandbox:
          config.sandboxOs === 'off' ? 'off (SANDBOX_OS=off)' : 'bubblewrap (as configured; report made by the CLI)',
        dataDirEncryption: checkDataDirEncryption(config.dataDir),
      }).generate(req, { ...SYSTEM_ACTOR, sub: `cli:${process.env.USER ?? 'unknown'}`, role: 'risk' }, 'demand'),
    { api: `pds report ${reportTarget(req)} --api <url> --token <风险或管理局令牌>` },
  );
  return made!;
}

/** The same report through `POST /v1/reports`, then its page: the API records who asked. */
async function reportFromApi(url: string, token: string | undefined, req: ReportRequest): Promise<StoredReport> {
  if (!token) throw new PdsError('ERR_VALIDATION', '--api needs a risk or bureau token: --token <jwt> or PDS_TOKEN');
  const api = createPdsClient({ baseUrl: url, token });
  const subject =
    req.kind === 'contract'
      ? { contractId: req.subject }
      : req.kind === 'operator'
        ? { operatorOrg: req.subject }
        : { domain: true as const };
  const made = await must(
    api.POST('/v1/reports', { body: { ...subject, ...(req.period ? { period: req.period } : {}) } }),
  );
  const report = made.report as RiskAssessmentReport;
  const html = await must(api.GET('/v1/reports/{id}.html', { params: { path: { id: report.id } }, parseAs: 'text' }));
  return { report, jws: made.jws, html };
}

/** `pds report` (make one, as the scheduler would but on demand) and `pds verify-report`. */
export function addReportCommands(program: Command): void {
  program
    .command('report')
    .description(
      'make a signed risk assessment report for a contract, an operator or the whole domain over a period, and write it as JSON, HTML (with charts) and JWS',
    )
    .addOption(dataDirOption())
    .addOption(new Option('--contract <id>', 'report on this contract').conflicts(['operator', 'domain']))
    .addOption(
      new Option('--operator <org>', 'report on this operator organisation, all its contracts').conflicts('domain'),
    )
    .option('--domain', 'the overview of every operator')
    .option(
      '--period <period>',
      'a quarter (2026-Q3), month (2026-07) or year (2026); default: the current period so far',
    )
    .option('--out <dir>', 'write the files here', '.')
    .option('--api <url>', 'ask a running API instead of opening DATA_DIR (whose store a running server holds)')
    .option('--token <jwt>', 'with --api: a risk or bureau token (default: $PDS_TOKEN)')
    .option('--json', 'print {id, rating, files} as JSON')
    .action(
      async (opts: {
        dataDir?: string;
        contract?: string;
        operator?: string;
        domain?: boolean;
        period?: string;
        out: string;
        api?: string;
        token?: string;
        json?: boolean;
      }) => {
        if (!opts.contract && !opts.operator && !opts.domain)
          throw new PdsError('ERR_VALIDATION', 'name the subject: --contract <id>, --operator <org> or --domain');
        const req: ReportRequest = opts.contract
          ? { kind: 'contract', subject: opts.contract, period: opts.period }
          : opts.operator
            ? { kind: 'operator', subject: opts.operator, period: opts.period }
            : { kind: 'domain', subject: (await import('../reports/index.ts')).DOMAIN_SUBJECT, period: opts.period };
        const made = opts.api
          ? await reportFromApi(opts.api, opts.token ?? process.env.PDS_TOKEN, req)
          : await reportFromStore(opts, req);
        const files = writeReport(opts.out, made);
        const { report } = made;
        if (opts.json) {
          console.log(
            JSON.stringify({
              id: report.id,
              rating: report.rating.level,
              period: report.period.label,
              partial: report.partial,
              files,
            }),
          );
          return;
        }
        console.log(reportLines(report, files).join('\n'));
      },
    );

  program
    .command('verify-report')
    .description(
      "verify a report's JSON (and its HTML page) against the bureau's signature, offline or against a JWKS URL",
    )
    .argument('<report>', 'the report JSON')
    .argument('<jws>', 'the report JWS file')
    .option('--html <file>', 'also check the HTML page')
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--json', 'print the verified claims as JSON')
    .action(
      async (
        reportFile: string,
        jwsFile: string,
        opts: { html?: string; jwks?: string; dataDir?: string; json?: boolean },
      ) => {
        if (!fs.existsSync(reportFile)) throw new PdsError('ERR_VALIDATION', `${reportFile} does not exist`);
        const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as RiskAssessmentReport;
        const html = opts.html ? fs.readFileSync(opts.html, 'utf8') : undefined;
        const { verifyReport } = await import('../reports/index.ts');
        const claims = await verifyReport(readJws(jwsFile), report, html, await jwksFrom(opts));
        console.log(
          opts.json
            ? JSON.stringify({ ok: true, claims })
            : `校验通过：报告 ${claims.jti}（${term(REPORT_KIND, claims.kind)} ${claims.sub}，${claims.period}），评级 ${term(RATING, claims.rating)} (${claims.rating})${html !== undefined ? '；HTML 页面也一致' : ''}`,
        );
      },
    );
}
