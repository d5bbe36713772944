import { describe, expect, it } from 'vitest';
import { SagaRepairRefusedError, type StepSpec } from '../src/engine';
import { SagaStatus, StepStatus } from '../src/types';
import { createFakeEngine, FakeFailure, type FakeOptions } from './fakes';

// Step-level repair in the pure engine: what an operator's partial retry and skip run, record and
// refuse. The workflow glue (validators, the operator wait, the status search attribute) is tested on
// a Temporal server in test/saga/repair.test.ts.

type Spec = StepSpec<string, FakeOptions>;

/** A saga of steps whose compensations fail while their name is in `broken`; the last step fails forward. */
function stuckSaga(names: string[], options: { continueOnCompensationFailure?: boolean; uncompensated?: string } = {}) {
  const log: string[] = [];
  const broken = new Set<string>();
  const { engine, statuses } = createFakeEngine({ continueOnCompensationFailure: options.continueOnCompensationFailure ?? true });
  const spec = (name: string, fails = false): Spec => ({
    name,
    run: async () => {
      log.push(`do:${name}`);
      if (fails) throw new FakeFailure(`${name} declined`);
      return name;
    },
    compensate: {
      name: `undo-${name}`,
      run: async () => {
        if (broken.has(name)) {
          log.push(`undo-failed:${name}`);
          throw new FakeFailure(`${name} cannot be undone`, 'ProviderDown');
        }
        log.push(`undo:${name}`);
      },
    },
  });
  const run = async (failing: string) => {
    engine.start();
    if (options.uncompensated) await engine.step({ name: options.uncompensated, run: async () => 'read-only' });
    for (const name of names) await engine.step(spec(name));
    await engine.step(spec(failing, true)).catch((err: unknown) => engine.recordFailure(err));
    return engine.compensate();
  };
  return { engine, statuses, log, broken, run };
}

const compensationOf = (engine: ReturnType<typeof createFakeEngine>['engine'], step: string) => engine.state.steps.find((s) => s.name === step)?.compensation;

describe('retrying some compensations', () => {
  it('runs only the named failed compensations; the others stay failed and the saga is back in COMPENSATION_FAILED', async () => {
    const { engine, statuses, log, broken, run } = stuckSaga(['a', 'b']);
    broken.add('a').add('b');
    expect(await run('c')).toBe(false);
    expect(engine.failedSteps).toEqual(['a', 'b']);
    broken.delete('b');
    log.length = 0;
    statuses.length = 0;

    expect(await engine.retryCompensations(['b'])).toBe(false);

    expect(log).toEqual(['undo:b']);
    expect(statuses).toEqual([SagaStatus.COMPENSATING, SagaStatus.COMPENSATION_FAILED]);
    expect(engine.failedSteps).toEqual(['a']);
    const state = engine.state;
    expect(state.steps.find((s) => s.name === 'b')).toMatchObject({ status: StepStatus.COMPENSATED, compensation: { status: 'done', attempt: 2, operator: { action: 'retry' } } });
    expect(state.steps.find((s) => s.name === 'a')).toMatchObject({ status: StepStatus.COMPENSATION_FAILED, compensation: { status: 'failed', attempt: 1 } });
    expect(state.steps.find((s) => s.name === 'a')?.compensation).not.toHaveProperty('operator');
    expect(state.compensationFailures.map((f) => f.step)).toEqual(['a']);
  });

  it('keeps a compensation that fails again failed, one attempt further, and records the retry with the workflow time', async () => {
    const { engine, log, broken, run } = stuckSaga(['a']);
    broken.add('a');
    await run('b');
    log.length = 0;
    expect(await engine.retryCompensations(['a'])).toBe(false);
    expect(log).toEqual(['undo-failed:a']);
    expect(engine.status).toBe(SagaStatus.COMPENSATION_FAILED);
    const c = compensationOf(engine, 'a');
    expect(c).toMatchObject({ status: 'failed', attempt: 2, operator: { action: 'retry' } });
    expect(Number.isNaN(Date.parse(c!.operator!.at))).toBe(false);
  });

  it('ends with everything compensated when the named steps were the only failures', async () => {
    const { engine, broken, run } = stuckSaga(['a', 'b']);
    broken.add('b');
    await run('c');
    broken.clear();
    expect(await engine.retryCompensations(['b'])).toBe(true);
    expect(engine.failedSteps).toEqual([]);
    expect(engine.failureDetails().compensated).toEqual(['c', 'a', 'b']);
  });

  it('retries every failed compensation when no steps are named, as before steps existed', async () => {
    const { engine, log, broken, run } = stuckSaga(['a', 'b']);
    broken.add('a').add('b');
    await run('c');
    broken.clear();
    log.length = 0;
    expect(await engine.retryCompensations()).toBe(true);
    expect(log).toEqual(['undo:b', 'undo:a']);
  });

  it('goes on with what unwinding stopped before once the named step is undone (continueOnCompensationFailure: false)', async () => {
    const { engine, log, broken, run } = stuckSaga(['a', 'b'], { continueOnCompensationFailure: false });
    broken.add('b');
    await run('c');
    expect(log.slice(-2)).toEqual(['undo:c', 'undo-failed:b']);
    expect(compensationOf(engine, 'a')?.status).toBe('skipped');
    broken.clear();
    log.length = 0;
    expect(await engine.retryCompensations(['b'])).toBe(true);
    expect(log).toEqual(['undo:b', 'undo:a']);
  });
});

