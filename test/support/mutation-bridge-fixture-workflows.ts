// Test workflows for test/mutation/bridge.test.ts: they report the mutant they see, from module-level
// code and at run time, in themselves and in a child, and record coverage the way StrykerJS's
// instrumented code does.
import { executeChild, workflowInfo } from '@temporalio/workflow';

interface StrykerNamespace {
  activeMutant?: string;
  mutantCoverage?: { static: Record<string, number>; perTest: Record<string, Record<string, number>> };
}

const strykerNamespace = () => (globalThis as { __stryker__?: StrykerNamespace }).__stryker__;

// Evaluated with the workflow's modules, before its first activation.
const atLoad = strykerNamespace()?.activeMutant;

function cover(id: string): void {
  const ns = strykerNamespace();
  if (!ns) return;
  const coverage = (ns.mutantCoverage ??= { static: {}, perTest: {} });
  coverage.static[id] = (coverage.static[id] ?? 0) + 1;
}

/** What a workflow saw of the active mutant, and what its child saw. */
export interface MutantSeen {
  atLoad: string | undefined;
  atRun: string | undefined;
  child?: MutantSeen;
}

export async function mutantSeen(): Promise<MutantSeen> {
  cover('reached-by-both');
  const seen = { atLoad, atRun: strykerNamespace()?.activeMutant };
  if (workflowInfo().parent) return seen;
  cover('reached-by-the-parent');
  return { ...seen, child: await executeChild(mutantSeen, { workflowId: `${workflowInfo().workflowId}-child` }) };
}
