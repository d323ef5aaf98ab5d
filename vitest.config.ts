import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // the 2-core reference machine: runner processes and DuckDB threads compete with test workers
    maxWorkers: 2,
  },
});
