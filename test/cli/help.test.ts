import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../src/cli/program.ts';

/**
 * Issue 33: `pds … --help` speaks Chinese. Every command of the built program, walked through
 * commander's `.commands`, has a description with Chinese text, and so has each option its help
 * lists (the help and version options included) and each argument; names and codes stay English.
 */

const CJK = /[\u3400-\u9fff]/;

function walk(cmd: Command, trail: string[] = []): { trail: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((sub) => {
    const at = [...trail, sub.name()];
    return [{ trail: at, cmd: sub }, ...walk(sub, at)];
  });
}

/** What `cmd --help` shows without Chinese: the command, its options, arguments and subcommands. */
export function englishHelp(cmd: Command, name: string): string[] {
  const help = cmd.createHelp();
  const problems: string[] = [];
  if (!CJK.test(cmd.description())) problems.push(`${name}: ${JSON.stringify(cmd.description())}`);
  for (const o of help.visibleOptions(cmd))
    if (!CJK.test(o.description)) problems.push(`${name} ${o.flags}: ${JSON.stringify(o.description)}`);
  // every argument, not only visibleArguments: commander lists none when none is described
  for (const a of cmd.registeredArguments)
    if (!CJK.test(a.description)) problems.push(`${name} <${a.name()}>: ${JSON.stringify(a.description)}`);
  for (const c of help.visibleCommands(cmd))
    if (!CJK.test(c.description())) problems.push(`${name} ${c.name()}: ${JSON.stringify(c.description())}`);
  return problems;
}

describe('pds --help', () => {
  const program = buildCli();
  const all = walk(program);

  it('walks every command', () => {
    expect(all.length).toBeGreaterThan(40);
    expect(all.map((c) => c.trail.join(' '))).toEqual(
      expect.arrayContaining(['demo', 'serve', 'audit verify', 'review decision', 'contract verify', 'keys check']),
    );
  });

  it('describes every command, option and argument in Chinese', () => {
    const problems = [
      ...englishHelp(program, 'pds'),
      ...all.flatMap(({ trail, cmd }) => englishHelp(cmd, `pds ${trail.join(' ')}`)),
    ];
    expect(problems).toEqual([]);
  });

  it('finds a command, an option and an argument described in English, or not at all', async () => {
    const { Command, Option } = await import('commander');
    const bad = new Command('pds').description('沙箱').helpOption('-h, --help', '显示帮助');
    bad.command('export').description('write the audit trail').argument('<file>', '文件');
    bad.command('check').description('检查').option('--json', 'print JSON').addOption(new Option('--quiet'));
    bad.command('verify').description('校验').argument('<file>');
    bad.command('bare');
    const problems = walk(bad).flatMap(({ trail, cmd }) => englishHelp(cmd, trail.join(' ')));
    expect(problems).toEqual([
      'export: "write the audit trail"',
      'check --json: "print JSON"',
      'check --quiet: ""',
      'verify <file>: ""',
      'bare: ""',
    ]);
  });
});
