import cliProgress from 'cli-progress';

export interface StepProgress {
  /** Marks step `index` (0-based) of `total` as started. */
  step(name: string, index: number, total: number): void;
  stop(): void;
}

/**
 * A progress bar over named steps on stderr (so `--json` output on stdout stays clean). Without
 * a terminal (CI, pipes) it prints one line per step instead of redrawing.
 */
export function stepProgress(title: string, quiet = false): StepProgress {
  if (quiet) return { step: () => undefined, stop: () => undefined };
  const started = performance.now();
  if (!process.stderr.isTTY) {
    return {
      step: (name, index, total) =>
        process.stderr.write(
          `${title} [${index + 1}/${total}] ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
        ),
      stop: () => process.stderr.write(`${title} 完成，用时 ${((performance.now() - started) / 1000).toFixed(1)} 秒\n`),
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {value}/{total} {name} | {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let begun = false;
  return {
    step(name, index, total) {
      if (!begun) {
        bar.start(total, index, { name });
        begun = true;
      } else bar.update(index, { name });
    },
    stop() {
      if (begun) {
        bar.update(bar.getTotal(), { name: 'done' });
        bar.stop();
      }
    },
  };
}

export interface ShareProgress {
  /** `done` of the whole (0 … 1), and what is under way. */
  update(done: number, what: string): void;
  stop(): void;
}

/**
 * A percentage bar on stderr for work that reports its share done (a snapshot build). Without a
 * terminal it prints a line each time `what` changes instead of redrawing.
 */
export function shareProgress(title: string, quiet = false): ShareProgress {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (!process.stderr.isTTY) {
    let last = '';
    return {
      update: (done, what) => {
        if (what !== last) process.stderr.write(`${title} ${Math.round(done * 100)}% ${(last = what)}\n`);
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% {what} | {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(100, 0, { what: '' });
  return {
    update: (done, what) => bar.update(Math.round(done * 100), { what }),
    stop: () => bar.stop(),
  };
}
