/** The operator's analysis: validation, the sandboxed job, the released output and its manifest. */
import { jwtVerify } from 'jose';
import { MANIFEST_TYP, verifyOutputFile } from '../../outputs/index.ts';
import { CONTRACT_ISSUER } from '../../contracts/index.ts';
import { CHECK, ERROR_ZH, STATUS, term } from '../../terms/index.ts';
import { call, got, say, StepFailed, waitForJob, worldOf } from './context.ts';
import type { DemoStep } from './step.ts';

/** A refusal's code and its sentence (src/terms), as the CLI shows errors. */
const reasonText = (r: { code: string; message: string }) =>
  `${r.code}：${((ERROR_ZH as Record<string, string | undefined>)[r.code] ?? r.message).replace(/。$/, '')}`;

export const validateStep: DemoStep = {
  name: '校验分析查询',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const contractId = got(ctx.flow.contractId, '合约');
    const validate = (sql: string) =>
      call(
        ctx,
        'operator',
        'POST /v1/jobs/validate',
        api.operator.POST('/v1/jobs/validate', { body: { contractId, sql } }),
      );
    const typo = await validate(ctx.sql.replace('education,', 'religion,'));
    const checked = await validate(ctx.sql);
    say(
      ctx,
      'operator',
      'POST /v1/jobs/validate（先写错字段，再提交正确查询）',
      `${typo.valid ? '竟然通过？' : reasonText(typo.reasons[0]!)}；然后${checked.valid ? '通过' : '被拒绝'}`,
      !typo.valid && checked.valid,
    );
  },
};

export const jobStep: DemoStep = {
  name: '提交分析查询并等待结果',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const body = {
      contractId: got(ctx.flow.contractId, '合约'),
      sql: ctx.sql,
      name: 'income by district and education',
    };
    const job = await call(ctx, 'operator', 'POST /v1/jobs', api.operator.POST('/v1/jobs', { body }));
    ctx.summary.jobId = job.id;
    const done = await waitForJob(ctx, job.id);
    const ok = done.status === 'released';
    const result = `202 ${job.id} → ${term(STATUS, done.status)}${ok ? '' : ` ${JSON.stringify(done.reasons)}`}`;
    say(ctx, 'operator', 'POST /v1/jobs → 沙箱 → 披露控制', result, ok);
    if (!ok) throw new StepFailed('作业未发布');
    ctx.flow.outputId = ctx.summary.outputId = done.outputId!;
  },
};

export const outputStep: DemoStep = {
  name: '查看已发布的输出',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const id = got(ctx.flow.outputId, '输出');
    const output = await call(
      ctx,
      'operator',
      'GET /v1/outputs/:id',
      api.operator.GET('/v1/outputs/{id}', { params: { path: { id } } }),
    );
    ctx.summary.rowsReleased = output.rowCount;
    ctx.summary.cellsSuppressed = output.cellsSuppressed;
    // the check's name in words; what it did, in detail, is the output's own (GET /v1/outputs/:id)
    const checks = output.checks.map((c) => term(CHECK, c.check)).join('、');
    say(
      ctx,
      'operator',
      'GET /v1/outputs/:id',
      `发布 ${output.rowCount} 行，隐藏 ${output.cellsSuppressed} 个单元格；已做检查：${checks}`,
    );
  },
};

export const downloadStep: DemoStep = {
  name: '下载输出并按签名清单校验',
  async run(ctx) {
    const { api, jwks } = worldOf(ctx);
    const id = got(ctx.flow.outputId, '输出');
    const manifest = await call(
      ctx,
      'operator',
      'GET …/manifest',
      api.operator.GET('/v1/outputs/{id}/manifest', { params: { path: { id } }, parseAs: 'text' }),
    );
    const m = await jwtVerify(manifest, jwks, { algorithms: ['EdDSA'], typ: MANIFEST_TYP, issuer: CONTRACT_ISSUER });
    let csv = '';
    const forms: string[] = [];
    ctx.summary.manifestVerified = true;
    for (const format of ['csv', 'json', 'parquet'] as const) {
      const request = api.operator.GET('/v1/outputs/{id}/data', {
        params: { path: { id }, query: { format } },
        parseAs: 'arrayBuffer',
      });
      const bytes = Buffer.from((await call(ctx, 'operator', `GET …/data?format=${format}`, request)) as ArrayBuffer);
      if (format === 'csv') csv = bytes.toString('utf8');
      const check = await verifyOutputFile(bytes, format, manifest, jwks);
      ctx.summary.manifestVerified &&= check.ok;
      forms.push(`${format} ${check.ok ? '✓' : '✗'}`);
    }
    const sources = (m.payload as { dataSources: { providerName: string }[] }).dataSources.map((d) => d.providerName);
    say(
      ctx,
      'operator',
      '下载 csv、json、parquet 并校验签名清单',
      `${forms.join('，')}：与清单签名的 sha256 一致；数据来源：${sources.join('、')}`,
      ctx.summary.manifestVerified,
    );
    if (ctx.opts.json) return;
    const head = csv.trim().split('\r\n').slice(0, 6);
    ctx.print([...head.map((l) => `          │ ${l}`), '          │ …'].join('\n'));
  },
};

export const escapeStep: DemoStep = {
  name: '越出沙箱的尝试被拒绝',
  async run(ctx) {
    const { api } = worldOf(ctx);
    const body = { contractId: got(ctx.flow.contractId, '合约'), sql: "SELECT * FROM read_csv('/etc/passwd')" };
    const escape = await call(ctx, 'operator', 'POST /v1/jobs', api.operator.POST('/v1/jobs', { body }));
    const stopped = await waitForJob(ctx, escape.id);
    const ok = (ctx.summary.escapeAttemptRefused = stopped.status === 'rejected');
    const by = stopped.reasons
      .map((r) => `${r.code}${r.layer ? ` (${r.layer}${r.rule ? `: ${r.rule}` : ''})` : ''}`)
      .join(', ');
    say(ctx, 'operator', 'POST /v1/jobs（逃逸尝试：read_csv）', `${term(STATUS, stopped.status)} ${by}`, ok);
  },
};
