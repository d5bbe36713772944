// The mutation bridge: lets StrykerJS judge workflow code by the tests that run it in Temporal's
// workflow sandbox. vitest.mutation.config.mts turns it on (SAGA_MUTATION_BRIDGE=1); in every other run
// each function here returns nothing to add, so the tests' bundles, clients and workers are the plain
// ones. With it on:
// - the test bundles include the workflow interceptors of test/support/mutation-bridge-workflow.ts;
// - the test environments' clients put the mutant StrykerJS turned on in the test process into every
//   workflow they start (as the fairness key of its priority; the interceptors turn it on inside the
//   workflow before its code runs, and pass it on to its child workflows);
// - the test workers take the sink through which the workflows report the mutants their code reached,
//   counted for the test running at that moment, as the instrumented code in the test process does.
import { resolve } from 'node:path';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { Priority } from '@temporalio/common';
import type { BundleOptions, InjectedSinks } from '@temporalio/worker';
import { ACTIVE_MUTANT_KEY_PREFIX, type MutationSinks } from './mutation-bridge-workflow';

/** Whether this test run is the mutation run's (vitest.mutation.config.mts). */
export function mutationBridgeOn(): boolean {
  return process.env.SAGA_MUTATION_BRIDGE === '1';
}

/**
 * The saga package's entry points the workflows import, each with the source file it is built from. The
 * package's `exports` point at its compiled `dist`, which StrykerJS does not mutate: in the mutation run
 * the bundler reads the sources instead (StrykerJS's instrumented copies, in its sandbox).
 */
export const SAGA_PACKAGE_SOURCES = { '@saga-temporal/saga': 'index.ts', '@saga-temporal/saga/core': 'core.ts', '@saga-temporal/saga/client': 'client.ts', '@saga-temporal/saga/testing': 'testing.ts' } as const;

/** Webpack aliases (exact matches) from each entry point of the saga package to its source file under `packagesDir`. */
export function sagaPackageSourceAliases(packagesDir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(SAGA_PACKAGE_SOURCES).map(([name, file]) => [`${name}$`, resolve(packagesDir, 'saga', 'src', file)]));
}

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/**
 * `bundleWorkflowCode` options: in the mutation run, the bridge's workflow interceptors and the saga
 * package read from its sources; nothing otherwise.
 */
export function mutationBundleOptions(): Pick<BundleOptions, 'workflowInterceptorModules' | 'webpackConfigHook'> {
  if (!mutationBridgeOn()) return {};
  const interceptors = { workflowInterceptorModules: [resolve(__dirname, 'mutation-bridge-workflow.ts')] };
  if (!sagaSourcesOn()) return interceptors;
  const aliases = sagaPackageSourceAliases(resolve(__dirname, '..', '..', 'packages'));
  return {
    ...interceptors,
    webpackConfigHook: (config: WebpackConfig) => ({ ...config, resolve: { ...config.resolve, alias: { ...config.resolve?.alias, ...aliases } } }),
  };
}

/**
 * Whether the bundles read the saga package from its sources: only in the runs over the saga wrapper
 * (`SAGA_MUTATION_SAGA_SOURCES=1`, vitest.mutation.config.mts). In every other run the engine's and the
 * stack's mutants stay out of the workflow bundles, so the workflow tests of those runs do not become
 * covering tests of every engine mutant, each of which would then run them.
 */
export function sagaSourcesOn(): boolean {
  return mutationBridgeOn() && process.env.SAGA_MUTATION_SAGA_SOURCES === '1';
}

/** Client options for a test environment: the interceptor that carries the active mutant, in the mutation run. */
export function mutationClientOptions(): { interceptors?: { workflow: WorkflowClientInterceptor[] } } {
  return mutationBridgeOn() ? { interceptors: { workflow: [carryActiveMutant] } } : {};
}

/** `Worker.create` options: the sink of the mutants the workflows reached, in the mutation run. */
export function mutationWorkerOptions(): { sinks?: InjectedSinks<MutationSinks> } {
  return mutationBridgeOn() ? { sinks: { mutation: { covered: { fn: (_info, ids) => recordCoverage(ids), callDuringReplay: true } } } } : {};
}

/** The part of StrykerJS's global namespace the bridge reads and writes in the test process. */
interface StrykerNamespace {
  activeMutant?: string;
  currentTestId?: string;
  mutantCoverage?: { static: Record<string, number>; perTest: Record<string, Record<string, number>> };
}

function strykerNamespace(): StrykerNamespace | undefined {
  return (globalThis as { __stryker__?: StrykerNamespace }).__stryker__;
}

function withActiveMutant<T extends { priority?: Priority }>(options: T): T {
  const id = strykerNamespace()?.activeMutant;
  return id === undefined ? options : { ...options, priority: { ...options.priority, fairnessKey: `${ACTIVE_MUTANT_KEY_PREFIX}${id}` } };
}

const carryActiveMutant: WorkflowClientInterceptor = {
  startWithDetails: (input, next) => next({ ...input, options: withActiveMutant(input.options) }),
  signalWithStart: (input, next) => next({ ...input, options: withActiveMutant(input.options) }),
  startUpdateWithStart: (input, next) => next({ ...input, workflowStartOptions: withActiveMutant(input.workflowStartOptions) }),
};

// Written the way the instrumented code writes it: into the running test's entry, or the static one
// between tests, and into the objects that are there (the instrumented modules hold on to them).
function recordCoverage(ids: string[]): void {
  const ns = strykerNamespace();
  if (!ns) return;
  const coverage = (ns.mutantCoverage ??= { static: {}, perTest: {} });
  const hits = ns.currentTestId === undefined ? coverage.static : (coverage.perTest[ns.currentTestId] ??= {});
  for (const id of ids) hits[id] = (hits[id] ?? 0) + 1;
}