describe('skipping a compensation', () => {
  it('records the skip with its reason and time, takes it off the failures, and never runs it again', async () => {
    const { engine, statuses, log, broken, run } = stuckSaga(['a', 'b']);
    broken.add('a').add('b');
    await run('c');
    statuses.length = 0;
    log.length = 0;

    engine.skipCompensation('a', '  refunded by hand, ticket OPS-7 ');

    expect(statuses).toEqual([]);
    expect(log).toEqual([]);
    expect(engine.failedSteps).toEqual(['b']);
    const a = engine.state.steps.find((s) => s.name === 'a');
    expect(a).toMatchObject({ status: StepStatus.COMPENSATED, compensation: { status: 'skipped', attempt: 1, operator: { action: 'skip', reason: 'refunded by hand, ticket OPS-7' } } });
    expect(a?.compensation?.error?.message).toBe('a cannot be undone');

    broken.clear();
    expect(await engine.retryCompensations()).toBe(true);
    expect(log).toEqual(['undo:b']);
  });

  it('leaves no failure once the last one is skipped, and the failure details name each skip', async () => {
    const { engine, broken, run } = stuckSaga(['a']);
    broken.add('a');
    await run('b');
    engine.skipCompensation('a', 'released by hand');
    expect(engine.failedSteps).toEqual([]);
    expect(engine.compensationsLeft).toBe(false);
    const at = compensationOf(engine, 'a')!.operator!.at;
    expect(engine.failureDetails()).toStrictEqual({
      status: SagaStatus.COMPENSATED,
      failedStep: 'b',
      compensated: ['b'],
      compensationFailures: [],
      skippedCompensations: [{ step: 'a', compensation: 'undo-a', reason: 'released by hand', at }],
    });
  });

  it('leaves what unwinding stopped before to run once the last failure is skipped (continueOnCompensationFailure: false)', async () => {
    const { engine, log, broken, run } = stuckSaga(['a', 'b'], { continueOnCompensationFailure: false });
    broken.add('b');
    await run('c');
    engine.skipCompensation('b', 'cancelled by hand');
    expect(engine.compensationsLeft).toBe(true);
    log.length = 0;
    expect(await engine.compensate()).toBe(true);
    expect(log).toEqual(['undo:a']);
  });
});

describe('a repair request that does not fit', () => {
  async function twoFailed() {
    const saga = stuckSaga(['a', 'b', 'ok'], { uncompensated: 'lookup' });
    saga.broken.add('a').add('b');
    await saga.run('c');
    return saga;
  }

  it.each([
    ['a wrong argument', 'x', /takes \{ steps\?: string\[\] \}/],
    ['steps that are not names', { steps: 'a' }, /steps must be a list of step names/],
    ['an empty list', { steps: [] }, /steps is empty/],
    ['a step named twice', { steps: ['a', 'a'] }, /step "a" is named twice/],
    ['an unknown step', { steps: ['a', 'nope'] }, /the saga has no step "nope" \(compensations failed: a, b\)/],
    ['a step whose compensation succeeded', { steps: ['ok'] }, /the compensation of step "ok" did not fail \(it is done\); only a failed compensation can be retried/],
  ])('refuses a retry with %s and changes nothing', async (_, input, message) => {
    const { engine } = await twoFailed();
    const before = engine.state;
    expect(() => engine.checkRetry(input)).toThrow(message);
    expect(() => engine.checkRetry(input)).toThrow(SagaRepairRefusedError);
    expect(engine.state).toStrictEqual(before);
  });

  it.each([
    ['no argument', undefined, /takes \{ step: string; reason: string \}/],
    ['no step', { reason: 'done' }, /needs the step/],
    ['an unknown step', { step: 'nope', reason: 'done' }, /the saga has no step "nope"/],
    ['a step whose compensation succeeded', { step: 'c', reason: 'done' }, /the compensation of step "c" did not fail \(it is done\); only a failed compensation can be skipped/],
    ['an empty reason', { step: 'a', reason: '' }, /needs a reason/],
    ['a blank reason', { step: 'a', reason: ' \n ' }, /needs a reason/],
    ['a reason that is not text', { step: 'a', reason: 42 }, /needs a reason/],
  ])('refuses a skip with %s and changes nothing', async (_, input, message) => {
    const { engine } = await twoFailed();
    const before = engine.state;
    expect(() => engine.checkSkip(input)).toThrow(message);
    expect(() => engine.skipCompensation((input as { step?: string })?.step ?? '', (input as { reason?: string })?.reason ?? '')).toThrow(SagaRepairRefusedError);
    expect(engine.state).toStrictEqual(before);
  });

  it('refuses to skip or retry a compensation already skipped, saying so', async () => {
    const { engine } = await twoFailed();
    engine.skipCompensation('a', 'done by hand');
    expect(() => engine.checkSkip({ step: 'a', reason: 'again' })).toThrow(/did not fail \(it is skipped by an operator\)/);
    expect(() => engine.checkRetry({ steps: ['a'] })).toThrow(/compensations failed: b\)/);
  });

  it('refuses a step that has no compensation', async () => {
    const { engine } = await twoFailed();
    expect(() => engine.checkSkip({ step: 'lookup', reason: 'done' })).toThrow(/step "lookup" has no compensation/);
  });

  it('accepts no argument, or no steps, as every failed compensation', async () => {
    const { engine } = await twoFailed();
    expect(() => engine.checkRetry(undefined)).not.toThrow();
    expect(() => engine.checkRetry({})).not.toThrow();
    expect(() => engine.checkRetry({ steps: ['b', 'a'] })).not.toThrow();
  });
});
