import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { common } from './vitest.config.mts';

// The test files that cover the files `npm run mutation` mutates (see scripts/mutation-areas.mjs) and
// run without a Temporal worker: the engine's and the compensation stack's unit tests, the services'
// tests on SQLite, validation, the codec and its server. Stryker's vitest runner runs them in worker
// threads, where Temporal's native worker misbehaves, and tests that run a workflow bundle its code
// into the workflow sandbox, out of reach of the switch that turns a mutant on: the workflow-side areas
// (workflows, saga wrapper) are judged here only through the code the test process loads itself.
// The services load the barrier package from its compiled `dist`, which Stryker does not mutate: the
// alias points them at the sources it does.
process.env.SAGA_MUTATION_BRIDGE ??= '1';

export default defineConfig({
  resolve: { alias: { '@saga-temporal/barrier': fileURLToPath(new URL('./packages/barrier/src/index.ts', import.meta.url)) } },
  test: {
    ...common,
    globalSetup: ['test/build-packages.ts', 'test/bundle-workflows.ts'],
    reporters: ['default', './scripts/vitest/slowest-files.ts'],
    fileParallelism: false,
    include: [
      'packages/saga/test/engine.test.ts',
      'packages/saga/test/unwind-order.test.ts',
      'packages/saga/test/engine.state-records.test.ts',
      'test/barrier/ordering.test.ts',
      'test/services/business-outcomes.test.ts',
      'test/services/idempotent-steps.test.ts',
      'test/services/fault-injection.test.ts',
      'test/services/stock-limits.test.ts',
      'test/services/users.verification-limits.test.ts',
      'test/services/mailbox-of.test.ts',
      'test/validation/*.test.ts',
      'test/limits/input-bounds.test.ts',
      'test/codec/payload-codec.test.ts',
      'test/codec/config.test.ts',
      'test/codec/server-http.test.ts',
      'test/operator/alert.test.ts',
    ],
  },
});
