import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CompensationStack, unwind, unwindOrder } from '../src/compensation-stack';
import { createFakeEngine, FakeFailure, yieldTurns, type FakeOptions } from './fakes';
import type { StepSpec } from '../src/engine';

describe('CompensationStack', () => {
  it('keeps groups in registration order and drops empty ones', () => {
    const stack = new CompensationStack<string>();
    stack.push(['a']);
    stack.push([]);
    stack.push(['b', 'c']);
    expect(stack.groups()).toEqual([['a'], ['b', 'c']]);
  });

  it('filters entries, dropping groups left empty', () => {
    const stack = new CompensationStack<string>();
    stack.push(['a']);
    stack.push(['b', 'c']);
    expect(stack.groups((e) => e !== 'a' && e !== 'c')).toEqual([['b']]);
  });
});

describe('unwindOrder', () => {
  it('starts the last group first, and within a group the last registered first', () => {
    expect(unwindOrder([['a'], ['b', 'c'], ['d']])).toEqual([['d'], ['c', 'b'], ['a']]);
  });
});

/** Compensations that log `start:` and `end:`, take `turns` promise turns and fail when listed. */
function recorder(failing: ReadonlySet<string> = new Set(), turns: (e: string) => number = () => 1) {
  const log: string[] = [];
  const compensate = async (entry: string) => {
    log.push(`start:${entry}`);
    await yieldTurns(turns(entry));
    log.push(`end:${entry}`);
    if (failing.has(entry)) throw new Error(`${entry} failed`);
    return true;
  };
  return { log, compensate };
}

describe('unwind', () => {
  const groups = [['a'], ['b', 'c'], ['d']];

  it('one at a time, finishes each group before starting the one registered before it', async () => {
    const { log, compensate } = recorder(new Set(), (e) => (e === 'c' ? 3 : 1));
    expect(await unwind(groups, { parallel: false, continueOnFailure: true }, compensate)).toEqual({ failed: [], skipped: [] });
    expect(log).toEqual(['start:d', 'end:d', 'start:c', 'start:b', 'end:b', 'end:c', 'start:a', 'end:a']);
  });

  it('in parallel, starts every compensation at once, last registered first', async () => {
    const { log, compensate } = recorder();
    await unwind(groups, { parallel: true, continueOnFailure: true }, compensate);
    expect(log.slice(0, 4)).toEqual(['start:d', 'start:c', 'start:b', 'start:a']);
  });

  it('goes on after a failed compensation by default, and reports it', async () => {
    const { log, compensate } = recorder(new Set(['c']));
    expect(await unwind(groups, { parallel: false, continueOnFailure: true }, compensate)).toEqual({ failed: ['c'], skipped: [] });
    expect(log.filter((e) => e.startsWith('start'))).toEqual(['start:d', 'start:c', 'start:b', 'start:a']);
  });

  it('stops after the group of a failed compensation when asked, reporting the rest as skipped', async () => {
    const { log, compensate } = recorder(new Set(['c']));
    expect(await unwind([['z'], ...groups], { parallel: false, continueOnFailure: false }, compensate)).toEqual({ failed: ['c'], skipped: ['a', 'z'] });
    expect(log.filter((e) => e.startsWith('start'))).toEqual(['start:d', 'start:c', 'start:b']);
  });

  it('counts a compensation that rejects as failed rather than aborting the unwinding', async () => {
    const compensate = (e: string) => (e === 'b' ? Promise.reject(new Error('boom')) : Promise.resolve(true));
    expect(await unwind(groups, { parallel: false, continueOnFailure: true }, compensate)).toEqual({ failed: ['b'], skipped: [] });
  });
});

// The property: a saga of any shape, failing at any point, runs the compensations of exactly the
// steps that started, each once, in the required order.

