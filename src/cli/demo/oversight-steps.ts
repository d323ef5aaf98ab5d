/** Oversight: the emergency kill switch and its lifting, the risk report, the audit chain. */
import fs from 'node:fs';
import path from 'node:path';
import { RATING, STATUS, term } from '../../terms/index.ts';
import { verifyReport, type RiskAssessmentReport } from '../../reports/index.ts';
import { call, got, refused, say, worldOf } from './context.ts';
import type { DemoStep } from './step.ts';

// seed 002 第三十九条: the emergency plan's kill switch, and the bureau lifting it
export const suspendStep: DemoStep = {
  name: '应急暂停合约，再由数据主管部门恢复',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const contractId = got(ctx.flow.contractId, '合约');
    const change = (who: 'risk' | 'bureau', action: 'suspend' | 'resume', reason: string) =>
      call(
        ctx,
        who,
        `POST /v1/contracts/:id/${action}`,
        api[who].POST(`/v1/contracts/{id}/${action}`, { params: { path: { id: contractId } }, body: { reason } }),
      );
    const suspended = await change('risk', 'suspend', '应急预案触发：输出异常待核查');
    say(ctx, 'risk', 'POST /v1/contracts/:id/suspend', `200 合约${term(STATUS, suspended.status)}`);
    const what = 'POST /v1/jobs（合约已暂停）';
    const request = api.operator.POST('/v1/jobs', { body: { contractId, sql: ctx.sql } });
    const blocked = await refused(ctx, 'operator', what, request, 'ERR_CONTRACT_SUSPENDED');
    say(ctx, 'operator', what, `${blocked.status} ${blocked.code}`);
    const resumed = await change('bureau', 'resume', '核查完毕，恢复运营');
    const ok = (ctx.summary.lifecycleChecked = suspended.status === 'suspended' && resumed.status === 'active');
    say(ctx, 'bureau', 'POST /v1/contracts/:id/resume', `200 合约${term(STATUS, resumed.status)}`, ok);
  },
};

// seed 002 第三十四条(四): the periodic risk assessment, here on demand for the quarter so far
export const reportStep: DemoStep = {
  name: '生成本季度风险评估报告',
  async run(ctx) {
    const { api, jwks } = worldOf(ctx);
    const contractId = got(ctx.flow.contractId, '合约');
    const made = await call(ctx, 'risk', 'POST /v1/reports', api.risk.POST('/v1/reports', { body: { contractId } }));
    const report = made.report as RiskAssessmentReport;
    const page = await call(
      ctx,
      'risk',
      'GET /v1/reports/:id.html',
      api.risk.GET('/v1/reports/{id}.html', { params: { path: { id: report.id } }, parseAs: 'text' }),
    );
    const ok = await verifyReport(made.jws, report, page, jwks).then(
      () => true,
      () => false,
    );
    ctx.summary.reportVerified = ok;
    ctx.summary.reportRating = report.rating.level;
    if (ctx.keep) {
      const file = (ctx.summary.reportFile = path.join(ctx.dataDir, 'reports', `${report.id}.html`));
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, page);
    }
    const rules = report.rating.findings.map((f) => f.rule).join(', ') || '无发现';
    const level = `${term(RATING, report.rating.level)} (${report.rating.level.toUpperCase()})`;
    say(
      ctx,
      'risk',
      'POST /v1/reports（风险评估，本季度）',
      `201 ${report.id}：评级 ${level}（${rules}）；${ok ? '签名与页面校验通过' : '签名无效'}`,
      ok,
    );
  },
};

export const auditStep: DemoStep = {
  name: '校验审计链',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const audit = await call(ctx, 'risk', 'GET /v1/audit/verify', api.risk.GET('/v1/audit/verify'));
    ctx.summary.auditVerified = audit.ok;
    ctx.summary.auditEntries = audit.entries;
    say(
      ctx,
      'risk',
      'GET /v1/audit/verify',
      `${audit.ok ? '审计链完整' : '审计链断裂'}：${audit.entries} 条记录，链头 ${audit.headHash.slice(0, 12)}…`,
      audit.ok,
    );
  },
};
