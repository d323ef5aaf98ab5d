/**
 * Operators' feedback to providers, providers' answers, and operators' acknowledgements of risk
 * reports, over the API (seed 002 第二十二条, 第三十四条(四)).
 */
import { Option, type Command } from 'commander';
import { must } from '../client/index.ts';
import { FEEDBACK_KIND, shanghaiDate, shanghaiTime, term } from '../terms/index.ts';
import { apiCommand, clientFrom, print, type ApiOptions } from './api.ts';
import { table } from './table.ts';

/** Feedback to providers and acknowledgements of reports, over the API. */
export function addFeedbackCommands(program: Command): void {
  const feedback = program.command('feedback').description("operators' feedback to providers, and their answers");
  apiCommand(
    feedback
      .command('file')
      .description('feedback on a dataset one of your contracts grants: its quality, or your use of it')
      .argument('<dataset>', 'the dataset, e.g. population')
      .requiredOption('--contract <id>', 'the contract under which you used it')
      .addOption(new Option('--kind <kind>', 'what about').choices(['data-quality', 'usage']).default('data-quality'))
      .requiredOption('--subject <text>', 'one line')
      .requiredOption('--body <text>', 'what you found'),
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
      .description("a provider's inbox, an operator's own feedback, everything for staff")
      .option('--open', 'only feedback not answered yet'),
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
      .description("the dataset's provider answers a piece of feedback, once")
      .argument('<id>', 'the feedback id')
      .requiredOption('--body <text>', 'the answer'),
  ).action(async (id: string, opts: ApiOptions & { body: string }) => {
    const answered = await must(
      clientFrom(opts).POST('/v1/feedback/{id}/answer', { params: { path: { id } }, body: { body: opts.body } }),
    );
    print(opts, answered, () => [`已答复反馈 ${answered.id}`]);
  });

  apiCommand(
    program
      .command('acknowledge')
      .description('acknowledge a risk report about your organisation with a statement (sealed with the report)')
      .argument('<report>', 'the report id')
      .requiredOption('--statement <text>', 'what you did, or say, about its findings'),
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
