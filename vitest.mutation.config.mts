import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

// The test files that cover the files `npm run mutation` mutates (see stryker.config.mjs): the engine's
// and the compensation stack's pure unit tests and the services' tests on SQLite. Tests that need a
// Temporal server bundle workflow code into its sandbox, where the mutants' instrumentation cannot run.
// Spread, not `mergeConfig`: merging would append this list to the base one instead of replacing it.
// The services load the barrier package from its compiled `dist`, which Stryker does not mutate: the
// alias points them at the sources it does.
export default defineConfig({
  ...base,
  resolve: { alias: { '@saga-temporal/barrier': fileURLToPath(new URL('./packages/barrier/src/index.ts', import.meta.url)) } },
  test: {
    ...base.test,
    include: [
      'packages/saga/test/engine.test.ts',
      'packages/saga/test/unwind-order.test.ts',
      'packages/saga/test/engine.state-records.test.ts',
      'test/barrier.ordering.test.ts',
      'test/services/business-outcomes.test.ts',
      'test/services/idempotent-steps.test.ts',
      'test/services/fault-injection.test.ts',
      'test/services/stock-limits.test.ts',
    ],
  },
});
