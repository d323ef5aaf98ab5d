/** `pds review …`: the reviewers' decisions over the API. */
import { Option, type Command } from 'commander';
import { must, type Answer } from '../../client/index.ts';
import { apiCommand, clientFrom, print, type ApiOptions } from '../api.ts';
import { shareProgress } from '../progress.ts';
import { positiveInt } from '../shared.ts';
import { statusText } from '../table.ts';

type Contract = Answer<'getContract'>;
type DecisionOpts = ApiOptions & {
  decision: 'approve' | 'reject';
  reason: string;
  override?: string;
  wait?: boolean;
  timeout: number;
};

/** `pds review decision`: the contract an approval made, or the rejection. */
function decisionLines(application: string, contract: Contract | null | undefined): string[] {
  if (!contract) return [`${application}：已拒绝 (rejected)`];
  return [
    `${application}：已批准，合约 ${contract.id} ${statusText(contract.status)}${contract.statusReason ? `（${contract.statusReason}）` : ''}`,
    ...(contract.status === 'building' ? ['  正在生成合约快照：加 --wait 跟踪，或 GET /v1/contracts/{id} 查看'] : []),
  ];
}

/** Follows a contract's snapshot build with a progress bar; exit code 1 if it does not become active. */
async function followBuild(api: ReturnType<typeof clientFrom>, contract: Contract, opts: DecisionOpts) {
  const deadline = Date.now() + opts.timeout * 1000;
  const bar = shareProgress(`合约 ${contract.id} 的快照`, opts.json === true);
  while (contract.status === 'building') {
    if (Date.now() > deadline) {
      bar.stop();
      throw new Error(`合约 ${contract.id} 等待 ${opts.timeout} 秒后仍在生成快照（生成继续进行）`);
    }
    bar.update(contract.build?.done ?? 0, `${contract.build?.phase ?? ''} ${contract.build?.table ?? ''}`.trim());
    await new Promise((r) => setTimeout(r, 250));
    contract = await must(api.GET('/v1/contracts/{id}', { params: { path: { id: contract.id } } }));
  }
  bar.stop();
  if (contract.status !== 'active') process.exitCode = 1;
  return contract;
}

async function decide(id: string, opts: DecisionOpts): Promise<void> {
  const api = clientFrom(opts);
  const body = {
    decision: opts.decision,
    reason: opts.reason,
    ...(opts.override ? { override: { reason: opts.override } } : {}),
  };
  const decided = await must(api.POST('/v1/applications/{id}/decision', { params: { path: { id } }, body }));
  const contract = opts.wait && decided.contract ? await followBuild(api, decided.contract, opts) : decided.contract;
  print(opts, { ...decided, contract }, () => decisionLines(id, contract));
}

/** Reviewers' decisions over the API. */
export function addReviewCommands(program: Command): void {
  const review = program.command('review').description('审核人的决定（经 API）');
  apiCommand(
    review
      .command('application')
      .description('数据提供单位对申请中其数据集的审核')
      .argument('<id>', '申请编号')
      .requiredOption('--dataset <name>', '申请中你的数据集')
      .addOption(new Option('--decision <d>', '你的决定').choices(['approve', 'reject']).makeOptionMandatory())
      .option('--reason <text>', '理由（拒绝时必填）'),
  ).action(
    async (id: string, opts: ApiOptions & { dataset: string; decision: 'approve' | 'reject'; reason?: string }) => {
      const body = { dataset: opts.dataset, decision: opts.decision, ...(opts.reason ? { reason: opts.reason } : {}) };
      const app = await must(
        clientFrom(opts).POST('/v1/applications/{id}/reviews', { params: { path: { id } }, body }),
      );
      print(opts, app, () => [`${app.id}：${statusText(app.status)}`]);
    },
  );
  apiCommand(
    review
      .command('output')
      .description('数据主管部门对待人工审核输出的审核：两名审核人独立投票，然后汇总')
      .argument('<id>', '输出编号')
      .addOption(
        new Option('--decision <d>', '你的投票')
          .choices(['approve', 'reject', 'request-changes'])
          .makeOptionMandatory(),
      )
      .option('--reason <text>', '理由（拒绝或退回修改时必填；运营单位会看到）'),
  ).action(
    async (id: string, opts: ApiOptions & { decision: 'approve' | 'reject' | 'request-changes'; reason?: string }) => {
      const body = { decision: opts.decision, ...(opts.reason ? { reason: opts.reason } : {}) };
      const output = await must(clientFrom(opts).POST('/v1/outputs/{id}/reviews', { params: { path: { id } }, body }));
      print(opts, output, () => [
        `${output.id}：${statusText(output.status)}（${output.votes.recorded}/${output.votes.needed} 票）`,
      ]);
    },
  );
  apiCommand(
    review
      .command('decision')
      .description('数据主管部门对申请的决定；批准后先生成合约快照，再签署合约')
      .argument('<id>', '申请编号')
      .addOption(new Option('--decision <d>', '决定').choices(['approve', 'reject']).makeOptionMandatory())
      .requiredOption('--reason <text>', '理由')
      .option('--override <reason>', '风险预览不符合政策时仍予批准，并说明理由')
      .option('--wait', '跟踪快照生成直到合约生效（生成失败时退出码 1）')
      .option('--timeout <seconds>', '最多等待的秒数', positiveInt, 3600),
  ).action(decide);
}
