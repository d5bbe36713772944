import { describe, expect, it } from 'vitest';
import { explore, lawNames } from '../../tools/simulation/explore';
import { sagaIdOf } from '@saga-temporal/saga/core';
import { runSchedule, type RunIdentity } from '../../tools/simulation/runner';
import type { Schedule } from '../../tools/simulation/schedule';

// The saga engine and the barrier under deterministic simulation: seeded schedules of steps, stages,
// try-confirm-cancel, pivots, cancellations, resets, late deliveries, continue-as-new chains and the
// operator, each checked against the laws after it ran. `npm run simulate` runs more, from any seed.

const seed = Number(process.env.SIM_SEED ?? 20261207);

const plain = { onCompensationFailure: 'await-operator', parallelCompensation: false, continueOnCompensationFailure: true } as const;
const base: Omit<Schedule, 'chain'> = { choices: [], resets: [], lateDeliveries: [], operator: [], barrier: 'memory' };

describe('the simulated saga engine', () => {
  it('keeps every law over 10,000 schedules from a fixed seed', async () => {
    const result = await explore({ schedules: 10_000, seed });
    if (result.counterexample) console.log(`seed ${seed}, path ${result.counterexample.path}:\n${JSON.stringify(result.counterexample.schedule)}\n${result.counterexample.broken.join('\n')}`);
    console.log(
      `simulation: ${result.schedules} schedules, seed ${seed}, ${(result.ms / 1000).toFixed(1)} s, no law broken: ${result.counterexample === undefined}\nlaws:\n${lawNames.map((l) => `  - ${l}`).join('\n')}`,
    );
    expect(result.counterexample?.broken ?? []).toEqual([]);
    expect(result.schedules).toBe(10_000);
  }, 300_000);

  it('finds a chain whose sagas share the first run id as their saga id: the second saga takes no effect', async () => {
    const chain = [{ ...plain, stages: [{ kind: 'step', step: { name: 's0', outcome: 'ok', undo: 'ok' }, pivot: false, awaited: true }] }, { ...plain, stages: [{ kind: 'step', step: { name: 's0', outcome: 'ok', undo: 'ok' }, pivot: false, awaited: true }] }] as Schedule['chain'];
    const firstRunOfChain = (run: RunIdentity) => run.firstExecutionRunId;
    expect((await runSchedule({ ...base, chain }, { sagaIdOf: firstRunOfChain })).broken).toContain("two sagas of one chain share a saga id (run-0, run-0): the later one's steps take no effect");
    expect((await runSchedule({ ...base, chain }, { sagaIdOf })).broken).toEqual([]);
  });

  it('finds a reset whose run keys its steps apart from the run it replaced', async () => {
    const chain = [{ ...plain, stages: [{ kind: 'step', step: { name: 's0', outcome: 'ok', undo: 'ok' }, pivot: false, awaited: true }, { kind: 'wait' }, { kind: 'throw' }] }] as Schedule['chain'];
    const perRun = (run: RunIdentity) => run.runId;
    const broken = (await runSchedule({ ...base, chain, resets: [3] }, { sagaIdOf: perRun })).broken;
    expect(broken.some((law) => law.includes('which no saga reports'))).toBe(true);
    expect((await runSchedule({ ...base, chain, resets: [3] })).broken).toEqual([]);
  });

  it('replays a schedule exactly: the same schedule gives the same effects and the same end', async () => {
    const chain = [{ ...plain, stages: [{ kind: 'parallel', steps: [{ name: 'p0', outcome: 'lost-reply', undo: 'fail-once' }, { name: 'p1', outcome: 'ok', undo: 'ok' }], awaited: true }] }] as Schedule['chain'];
    const schedule: Schedule = { ...base, chain, choices: [1, 0, 1, 1], operator: ['retry'] };
    const first = await runSchedule(schedule);
    const second = await runSchedule(schedule);
    expect(second.effects).toEqual(first.effects);
    expect(second.outcomes.map((o) => [o.state.status, o.end])).toEqual(first.outcomes.map((o) => [o.state.status, o.end]));
    expect(first.outcomes[0]?.state.status).toBe('COMPENSATED');
  });
});
