import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { common } from './vitest.config.mts';

// The test files that cover the files `npm run mutation` mutates (see scripts/mutation-areas.mjs): the
// engine's and the compensation stack's unit tests, the services' tests on SQLite, validation, the codec
// and its server, and the workflow tests listed at the end. Tests that run a workflow bundle its code
// into Temporal's workflow sandbox, out of reach of the switch that turns a mutant on; the mutation
// bridge (test/support/mutation-bridge.ts), on here unless SAGA_MUTATION_BRIDGE=0, carries the mutant
// in and the coverage out. Stryker's vitest runner runs the files one at a time in a worker thread,
// where the time-skipping test server and a Temporal worker have run without fault.
// The services load the barrier package from its compiled `dist`, which Stryker does not mutate: the
// alias points them at the sources it does. The saga package's wrapper runs in the workflow sandbox,
// whose bundles read its sources in the wrapper's runs (test/support/mutation-bridge.ts, below); the test process keeps
// its `dist`, so that the names and failure types the tests compare stay the released ones, and the
// wrapper's module-level code is reached inside a test, not at import (a static mutant runs every
// test). The sagas' bundle is built once per test runner (test/bundle-workflows.ts), from the sandbox's
// instrumented sources.
process.env.SAGA_MUTATION_BRIDGE ??= '1';

// The saga wrapper and child sagas are judged in runs of their own: `SAGA_MUTATION_SAGA_SOURCES=1 npx
// stryker run --mutate packages/saga/src/saga-handlers.ts` (about 1.5 min of tests more per initial run).
// Their workflow bundles then read the saga package's sources, engine included, which would make these
// tests cover every engine mutant in the other runs, CI's check among them.
const sagaWrapperTests = [
  'test/saga/workflow.test.ts',
  'test/saga/edges.test.ts',
  'test/saga/pivot.test.ts',
  'test/saga/tcc.test.ts',
  'test/saga/operator-updates.test.ts',
  'test/saga/operator-updates.together.test.ts',
  'test/saga/repair.test.ts',
  'test/saga/child.test.ts',
  'test/saga/child-commit.test.ts',
  'test/saga/child-ended.test.ts',
  'test/saga/child-deadline.defaults.test.ts',
  'packages/saga/test/saga-handlers.test.ts',
];

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
      'test/services/users.account-lifecycle.test.ts',
      'test/services/mail.outbox-and-bounces.test.ts',
      'test/validation/*.test.ts',
      'test/limits/input-bounds.test.ts',
      'test/codec/payload-codec.test.ts',
      'test/codec/config.test.ts',
      'test/codec/server-http.test.ts',
      'test/codec/server-pieces.test.ts',
      'test/codec/remote-codec.test.ts',
      'test/codec/worker-converter.refusal-marker.test.ts',
      'test/config/switches.test.ts',
      'test/operator/alert.test.ts',
      'test/operator/alert-hook.test.ts',
      // The CLI's operate commands, against a stand-in server in the test process (no Temporal server).
      'test/cli/operate.verify-resend-cancel.test.ts',
      'test/cli/operate.repair-one-saga.test.ts',
      'test/cli/operate.retry-by-query.test.ts',
      ...(process.env.SAGA_MUTATION_SAGA_SOURCES === '1' ? sagaWrapperTests : []),
    ],
  },
});
