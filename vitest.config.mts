import { configDefaults, defineConfig, type TestUserConfig } from 'vitest/config';

/**
 * The test files that start no Temporal server, no worker and nothing on a fixed port: the saga engine
 * and its simulation, the barrier and the services (SQLite, and PostgreSQL in a throwaway cluster on a
 * free port), input validation, the client's command line and rendering, configuration. `npm run
 * test:quick` runs these alone (vitest.quick.config.mts).
 */
export const pureFiles = [
  'packages/saga/test/**/*.test.ts',
  'test/simulation/engine.simulation.test.ts',
  'test/barrier/ordering.test.ts',
  'test/barrier/tcc.test.ts',
  'test/services/*.test.ts',
  'test/activities/idempotency-keys.test.ts',
  'test/limits/input-bounds.test.ts',
  'test/validation/*.test.ts',
  'test/cli/connection-flags.test.ts',
  'test/cli/operate.*.test.ts',
  'test/config/*.test.ts',
  'test/codec/config.test.ts',
  'test/codec/payload-codec.test.ts',
  'test/compose/config.test.ts',
  'test/install/allow-scripts.test.ts',
  'test/ci/*.test.ts',
  'test/observability/barrier-outcomes.test.ts',
  'test/chaos/trip-outcomes.test.ts',
  'test/reconciler/plans.test.ts',
  'test/reconciler/status-rendering.test.ts',
  'test/reconciler/start-timeouts.test.ts',
  'test/reconciler/later-run.test.ts',
  'test/outbox/outbox.test.ts',
];

/**
 * Further files that start nothing on a fixed port, run with the pure files in `npm test` but left out
 * of the quick tier (the lint rules' tests build the TypeScript program: seconds each).
 */
const otherPureFiles = [
  'test/lint/*.test.ts',
  'test/docs/readme-figures.test.ts',
  'test/docs/doc-blocks.test.ts',
  'test/deploy/workflow-behaviours.test.ts',
  'test/deploy/retirement-watch.test.ts',
  'test/deploy/command.test.ts',
  'test/release/patched-branches.test.ts',
  'test/package/barrier-adapters.test.ts',
];

/** What every group of test files shares. */
export const common: TestUserConfig = {
  setupFiles: ['test/setup.ts'],
  // Temporal's native worker misbehaves in worker threads: each file runs in a forked process.
  pool: 'forks',
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

const everyFile = ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'];

// Two groups, run one after the other (`sequence.groupOrder`): first the pure files, two at a time, then
// the files that start Temporal servers, workers and spawned processes, one at a time, each with its own
// environment (time skipping is global to a test server, and some files take fixed ports). Every file
// belongs to exactly one group, so `npm test` runs each once.
export default defineConfig({
  test: {
    // Once per run, whichever files run (test/build-packages.ts).
    globalSetup: ['test/build-packages.ts'],
    // The default output, then the ten slowest files (scripts/vitest/slowest-files.ts).
    reporters: ['default', './scripts/vitest/slowest-files.ts'],
    projects: [
      {
        test: {
          ...common,
          name: 'pure',
          include: [...pureFiles, ...otherPureFiles],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...common,
          name: 'temporal',
          include: everyFile,
          exclude: [...configDefaults.exclude, ...pureFiles, ...otherPureFiles],
          // The sagas' workflow bundle, built once for the run (test/bundle-workflows.ts); only when a
          // file of this group runs.
          globalSetup: ['test/bundle-workflows.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
