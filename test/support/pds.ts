import path from 'node:path';
import { afterAll, beforeAll, vi } from 'vitest';
import { buildCli } from '../../src/cli/program.ts';
import { buildWorld, type TestWorld } from '../helpers.ts';

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

/**
 * A test world served over real HTTP for CLI tests, with the CLI's own profile directory inside
 * it and no server or token from the environment (restored afterwards). Register in a describe block.
 */
export function cliWorld(rows = 3000): { world: TestWorld; server: string; configDir: string } {
  const w = {} as { world: TestWorld; server: string; configDir: string };
  const keys = ['PDS_CONFIG_DIR', 'PDS_SERVER', 'PDS_TOKEN'] as const;
  const saved = keys.map((k) => [k, process.env[k]] as const);
  beforeAll(async () => {
    w.world = await buildWorld({ rows });
    await w.world.server.listen({ port: 0, host: '127.0.0.1' });
    const address = w.world.server.server.address();
    w.server = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    w.configDir = path.join(w.world.dataDir, 'cli-config');
    process.env.PDS_CONFIG_DIR = w.configDir;
    delete process.env.PDS_SERVER;
    delete process.env.PDS_TOKEN;
  }, 60_000);
  afterAll(async () => {
    for (const [k, v] of saved)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    await w.world.close();
  });
  return w;
}
