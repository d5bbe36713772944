// Mutation testing over the areas in scripts/mutation-areas.mjs: the saga engine and the compensation
// stack, the barrier, payments and stock, the saga wrapper and child sagas, the workflows, validation,
// the users and mail services, the codec and its server, and the CLI's operate commands. Incremental:
// the results of the last run are committed (test/mutation/incremental.json), and a run tests again
// only the mutants whose code or covering tests changed since. `npm run mutation`; CI runs
// `npm run mutation:ci` (scripts/mutation-ci.mjs) over the files whose results are committed.
// Scores and every surviving mutant are explained in docs/reliability.md.

import { resolve } from 'node:path';
import { areas } from './scripts/mutation-areas.mjs';

// Mutants are judged on SQLite only: the services' SQL is the same on PostgreSQL, and starting a
// PostgreSQL cluster for every test run would multiply the run time. A PG_BIN without the server
// binaries makes test/postgres.ts find none, and SKIP_POSTGRES lets it skip its PostgreSQL half.
delete process.env.TEST_DATABASE_URL;
// The Temporal servers stay in the project's .temporal, which the sandbox copy leaves out.
process.env.TEMPORAL_TEST_SERVER_PATH ??= resolve('.temporal/test-server/temporal-test-server');
process.env.TEMPORAL_CLI_PATH ??= resolve('.temporal/cli/temporal');
process.env.PG_BIN = 'none';
process.env.SKIP_POSTGRES = '1';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.mts', related: false },
  mutate: areas.flatMap((area) => area.files),
  // A run starts from the committed results and tests only what changed since (`--incremental`).
  incremental: true,
  incrementalFile: 'test/mutation/incremental.json',
  // Each mutant runs only the tests that reached it.
  coverageAnalysis: 'perTest',
  // Two cores: one sandbox at a time keeps the machine usable and the timings stable.
  concurrency: 1,
  timeoutMS: 20_000,
  ignorePatterns: ['.temporal', '.data', '.artifacts', 'dist', 'coverage', 'reports', 'test/histories', 'docs', 'deploy', 'bench'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // A run below 90 % over everything it mutated fails here; scripts/mutation-scores.mjs then holds each
  // area to its own floor (90 % each).
  thresholds: { high: 95, low: 90, break: 90 },
};
