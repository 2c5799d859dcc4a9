import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration suites share one Postgres and one MariaDB; each test uses its own
    // tables, but running files one at a time keeps the 2-core machine predictable.
    fileParallelism: false,
  },
});