interface StepShape {
  compensable: boolean;
  fails: boolean;
  turns: number;
}
interface Scenario {
  stages: { parallel: boolean; steps: StepShape[] }[];
  failAt: number;
  parallelCompensation: boolean;
  undoTurns: number[];
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    stages: fc.array(
      fc.record({
        parallel: fc.boolean(),
        steps: fc.array(fc.record({ compensable: fc.boolean(), fails: fc.boolean(), turns: fc.nat(4) }), { minLength: 1, maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 7 },
    ),
    failAt: fc.nat(8),
    parallelCompensation: fc.boolean(),
    undoTurns: fc.array(fc.nat(4), { minLength: 30, maxLength: 30 }),
  })
  // A single step is a `step` call; the failing stage has at least one failing step, no other stage has any.
  .map((s) => ({
    ...s,
    stages: s.stages.map((stage, i) => {
      const steps = stage.parallel ? stage.steps : stage.steps.slice(0, 1);
      const failing = i === s.failAt ? (steps.some((st) => st.fails) ? steps : [{ ...steps[0]!, fails: true }, ...steps.slice(1)]) : steps.map((st) => ({ ...st, fails: false }));
      return { parallel: stage.parallel, steps: failing };
    }),
  }));

async function runScenario(s: Scenario) {
  const log: string[] = [];
  const { engine } = createFakeEngine({ parallelCompensation: s.parallelCompensation });
  const names = s.stages.map((stage, i) => stage.steps.map((_, j) => `s${i}.${j}`));
  let undoIndex = 0;
  const spec = (name: string, shape: StepShape): StepSpec<string, FakeOptions> => {
    const undoTurns = s.undoTurns[undoIndex++ % s.undoTurns.length]!;
    return {
      name,
      run: async () => {
        log.push(`do:${name}`);
        await yieldTurns(shape.turns);
        if (shape.fails) throw new FakeFailure(`${name} declined`);
        return name;
      },
      ...(shape.compensable
        ? {
            compensate: {
              name: `undo-${name}`,
              run: async () => {
                log.push(`start:${name}`);
                await yieldTurns(undoTurns);
                log.push(`end:${name}`);
              },
            },
          }
        : {}),
    };
  };
  engine.start();
  try {
    for (const [i, stage] of s.stages.entries()) {
      const specs = stage.steps.map((shape, j) => spec(names[i]![j]!, shape));
      if (stage.parallel) await engine.parallel(specs);
      else await engine.step(specs[0]!);
    }
  } catch (err) {
    engine.recordFailure(err);
    expect(await engine.compensate()).toBe(true);
  }
  return { log, names, engine };
}

describe('unwinding, for any saga and any failure point', () => {
  it('compensates exactly the started steps with a compensation, each once, last stage first', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { log, names } = await runScenario(s);
        const lastStarted = Math.min(s.failAt, s.stages.length - 1);
        const started = s.stages.slice(0, lastStarted + 1).flatMap((stage, i) => stage.steps.map((_, j) => names[i]![j]!));
        expect(log.filter((e) => e.startsWith('do:'))).toEqual(started.map((n) => `do:${n}`));

        const failed = s.failAt < s.stages.length;
        const expected = failed ? s.stages.slice(0, lastStarted + 1).map((stage, i) => stage.steps.flatMap((shape, j) => (shape.compensable ? [names[i]![j]!] : []))) : [];
        const starts = log.filter((e) => e.startsWith('start:')).map((e) => e.slice('start:'.length));
        expect([...starts].sort()).toEqual(expected.flat().sort());

        // No compensation starts while a forward step is still running.
        const firstUndo = log.findIndex((e) => e.startsWith('start:'));
        if (firstUndo >= 0) expect(log.slice(firstUndo).some((e) => e.startsWith('do:'))).toBe(false);

        const nonEmpty = expected.filter((g) => g.length > 0);
        expect(starts).toEqual(unwindOrder(nonEmpty).flat());
        if (!s.parallelCompensation) {
          // Every compensation of a later stage ends before any of an earlier stage starts.
          const position = (event: string) => log.indexOf(event);
          for (let later = nonEmpty.length - 1; later > 0; later--) {
            const lastEnd = Math.max(...nonEmpty[later]!.map((n) => position(`end:${n}`)));
            for (let earlier = 0; earlier < later; earlier++) {
              for (const n of nonEmpty[earlier]!) expect(position(`start:${n}`)).toBeGreaterThan(lastEnd);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('with failing compensations and stop-on-failure, attempts groups last first up to the first failing group and skips the rest', async () => {
    const groupsArb = fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(groupsArb, fc.boolean(), async (shape, continueOnFailure) => {
        const groups = shape.map((g, i) => g.map((_, j) => `g${i}.${j}`));
        const failing = new Set(shape.flatMap((g, i) => g.flatMap((fails, j) => (fails ? [`g${i}.${j}`] : []))));
        const { log, compensate } = recorder(failing);
        const result = await unwind(groups, { parallel: false, continueOnFailure }, compensate);
        const order = unwindOrder(groups);
        const stopAfter = continueOnFailure ? order.length - 1 : order.findIndex((g) => g.some((e) => failing.has(e)));
        const attempted = stopAfter < 0 ? order : order.slice(0, stopAfter + 1);
        expect(log.filter((e) => e.startsWith('start:')).map((e) => e.slice(6))).toEqual(attempted.flat());
        expect(result.failed).toEqual(attempted.flat().filter((e) => failing.has(e)));
        expect(result.skipped).toEqual(stopAfter < 0 ? [] : order.slice(stopAfter + 1).flat());
      }),
      { numRuns: 300 },
    );
  });
});
