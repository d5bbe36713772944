// The workflow side of the mutation bridge (test/support/mutation-bridge.ts): workflow interceptors that
// the mutation run's test bundles include, never the product's. StrykerJS turns a mutant on through
// `globalThis.__stryker__.activeMutant`, and its instrumented code records the mutants it reached in
// `globalThis.__stryker__.mutantCoverage`; inside Temporal's workflow sandbox `globalThis` is the
// workflow's own, so the mutant comes in through the memo the test process's client added at the start,
// and what the workflow reached goes out through a sink at the end of each activation.
import { proxySinks, workflowInfo, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** The memo field that carries the active mutant's id from the test process into the workflow. */
export const ACTIVE_MUTANT_MEMO = 'strykerActiveMutant';

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

function activeMutantOf(memo: Record<string, unknown> | undefined): string | undefined {
  const id = memo?.[ACTIVE_MUTANT_MEMO];
  return typeof id === 'string' ? id : undefined;
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

export const interceptors: WorkflowInterceptorsFactory = () => {
  // The memo is known from the first activation on (it is decoded with the workflow's initialization,
  // after this factory runs), so module-level code, evaluated before it, always sees no mutant.
  const activeMutant = (): string | undefined => activeMutantOf(workflowInfo().memo);
  const carryMutant = <T extends { memo?: Record<string, unknown> }>(options: T): T => {
    const id = activeMutant();
    return id === undefined ? options : { ...options, memo: { ...options.memo, [ACTIVE_MUTANT_MEMO]: id } };
  };
  return {
    internals: [
      {
        activate(input, next) {
          strykerNamespace().activeMutant = activeMutant();
          return next(input);
        },
        concludeActivation(input, next) {
          const ids = takeCoverage(strykerNamespace());
          if (ids.length > 0) mutation.covered(ids);
          return next(input);
        },
      },
    ],
    outbound: [
      {
        startChildWorkflowExecution: (input, next) => next({ ...input, options: carryMutant(input.options) }),
        continueAsNew: (input, next) => next({ ...input, options: carryMutant(input.options) }),
      },
    ],
  };
};
