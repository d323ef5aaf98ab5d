/**
 * Operators' feedback to providers, providers' answers, and operators' acknowledgements of risk
 * reports, over the API (seed 002 第二十二条, 第三十四条(四)).
 */
import { Option, type Command } from 'commander';
import { must } from '../client/index.ts';
import { apiCommand, clientFrom, print, type ApiOptions } from './api.ts';

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
      print(opts, filed, () => [`${filed.id}: to ${filed.provider}, answer due ${filed.dueAt}`]);
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
      all.length
        ? all.map(
            (f) =>
              `${f.id}  ${f.dataset.padEnd(16)} ${f.kind.padEnd(12)} ${f.answer ? 'answered' : f.overdue ? 'OVERDUE' : `due ${f.dueAt.slice(0, 10)}`}  ${f.subject}`,
          )
        : ['no feedback'],
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
    print(opts, answered, () => [`${answered.id}: answered`]);
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
    print(opts, ack, () => [`report ${ack.reportId} acknowledged by ${ack.by} (${ack.org}) at ${ack.at}`]);
  });
}
