import { PdsError } from '../errors/index.ts';
import { buildCli } from './program.ts';
import { errorLines } from './shared.ts';

export { buildCli } from './program.ts';

export async function main(argv: string[]): Promise<void> {
  // `pds … | head` closes the pipe early: that is the reader's choice, not a failure
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    for (const line of errorLines(err)) console.error(line);
    process.exitCode = err instanceof PdsError && err.code === 'ERR_CONFIG' ? 78 : 1;
  }
}

await main(process.argv);
