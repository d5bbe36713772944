// Lint rules that protect what the type checker cannot: promises that nobody awaits, and workflow
// code that would break determinism (Node built-ins, or activity implementations pulled into the
// workflow sandbox instead of `import type`). The sandbox rule covers every file that is bundled into
// workflows: each saga's workflow and contract, `src/shared/`, the bundle entry and the engine.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import testsPlugin from './scripts/lint/no-imported-limits.mjs';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'packages/*/dist/', '.temporal/', '.data/', '.artifacts/', 'coverage/', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: [
      'src/workflows.ts',
      'src/*/workflow.ts',
      'src/*/contract.ts',
      'src/reconciler/plans.ts',
      'src/shared/**/*.ts',
      'packages/saga/src/**/*.ts',
      'bench/workflows.ts',
      'test/fixtures/*-workflows.ts',
      'scripts/lib/chaos/trip-workflows.ts',
      'scripts/lib/chaos/trip-contract.ts',
    ],
    // The engine package's Node-side entries (`/client`, `/testing`) are never bundled into workflows.
    ignores: ['packages/saga/src/client.ts', 'packages/saga/src/testing.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code runs in a deterministic sandbox: no Node built-ins.' })),
          patterns: [
            {
              group: ['**/activities', '**/activities/**', '**/services', '**/services/**'],
              allowTypeImports: true,
              message: 'Workflows may import activities and services only as types (import type).',
            },
            {
              group: ['@temporalio/worker', '@temporalio/client', '@temporalio/activity', '@temporalio/testing'],
              message: 'Workflow code may use only @temporalio/workflow and @temporalio/common.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'No process access inside workflow code.' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow: timers must be durable.' },
        { name: 'setInterval', message: 'Use sleep() from @temporalio/workflow: timers must be durable.' },
      ],
    },
  },
  // A test writes the limits and defaults it checks, at their production values: it never imports them
  // (scripts/lint/no-imported-limits.mjs). The few upper-case exports that promise no number are allowed,
  // each with the reason.
  {
    files: ['test/**/*.ts', 'packages/*/test/**/*.ts'],
    plugins: { tests: testsPlugin },
    rules: {
      'tests/no-imported-limits': [
        'error',
        {
          allow: {
            DEVELOPMENT_ID_SECRET: 'a public placeholder secret, not a limit: tests check that development uses it and production refuses it, whatever its text',
            CONNECTION_FLAGS: 'the table of flag and variable names the client reads: the compose test uses it to list what the sources read, it checks no value of it',
          },
        },
      ],
    },
  },
);
