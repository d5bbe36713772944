import { defineConfig } from 'vitest/config';
import { common, pureFiles } from './vitest.config.mts';

// `npm run test:quick`: the pure tier, for the inner loop. No Temporal server, no workflow bundle, no
// PostgreSQL: the saga engine and its simulation, the barrier and the services on SQLite, input
// validation, the client's command line and rendering, and configuration. Under 90 seconds on two
// cores; `npm test` still runs everything, these files included (its `pure` group).
// The services' PostgreSQL half is skipped here as in the mutation run (vitest.mutation.config.mts).
process.env.SKIP_POSTGRES = '1';
process.env.PG_BIN = 'none';
delete process.env.TEST_DATABASE_URL;

export default defineConfig({
  test: {
    ...common,
    globalSetup: ['test/build-packages.ts'],
    reporters: ['default', './scripts/vitest/slowest-files.ts'],
    // test/setup.ts quiets the Temporal workers' logs; no file here starts one, and loading the native
    // runtime costs about a second a file.
    setupFiles: [],
    fileParallelism: false,
    // One process for all these files rather than one per file: they share no server and leave no state
    // behind (each opens its own SQLite database), and the imports are paid once, not 31 times: about
    // 35 s instead of 90 on a loaded machine. `npm test` keeps every file isolated.
    isolate: false,
    include: pureFiles,
  },
});
