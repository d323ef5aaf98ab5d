import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { createPdsClient, must } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import { loadKeyRing } from '../../keys/index.ts';
import type { ReportRequest, RiskAssessmentReport, StoredReport } from '../../reports/index.ts';
import { checkDataDirEncryption } from '../../store/index.ts';
import { RATING, RATING_RULE, REPORT_KIND, term } from '../../terms/index.ts';
import { configFrom, dataDirOption, jwksFrom, jwksOption, readJws, withStore } from '../shared.ts';

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
    import('../../audit/index.ts'),
    import('../../policies/index.ts'),
    import('../../reports/index.ts'),
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

interface ReportOpts {
  dataDir?: string;
  contract?: string;
  operator?: string;
  domain?: boolean;
  period?: string;
  out: string;
  api?: string;
  token?: string;
  json?: boolean;
}

/** `pds report`: made from DATA_DIR, or by a running API with --api; written as JSON, HTML and JWS. */
async function makeReport(opts: ReportOpts): Promise<void> {
  if (!opts.contract && !opts.operator && !opts.domain)
    throw new PdsError('ERR_VALIDATION', 'name the subject: --contract <id>, --operator <org> or --domain');
  const req: ReportRequest = opts.contract
    ? { kind: 'contract', subject: opts.contract, period: opts.period }
    : opts.operator
      ? { kind: 'operator', subject: opts.operator, period: opts.period }
      : { kind: 'domain', subject: (await import('../../reports/index.ts')).DOMAIN_SUBJECT, period: opts.period };
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
}

/** `pds report` (make one, as the scheduler would but on demand) and `pds verify-report`. */
export function addReportCommands(program: Command): void {
  program
    .command('report')
    .description('为合约、运营单位或全域生成某一期间的签名风险评估报告，并写出 JSON、HTML（含图表）与 JWS')
    .addOption(dataDirOption())
    .addOption(new Option('--contract <id>', '报告此合约').conflicts(['operator', 'domain']))
    .addOption(new Option('--operator <org>', '报告此运营单位及其全部合约').conflicts('domain'))
    .option('--domain', '全部运营单位的概况')
    .option('--period <period>', '季度（2026-Q3）、月份（2026-07）或年份（2026）；默认：本期截至目前')
    .option('--out <dir>', '文件写入此目录', '.')
    .option('--api <url>', '询问运行中的 API，而不打开 DATA_DIR（服务器运行时持有其控制库）')
    .option('--token <jwt>', '与 --api 同用：风险管理或数据主管部门的令牌（默认 $PDS_TOKEN）')
    .option('--json', '以 JSON 打印 {id, rating, files}')
    .action(makeReport);

  program
    .command('verify-report')
    .description('按数据主管部门的签名校验报告的 JSON（及其 HTML 页面），可离线或对照 JWKS 地址')
    .argument('<report>', '报告 JSON 文件')
    .argument('<jws>', '报告 JWS 文件')
    .option('--html <file>', '同时检查此 HTML 页面')
    .addOption(jwksOption())
    .addOption(dataDirOption())
    .option('--json', '以 JSON 打印校验通过的声明')
    .action(
      async (
        reportFile: string,
        jwsFile: string,
        opts: { html?: string; jwks?: string; dataDir?: string; json?: boolean },
      ) => {
        if (!fs.existsSync(reportFile)) throw new PdsError('ERR_VALIDATION', `${reportFile} does not exist`);
        const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as RiskAssessmentReport;
        const html = opts.html ? fs.readFileSync(opts.html, 'utf8') : undefined;
        const { verifyReport } = await import('../../reports/index.ts');
        const claims = await verifyReport(readJws(jwsFile), report, html, await jwksFrom(opts));
        console.log(
          opts.json
            ? JSON.stringify({ ok: true, claims })
            : `校验通过：报告 ${claims.jti}（${term(REPORT_KIND, claims.kind)} ${claims.sub}，${claims.period}），评级 ${term(RATING, claims.rating)} (${claims.rating})${html !== undefined ? '；HTML 页面也一致' : ''}`,
        );
      },
    );
}
