import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sagaIdOf } from '../src/saga-identity';

// The saga id rule against a model of the run ids a Temporal server records. A reset copies the run's
// WorkflowExecutionStarted event (and with it the original run id) into a new run of the same saga;
// continue-as-new, a cron run and a workflow retry start a new saga whose started event names its own
// run. Every kind of new run keeps the chain's first run id.

type NewRun = 'reset' | 'continue-as-new' | 'cron' | 'retry';

interface ModelRun {
  runId: string;
  firstExecutionRunId: string;
  originalExecutionRunId: string;
  /** Which saga the run belongs to, by the model: the answer the rule must reproduce. */
  saga: number;
}

/** Starts a workflow id and follows it through `steps`: each makes a new run from the run at index `from` (modulo the runs so far). */
function simulate(steps: readonly { kind: NewRun; from: number }[]): ModelRun[] {
  const runs: ModelRun[] = [{ runId: 'run-0', firstExecutionRunId: 'run-0', originalExecutionRunId: 'run-0', saga: 0 }];
  let sagas = 1;
  for (const { kind, from } of steps) {
    const base = runs[from % runs.length]!;
    const runId = `run-${runs.length}`;
    if (kind === 'reset') {
      runs.push({ runId, firstExecutionRunId: base.firstExecutionRunId, originalExecutionRunId: base.originalExecutionRunId, saga: base.saga });
    } else {
      runs.push({ runId, firstExecutionRunId: base.firstExecutionRunId, originalExecutionRunId: runId, saga: sagas });
      sagas += 1;
    }
  }
  return runs;
}

describe('sagaIdOf', () => {
  it('is the original execution run id, which a reset keeps', () => {
    const [first, reset] = simulate([{ kind: 'reset', from: 0 }]);
    expect(sagaIdOf(first!)).toBe('run-0');
    expect(sagaIdOf(reset!)).toBe('run-0');
  });

  it.each(['continue-as-new', 'cron', 'retry'] as const)('gives the run that %s starts an id of its own', (kind) => {
    const [first, next] = simulate([{ kind, from: 0 }]);
    expect(sagaIdOf(first!)).toBe('run-0');
    expect(sagaIdOf(next!)).toBe('run-1');
  });

  it('keeps the id of the second saga of a chain, not the first, when that saga is reset', () => {
    const runs = simulate([
      { kind: 'continue-as-new', from: 0 },
      { kind: 'reset', from: 1 },
    ]);
    expect(runs.map(sagaIdOf)).toEqual(['run-0', 'run-1', 'run-1']);
  });

  it('equals the first run id of the chain for a first run never reset, so sagas already running keep their keys', () => {
    const [first] = simulate([]);
    expect(sagaIdOf(first!)).toBe(first!.firstExecutionRunId);
  });

  it('falls back to the run id when the server reports no original run id', () => {
    expect(sagaIdOf({ originalExecutionRunId: '', runId: 'run-7' })).toBe('run-7');
    expect(sagaIdOf({ runId: 'run-7' })).toBe('run-7');
  });

  it('names two runs alike exactly when they belong to the same saga, over any mix of resets, continue-as-new, cron and retries', () => {
    const step = fc.record({ kind: fc.constantFrom<NewRun>('reset', 'continue-as-new', 'cron', 'retry'), from: fc.nat() });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const runs = simulate(steps);
        for (const a of runs) {
          for (const b of runs) expect(sagaIdOf(a) === sagaIdOf(b), `${a.runId} and ${b.runId}`).toBe(a.saga === b.saga);
        }
      }),
      { seed: 20261207, numRuns: 500 },
    );
  });
});
