/**
 * Operators' feedback to providers, providers' answers, and operators' acknowledgements of risk
 * reports, over the API (seed 002 第二十二条, 第三十四条(四)).
 */
import { Option, type Command } from 'commander';
import { must } from '../../client/index.ts';
import { FEEDBACK_KIND, shanghaiDate, shanghaiTime, term } from '../../terms/index.ts';
import { apiCommand, clientFrom, print, type ApiOptions } from '../api.ts';
import { table } from '../table.ts';

/** Feedback to providers and acknowledgements of reports, over the API. */
export function addFeedbackCommands(program: Command): void {
  const feedback = program.command('feedback').description('运营单位给数据提供单位的反馈，及其答复');
  apiCommand(
    feedback
      .command('file')
      .description('对你的合约所授权数据集的反馈：数据质量，或使用情况')
      .argument('<dataset>', '数据集，例如 population')
      .requiredOption('--contract <id>', '你使用该数据集所依据的合约')
      .addOption(new Option('--kind <kind>', '反馈类型').choices(['data-quality', 'usage']).default('data-quality'))
      .requiredOption('--subject <text>', '一行主题')
      .requiredOption('--body <text>', '你发现的情况'),
  ).action(
    async (
      dataset: string,
      opts: ApiOptions & { contract: string; kind: 'data-quality' | 'usage'; subject: string; body: string },
    ) => {
      const filed = await must(
        clientFrom(opts).POST('/v1/datasets/{id}/feedback', {
          params: { path: { id: dataset } },
          body: { kind: opts.kind, contractId: opts.contract, subject: opts.subject, body: opts.body },
        }),
      );
      print(opts, filed, () => [
        `已提交反馈 ${filed.id}，提供单位 ${filed.provider} 应于 ${shanghaiTime(filed.dueAt)} 前答复`,
      ]);
    },
  );
  apiCommand(
    feedback
      .command('list')
      .description('数据提供单位收到的反馈、运营单位自己的反馈，工作人员看到全部')
      .option('--open', '只列尚未答复的反馈'),
  ).action(async (opts: ApiOptions & { open?: boolean }) => {
    const all = await must(
      clientFrom(opts).GET('/v1/feedback', { params: { query: opts.open ? { open: true } : {} } }),
    );
    print(opts, all, () =>
      table(
        ['反馈', '数据集', '类型', '答复', '主题'],
        all.map((f) => [
          f.id,
          f.dataset,
          term(FEEDBACK_KIND, f.kind),
          f.answer ? '已答复' : `${f.overdue ? '已逾期，' : ''}应于 ${shanghaiDate(f.dueAt)} 前答复`,
          f.subject,
        ]),
        '没有反馈',
      ),
    );
  });
  apiCommand(
    feedback
      .command('answer')
      .description('数据集的提供单位答复一条反馈（只能答复一次）')
      .argument('<id>', '反馈编号')
      .requiredOption('--body <text>', '答复内容'),
  ).action(async (id: string, opts: ApiOptions & { body: string }) => {
    const answered = await must(
      clientFrom(opts).POST('/v1/feedback/{id}/answer', { params: { path: { id } }, body: { body: opts.body } }),
    );
    print(opts, answered, () => [`已答复反馈 ${answered.id}`]);
  });
  addAcknowledgeCommand(program);
}

/** `pds acknowledge`: an operator's statement on a risk report about it. */
function addAcknowledgeCommand(program: Command): void {
  apiCommand(
    program
      .command('acknowledge')
      .description('以一段说明确认关于本单位的风险评估报告（与报告一同封存）')
      .argument('<report>', '报告编号')
      .requiredOption('--statement <text>', '针对报告发现所做的处理或说明'),
  ).action(async (id: string, opts: ApiOptions & { statement: string }) => {
    const ack = await must(
      clientFrom(opts).POST('/v1/reports/{id}/acknowledgement', {
        params: { path: { id } },
        body: { statement: opts.statement },
      }),
    );
    print(opts, ack, () => [
      `已确认报告 ${ack.reportId}：${ack.by}（${ack.org}），${shanghaiTime(ack.at, { offset: true })}`,
    ]);
  });
}
