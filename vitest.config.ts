import os from 'node:os';
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

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000 * slowdown,
    hookTimeout: 60_000 * slowdown,
    // the 2-core reference machine: runner processes and DuckDB threads compete with test workers
    maxWorkers: 2,
  },
});
