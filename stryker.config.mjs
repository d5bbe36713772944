// Mutation testing of the code where a wrong line costs money: the saga engine, the compensation
// stack, the idempotency barrier and the payments and stock paths. Run before a release and on any
// change to these files (`npm run mutation`); not part of `npm test`. Scores and every surviving
// mutant are explained in docs/reliability.md.

// Mutants are judged on SQLite only: the services' SQL is the same on PostgreSQL, and starting a
// PostgreSQL cluster for every test run would multiply the run time. A PG_BIN without the server
// binaries makes test/postgres.ts find none, and SKIP_POSTGRES lets it skip its PostgreSQL half.
delete process.env.TEST_DATABASE_URL;
process.env.PG_BIN = 'none';
process.env.SKIP_POSTGRES = '1';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.mts', related: false },
  mutate: ['packages/saga/src/engine.ts', 'packages/saga/src/compensation-stack.ts', 'packages/barrier/src/barrier.ts', 'src/services/payments.ts', 'src/services/inventory.ts'],
  // Each mutant runs only the tests that reached it.
  coverageAnalysis: 'perTest',
  // Two cores: one sandbox at a time keeps the machine usable and the timings stable.
  concurrency: 1,
  timeoutMS: 20_000,
  ignorePatterns: ['.temporal', '.data', '.artifacts', 'dist', 'coverage', 'reports', 'test/histories', 'docs', 'deploy', 'bench'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // A run below 90 % over the five files fails here; scripts/mutation-scores.mjs then holds each file
  // to its own floor (90 % for the engine, the stack and the barrier).
  thresholds: { high: 95, low: 90, break: 90 },
};
