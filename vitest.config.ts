import { defineConfig } from 'vitest/config';

/**
 * One knob for a slow or busy machine: PDS_TEST_SLOWDOWN=3 gives every test, hook and wait three
 * times its usual time (the tests wait on events and states; deadlines only bound a hang).
 */
const slowdown = Math.max(1, Number(process.env.PDS_TEST_SLOWDOWN ?? 1) || 1);

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
