// The workflow side of the mutation bridge (test/support/mutation-bridge.ts): workflow interceptors that
// the mutation run's test bundles include, never the product's. StrykerJS turns a mutant on through
// `globalThis.__stryker__.activeMutant`, and its instrumented code records the mutants it reached in
// `globalThis.__stryker__.mutantCoverage`; inside Temporal's workflow sandbox `globalThis` is the
// workflow's own, so the mutant comes in with the workflow's start and what the workflow reached goes
// out through a sink at the end of each activation.
//
// The mutant travels in the fairness key of the workflow's priority: of what a client sets at the start,
// it is the one field the sandbox can read before it evaluates the workflow modules (the memo and the
// headers come with the first activation, later), so module-level code (activity options, constants)
// sees the mutant too. The tests set no priority of their own, and a fairness key only orders tasks
// between keys of one task queue.
import { proxySinks, workflowInfo, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import type { Priority } from '@temporalio/common';

/** What precedes the active mutant's id in the fairness key. */
export const ACTIVE_MUTANT_KEY_PREFIX = 'stryker-mutant:';

/** The sink that carries the mutants a workflow reached back to the test process. */
export interface MutationSinks extends Sinks {
  mutation: {
    /** The ids of the mutants the workflow's code reached since its previous call. */
    covered(ids: string[]): void;
  };
}

/** The part of StrykerJS's global namespace the bridge reads and writes. */
interface StrykerNamespace {
  activeMutant?: string;
  mutantCoverage?: { static: Record<string, number>; perTest: Record<string, Record<string, number>> };
}

const { mutation } = proxySinks<MutationSinks>();

function strykerNamespace(): StrykerNamespace {
  const global = globalThis as { __stryker__?: StrykerNamespace };
  return (global.__stryker__ ??= {});
}

function activeMutantOf(priority: Priority | undefined): string | undefined {
  const key = priority?.fairnessKey;
  return key?.startsWith(ACTIVE_MUTANT_KEY_PREFIX) ? key.slice(ACTIVE_MUTANT_KEY_PREFIX.length) : undefined;
}

// Instrumented code keeps a reference to the coverage objects it first found, so they are emptied in
// place rather than replaced.
function takeCoverage(ns: StrykerNamespace): string[] {
  const coverage = ns.mutantCoverage;
  if (!coverage) return [];
  const ids = new Set<string>();
  for (const hits of [coverage.static, ...Object.values(coverage.perTest)]) {
    for (const id of Object.keys(hits)) {
      ids.add(id);
      delete hits[id];
    }
  }
  return [...ids];
}

// Called once per workflow, before its modules are evaluated. Each workflow has its own globals (with
// or without a reused V8 context), so the mutant set here stays that workflow's for its whole life.
export const interceptors: WorkflowInterceptorsFactory = () => {
  const { priority } = workflowInfo();
  const activeMutant = activeMutantOf(priority);
  strykerNamespace().activeMutant = activeMutant;
  return {
    internals: [
      {
        concludeActivation(input, next) {
          const ids = takeCoverage(strykerNamespace());
          if (ids.length > 0) mutation.covered(ids);
          return next(input);
        },
      },
    ],
    outbound: [
      {
        startChildWorkflowExecution: (input, next) =>
          next(activeMutant === undefined ? input : { ...input, options: { ...input.options, priority: { ...input.options.priority, fairnessKey: `${ACTIVE_MUTANT_KEY_PREFIX}${activeMutant}` } } }),
      },
    ],
  };
};
