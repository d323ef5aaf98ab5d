/** From the catalog to a signed contract: application, the provider's review, the bureau's decision. */
import { jwtVerify } from 'jose';
import { CONTRACT_AUDIENCE, CONTRACT_ISSUER, CONTRACT_TYP, type ContractClaims } from '../../contracts/index.ts';
import { STATUS, term } from '../../terms/index.ts';
import { call, got, refused, say, StepFailed, waitForContract, worldOf } from './context.ts';
import type { DemoStep } from './step.ts';

export const catalogStep: DemoStep = {
  name: '查看数据目录',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const catalog = await call(ctx, 'operator', 'GET /v1/catalog', api.operator.GET('/v1/catalog'));
    const population = catalog.datasets.find((d) => d.name === 'population');
    if (!population) throw new StepFailed('目录中没有 population 数据集');
    const negative = population.columns.filter((c) => c.negativeList).length;
    say(
      ctx,
      'operator',
      'GET /v1/catalog',
      `${catalog.datasets.length} 个数据集；population 有 ${population.columns.length} 个字段，其中 ${negative} 个在负面清单上`,
    );
  },
};

export const applicationStep: DemoStep = {
  name: '提交场景申请',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const body = {
      scenario: { name: '区县居民收入结构分析', purpose: '为普惠金融产品设计提供区县级收入分布参考', paid: false },
      mode: 'aggregate' as const,
      termMonths: 12,
      datasets: [{ dataset: 'population', columns: ['district', 'gender', 'birth_date', 'education', 'income'] }],
      emergencyPlan: {
        contact: '数智科技 安全负责人 0851-00000000',
        triggers: ['疑似重识别', '输出异常'],
        actions: ['立即暂停合约', '通知数据局'],
      },
      securityControls: ['仅在沙箱内分析', '输出经披露控制'],
    };
    const app = await call(ctx, 'operator', 'POST /v1/applications', api.operator.POST('/v1/applications', { body }));
    ctx.flow.app = app;
    const grants = app.grants[0]!.columns.map((c) => `${c.column}:${c.rule}`).join(' ');
    say(
      ctx,
      'operator',
      'POST /v1/applications',
      `201 ${app.id}（${grants}）；预览 k = ${app.risk?.population?.k ?? '—'}`,
    );
  },
};

export const providerReviewStep: DemoStep = {
  name: '数据提供单位审核',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const app = got(ctx.flow.app, '申请');
    const review = await call(
      ctx,
      'provider',
      'POST …/reviews',
      api.provider.POST('/v1/applications/{id}/reviews', {
        params: { path: { id: app.id } },
        body: { dataset: 'population', decision: 'approve', reason: '用途明确，字段最小必要' },
      }),
    );
    say(ctx, 'provider', 'POST …/reviews (population)', `200 审核${term(STATUS, review.reviews[0]!.status)}`);
  },
};

export const decisionStep: DemoStep = {
  name: '数据主管部门决定',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const app = got(ctx.flow.app, '申请');
    // decision safety: the preview breaks the policy, so an approval needs an override with a reason
    const decide = (override?: { reason: string }) =>
      api.bureau.POST('/v1/applications/{id}/decision', {
        params: { path: { id: app.id } },
        body: { decision: 'approve', reason: '场景合规，风险可控', ...(override ? { override } : {}) },
      });
    const warned = app.warnings.length > 0;
    if (warned) {
      const err = await refused(
        ctx,
        'bureau',
        'POST …/decision（未说明理由）',
        decide(),
        'ERR_DECISION_OVERRIDE_REQUIRED',
      );
      say(
        ctx,
        'bureau',
        'POST …/decision（风险预览不符合政策）',
        `${err.status} ${err.code}：${app.warnings.length} 条警告，例如 ${app.warnings[0]!.slice(0, 60)}…`,
      );
    }
    const override = warned ? { reason: '合成演示数据；仅区县级汇总，输出经披露控制' } : undefined;
    const decision = await call(ctx, 'bureau', 'POST …/decision', decide(override));
    if (!decision.contractId || !decision.contract) throw new StepFailed('批准没有生成合约');
    ctx.flow.contractId = ctx.summary.contractId = decision.contractId;
    say(
      ctx,
      'bureau',
      `POST …/decision（批准${warned ? '，越过政策提示的理由已记录' : ''}）`,
      `202 合约 ${decision.contractId} ${term(STATUS, decision.contract.status)}`,
    );
  },
};

// the snapshot is built after the decision's answer; the contract is signed when it is sealed
export const snapshotStep: DemoStep = {
  name: '生成并封存合约快照',
  async run(ctx) {
    const contract = await waitForContract(ctx, got(ctx.flow.contractId, '合约'));
    if (contract.status !== 'active') {
      say(
        ctx,
        'operator',
        'GET …/contracts/{id}',
        `${term(STATUS, contract.status)}：${contract.statusReason ?? ''}`,
        false,
      );
      throw new StepFailed('快照生成失败');
    }
    ctx.flow.contract = contract;
    const snap = (contract.claims as unknown as ContractClaims).snapshot;
    const tables = Object.entries(snap.tables).map(([t, v]) => `${t}: ${v.rows}`);
    say(
      ctx,
      'operator',
      'GET …/contracts/{id}（快照已封存）',
      `${term(STATUS, 'active')}，快照 ${snap.hash.slice(0, 12)}…（${tables.join('，')}）`,
    );
  },
};

export const contractSignatureStep: DemoStep = {
  name: '校验合约签名',
  async run(ctx) {
    const { api, jwks } = worldOf(ctx);
    const contractId = got(ctx.flow.contractId, '合约');
    const jws = await call(
      ctx,
      'operator',
      'GET …/jws',
      api.operator.GET('/v1/contracts/{id}/jws', { params: { path: { id: contractId } }, parseAs: 'text' }),
    );
    const verified = await jwtVerify(jws, jwks, {
      algorithms: ['EdDSA'],
      typ: CONTRACT_TYP,
      issuer: CONTRACT_ISSUER,
      audience: CONTRACT_AUDIENCE,
    });
    const ok = (ctx.summary.contractVerified = verified.payload.jti === contractId);
    const expires = String(got(ctx.flow.contract, '合约').expiresAt).slice(0, 10);
    say(ctx, 'operator', '按 /.well-known/jwks 校验合约 JWS', ok ? `EdDSA 签名有效，${expires} 到期` : 'jti 不符', ok);
  },
};
