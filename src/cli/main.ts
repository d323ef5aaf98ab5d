import { isPdsError, PdsError } from '../errors/index.ts';
import { buildCli } from './program.ts';

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
    if (isPdsError(err)) {
      console.error(`pds: ${err.code}: ${err.detail}`);
    } else {
      console.error(`pds: ${(err as Error).message}`);
    }
    process.exitCode = err instanceof PdsError && err.code === 'ERR_CONFIG' ? 78 : 1;
  }
}

await main(process.argv);
