import { defineConfig } from 'vitest/config';

// Temporal's native worker misbehaves in worker threads, and time skipping is global to a test
// server: test files run in forked processes, one file at a time, each with its own environment.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/build-packages.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The default output, then the ten slowest files (scripts/vitest/slowest-files.ts).
    reporters: ['default', './scripts/vitest/slowest-files.ts'],
  },
});
