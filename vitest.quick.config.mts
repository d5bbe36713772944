import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

// `npm run test:quick`: the pure tier, for the inner loop. No Temporal server, no workflow bundle, no
// PostgreSQL: the saga engine and its simulation, the barrier and the services on SQLite, input
// validation, the client's command line and rendering, and configuration. Under 90 seconds on two
// cores; `npm test` still runs everything, these files included.
// The services' PostgreSQL half is skipped here as in the mutation run (vitest.mutation.config.mts).
process.env.SKIP_POSTGRES = '1';
process.env.PG_BIN = 'none';
delete process.env.TEST_DATABASE_URL;

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // test/setup.ts quiets the Temporal workers' logs; no file here starts one, and loading the native
    // runtime costs about a second a file.
    setupFiles: [],
    // One process for all these files rather than one per file: they share no server and leave no state
    // behind (each opens its own SQLite database), and the imports are paid once, not 31 times: about
    // 35 s instead of 90 on a loaded machine. `npm test` keeps every file isolated.
    isolate: false,
    include: [
      'packages/saga/test/**/*.test.ts',
      'test/simulation/engine.simulation.test.ts',
      'test/barrier/ordering.test.ts',
      'test/barrier/tcc.test.ts',
      'test/services/*.test.ts',
      'test/activities/idempotency-keys.test.ts',
      'test/limits/input-bounds.test.ts',
      'test/validation/*.test.ts',
      'test/cli/connection-flags.test.ts',
      'test/config/*.test.ts',
      'test/codec/config.test.ts',
      'test/codec/payload-codec.test.ts',
      'test/compose/config.test.ts',
      'test/install/allow-scripts.test.ts',
      'test/ci/*.test.ts',
      'test/observability/barrier-outcomes.test.ts',
      'test/chaos/trip-outcomes.test.ts',
    ],
  },
});
