import { Command } from 'commander';
import { commanderErrorZh, HELP_ZH } from './help-zh.ts';
import { addAuditCommands } from './commands/audit.ts';
import { addDataCommands } from './commands/data.ts';
import { addDemoCommands } from './commands/demo.ts';
import { addDestructionCommands } from './commands/destruction.ts';
import { addFeedbackCommands } from './commands/feedback.ts';
import { addKeyCommands } from './commands/keys.ts';
import { addOperatorCommands } from './commands/operator.ts';
import { addQueueCommands } from './commands/queues.ts';
import { addRegisterCommands } from './commands/register.ts';
import { addReportCommands } from './commands/reports.ts';
import { addReviewCommands } from './commands/reviews.ts';
import { addServeCommands } from './commands/serve.ts';
import { addSignInCommands } from './commands/sign-in.ts';
import { addSqlCommands } from './commands/sql.ts';
import { addStoreCommands } from './commands/store.ts';
import { addTemplateCommands } from './commands/templates.ts';
import { addVerifyCommands } from './commands/verify.ts';
import { addWorkerCommands } from './commands/workers.ts';

// Each command loads what it runs when it runs (`await import`): `pds --help`, or a command over the
// API, never loads DuckDB, fastify or BullMQ (docs/architecture.md §15).

/** One group of commands, in a file of its own under src/cli/commands/. */
export type CommandGroup = (program: Command) => void;

/** Every group, in the order `pds --help` lists them: a new group is one line here. */
const GROUPS: CommandGroup[] = [
  addDemoCommands, // demo
  addServeCommands, // serve, worker
  addDataCommands, // seed, ingest
  addSignInCommands, // token, login-link
  addAuditCommands, // audit verify|export
  addReportCommands, // report, verify-report
  addStoreCommands, // store check|repair
  addWorkerCommands, // workers add|list|rotate|revoke
  addOperatorCommands, // login, logout, whoami, catalog, apply, jobs, download
  addSqlCommands, // validate, preview, submit
  addReviewCommands, // review application|output|decision
  addQueueCommands, // reviews, thread, outputs
  addTemplateCommands, // templates, run-template
  addFeedbackCommands, // feedback file|list|answer, acknowledge
  addVerifyCommands, // verify-output, contract verify
  addKeyCommands, // keys rotate|check
  addRegisterCommands, // register export, verify-register
  addDestructionCommands, // verify-destruction
];

export function buildCli(): Command {
  // set before the groups: every subcommand inherits the Chinese help option and help command
  const program = new Command('pds')
    .description('公共数据授权运营隐私计算沙箱（pubdata-sandbox）')
    .version('0.1.0', '-V, --version', '显示版本号')
    .helpOption('-h, --help', '显示帮助')
    .helpCommand('help [command]', '显示某个命令的帮助')
    .configureHelp(HELP_ZH)
    .configureOutput({ outputError: (text, write) => write(commanderErrorZh(text)) })
    .showHelpAfterError('（运行 pds help 查看用法）');
  for (const add of GROUPS) add(program);
  return program;
}
