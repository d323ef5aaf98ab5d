import { vi } from 'vitest';
import { buildCli } from '../../src/cli/program.ts';

/** Runs one pds command in this process; answers what it printed and its exit code. */
export async function runPds(...args: string[]): Promise<{ out: string; code: number }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildCli()
      .exitOverride()
      .parseAsync(['node', 'pds', ...args]);
    return { out: lines.join('\n'), code: Number(process.exitCode ?? 0) };
  } finally {
    log.mockRestore();
    process.exitCode = before;
  }
}
