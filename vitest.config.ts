import os from 'node:os';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * One knob for a slow or busy machine: PDS_TEST_SLOWDOWN=3 gives every test, hook and wait three
 * times its usual time (the tests wait on events and states; deadlines only bound a hang). The
 * machine's own load when the suite starts raises it too (another suite or a stress run on the
 * same cores: load 2 on 2 cores doubles every deadline), and the result is handed to the test
 * processes through the same variable, so helpers and the config agree.
 */
const asked = Math.max(1, Number(process.env.PDS_TEST_SLOWDOWN ?? 1) || 1);
const busy = 1 + os.loadavg()[0]! / os.availableParallelism();
const slowdown = Math.round(Math.max(asked, busy) * 10) / 10;
process.env.PDS_TEST_SLOWDOWN = String(slowdown);

/**
 * The longest files, longest first: on a fresh clone vitest has no timings and orders by file size,
 * which started the red-team suite (small file, 756 tests, ~100 s) last and left one core idle
 * for its whole run. Measured by `.ci/run` (docs/architecture.md §14); the rest follow as vitest
 * orders them.
 */
const LONGEST = [
  'test/console/console.test.ts',
  'test/cli/cli.test.ts',
  'test/redteam/redteam.test.ts',
  'test/jobs/bullmq.test.ts',
  'test/disclosure/samplers.test.ts',
  'test/contracts/dummy.test.ts',
  'test/jobs/validate.test.ts',
  'test/privacy/attacks.test.ts',
  'test/jobs/jobs.test.ts',
  'test/jobs/submission.test.ts',
  'test/contracts/lifecycle.test.ts',
  'test/platform/crash.test.ts',
  'test/reports/reports.test.ts',
  'test/domain/synthetic.test.ts',
  'test/worker/forged.test.ts',
];

/** Files that replace a module for themselves: they get a fresh module graph. */
const ISOLATED = ['test/redteam/release-path.test.ts'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST.indexOf(
        path
          .relative(import.meta.dirname, f.moduleId)
          .split(path.sep)
          .join('/'),
      );
      return i < 0 ? LONGEST.length : i;
    };
    return (await super.sort(files))
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map((x) => x.f);
  }
}

export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['test/setup/requirements.ts'],
    sequence: { sequencer: LongestFirst },
    // each worker keeps its modules from file to file (importing the sources and their packages
    // again for every file cost about 2 s a file); a file that replaces a module for itself
    // (vi.mock) runs isolated
    projects: [
      {
        extends: true,
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false },
      },
      { extends: true, test: { name: 'isolated', include: ISOLATED, isolate: true } },
    ],
    testTimeout: 60_000 * slowdown,
    hookTimeout: 60_000 * slowdown,
    // the 2-core reference machine: runner processes and DuckDB threads compete with test workers
    maxWorkers: 2,
  },
});
