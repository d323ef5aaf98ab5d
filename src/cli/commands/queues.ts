/**
 * Each role's queue over the API: a provider's reviews (`pds reviews`), the bureau's held outputs
 * (`pds outputs --held`) and a job's thread (`pds thread`). Tables for people, `--json` for
 * scripts (the API's answer as it is). The decisions themselves are `pds review …`.
 */
import { Option, type Command } from 'commander';
import { must, type Answer } from '../../client/index.ts';
import { apiCommand, clientFrom, print, type ApiOptions } from '../api.ts';
import { positiveInt } from '../shared.ts';
import { shanghaiTime } from '../../terms/index.ts';
import { reviewPacketLines, threadLines } from '../review-packet.ts';
import { statusText, table } from '../table.ts';

type ReviewItem = Answer<'listReviewQueue'>[number];
type Output = Answer<'listOutputs'>[number];

const OUTPUT_STATUSES = ['held', 'released', 'rejected', 'changes-requested'] as const;

function reviewRows(items: ReviewItem[]): string[] {
  const rows = items.map((r) => [
    r.applicationId,
    r.dataset,
    r.operatorOrg,
    r.scenario,
    shanghaiTime(r.submittedAt),
    r.dueAt ? `${shanghaiTime(r.dueAt)}${r.overdue ? '（已逾期）' : ''}` : '—',
    statusText(r.status),
  ]);
  const lines = table(['申请', '数据集', '运营机构', '场景', '提交时间', '答复截止', '状态'], rows, '没有待处理的审核');
  if (items.some((r) => r.status === 'pending'))
    lines.push(
      '',
      '审核：pds review application <申请> --dataset <数据集> --decision approve|reject [--reason 理由]（拒绝须写理由）',
    );
  return lines;
}

function outputRows(outputs: Output[]): string[] {
  const rows = outputs.map((o) => [
    o.id,
    o.jobId,
    o.contractId,
    statusText(o.status),
    o.rowCount,
    `${o.votes.recorded}/${o.votes.needed}`,
    o.heldBecause.join('；'),
    shanghaiTime(o.createdAt),
  ]);
  const lines = table(['输出', '作业', '合约', '状态', '行数', '票数', '待审原因', '生成时间'], rows, '没有输出');
  if (outputs.some((o) => o.status === 'held'))
    lines.push(
      '',
      '审核材料：pds outputs review <输出>；投票：pds review output <输出> --decision approve|reject|request-changes --reason 理由',
    );
  return lines;
}

/** `pds reviews`, `pds outputs` and `pds thread`. */
export function addQueueCommands(program: Command): void {
  apiCommand(
    program
      .command('reviews')
      .description(
        '数据提供单位的审核队列（数据主管部门与风险管理人员看到所有提供单位的），按答复截止时间排序；默认只列待审核的',
      )
      .addOption(
        new Option('--status <status>', '哪些审核')
          .choices(['pending', 'approved', 'rejected', 'all'])
          .default('pending'),
      )
      .option('--overdue', '只列已过答复截止时间的待审核项')
      .option('--limit <n>', '最多列出的条数', positiveInt, 100),
  ).action(
    async (
      opts: ApiOptions & { status: 'pending' | 'approved' | 'rejected' | 'all'; overdue?: boolean; limit: number },
    ) => {
      const items = await must(
        clientFrom(opts).GET('/v1/reviews', {
          params: {
            query: {
              ...(opts.status === 'all' ? {} : { status: opts.status }),
              ...(opts.overdue ? { overdue: true } : {}),
              limit: opts.limit,
            },
          },
        }),
      );
      print(opts, items, () => reviewRows(items));
    },
  );

  addOutputCommands(program);

  apiCommand(
    program
      .command('thread')
      .description('作业的讨论：投票汇总后审核人的理由，以及各方回复；--post 发表你的回复')
      .argument('<job>', '作业编号')
      .option('--post <text>', '在讨论中回复（作业所属的运营单位，或数据主管部门用户）'),
  ).action(async (job: string, opts: ApiOptions & { post?: string }) => {
    const api = clientFrom(opts);
    const posted = opts.post
      ? await must(api.POST('/v1/jobs/{id}/thread', { params: { path: { id: job } }, body: { body: opts.post } }))
      : undefined;
    const comments = await must(api.GET('/v1/jobs/{id}/thread', { params: { path: { id: job } } }));
    // --json: what the API answered — the new comment after a post, else the thread
    print(opts, posted ?? comments, () => [
      ...(posted ? [`已发表第 ${posted.seq} 条回复`, ''] : []),
      `作业 ${job} 的讨论：`,
      ...threadLines(comments),
    ]);
  });
}

/** `pds outputs` (the list; --held is the bureau's queue) and `pds outputs review <output>`. */
function addOutputCommands(program: Command): void {
  const outputs = apiCommand(
    program
      .command('outputs')
      .description('你可查看的输出，最早的在前；--held 即数据主管部门的审核队列')
      .addOption(new Option('--status <status>', '只列此状态的输出').choices(OUTPUT_STATUSES).conflicts('held'))
      .option('--held', '等待数据主管部门两票的待人工审核输出（同 --status held）')
      .option('--contract <id>', '只列此合约的输出'),
  );
  outputs.action(async (opts: ApiOptions & { status?: Output['status']; held?: boolean; contract?: string }) => {
    const status = opts.held ? 'held' : opts.status;
    const list = await must(
      clientFrom(opts).GET('/v1/outputs', {
        params: { query: { ...(status ? { status } : {}), ...(opts.contract ? { contractId: opts.contract } : {}) } },
      }),
    );
    print(opts, list, () => outputRows(list));
  });
  apiCommand(
    outputs
      .command('review')
      .description(
        '输出的审核材料（数据主管部门与风险管理人员）：SQL、分析、每项检查、结果行、在虚拟数据上的重放、你可查看的投票与讨论',
      )
      .argument('<output>', '输出编号'),
  ).action(async (id: string, _opts: ApiOptions, cmd: Command) => {
    // `outputs` takes --server, --token and --json too, and commander gives them to it wherever they stand
    const opts = cmd.optsWithGlobals<ApiOptions>();
    const packet = await must(clientFrom(opts).GET('/v1/outputs/{id}/review', { params: { path: { id } } }));
    print(opts, packet, () => reviewPacketLines(packet));
  });
}
