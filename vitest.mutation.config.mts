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
// alias points them at the sources it does. The sagas' bundle is built once per test runner
// (test/bundle-workflows.ts), from the sandbox's instrumented sources.
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
    ],
  },
});
