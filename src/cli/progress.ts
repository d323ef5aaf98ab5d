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
      stop: () => process.stderr.write(`${title} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`),
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
