import { describe, expect, it } from 'vitest';
import { SagaUsageError, type StepSpec } from '../src/engine';
import { unwind } from '../src/compensation-stack';
import { SagaStatus, StepStatus } from '../src/types';
import { createFakeEngine, FakeFailure, type FakeOptions } from './fakes';

// What the engine reports about a saga, field by field: the state query, the failure details and the
// answer of an optional step are what operators and the CLI read, so a missing or extra field, a
// wrong counter or a shared object is a bug there. Found by mutation testing (docs/reliability.md).

type Spec = StepSpec<string, FakeOptions>;

const ok = (name: string, extra: Partial<Spec> = {}): Spec => ({ name, run: async () => `${name}-result`, ...extra });
const failing = (name: string, error: unknown, extra: Partial<Spec> = {}): Spec => ({
  name,
  run: async () => {
    throw error;
  },
  ...extra,
});
const undo = (name: string, fails = false) => ({
  name,
  run: async () => {
    if (fails) throw new FakeFailure(`${name} refused`, 'ProviderDown');
  },
});
const isoTime = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

describe('the saga state', () => {
  it('records each step with its stage, one attempt, its times and its summary only when it has one', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    expect(engine.status).toBe(SagaStatus.RUNNING);
    await engine.step(ok('first', { summary: 'Do first', compensate: undo('undo-first') }));
    await engine.parallel([ok('left'), ok('right')]);
    await engine.optionalStep(ok('optional'));
    await engine.step(ok('last'));
    const steps = engine.state.steps;
    expect(steps.map((s) => [s.name, s.group])).toEqual([
      ['first', 0],
      ['left', 1],
      ['right', 1],
      ['optional', 2],
      ['last', 3],
    ]);
    expect(steps[0]).toStrictEqual({
      name: 'first',
      summary: 'Do first',
      status: StepStatus.DONE,
      group: 0,
      attempt: 1,
      startedAt: isoTime,
      endedAt: isoTime,
      compensation: { name: 'undo-first', status: StepStatus.PENDING, attempt: 0 },
    });
    expect(steps[1]).toStrictEqual({ name: 'left', status: StepStatus.DONE, group: 1, attempt: 1, startedAt: isoTime, endedAt: isoTime });
  });

  it('is a deep copy: changing what it returns changes nothing in the saga', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    await expect(engine.step(failing('pay', new FakeFailure('declined'), { compensate: undo('void', true) }))).rejects.toThrow('declined');
    engine.recordFailure(new FakeFailure('declined'));
    await engine.compensate();
    const copy = engine.state;
    copy.steps[0]!.error!.message = 'changed';
    copy.steps[0]!.compensation!.error!.message = 'changed';
    copy.steps[0]!.compensation!.name = 'changed';
    copy.failure!.message = 'changed';
    const again = engine.state;
    expect(again.steps[0]!.error!.message).toBe('declined');
    expect(again.steps[0]!.compensation).toMatchObject({ name: 'void', error: { message: 'void refused', type: 'ProviderDown' } });
    expect(again.failure!.message).toBe('declined');
  });

  it('holds no failure, operator note or hook failure until one is recorded, then each as given', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    await engine.step(ok('a', { compensate: undo('undo-a', true) }));
    expect(engine.state).toStrictEqual({ status: SagaStatus.RUNNING, steps: [expect.any(Object)], compensationFailures: [] });
    expect(await engine.compensate()).toBe(false);
    engine.markCompensated('refunded by hand');
    engine.recordHookFailure(new FakeFailure('smtp down', 'MailDown'));
    const state = engine.state;
    expect(state.operatorNote).toBe('refunded by hand');
    expect(state.hookFailure).toStrictEqual({ message: 'smtp down', type: 'MailDown' });
    expect(state.compensationFailures).toStrictEqual([{ step: 'a', message: 'undo-a refused', type: 'ProviderDown' }]);
    expect(state).not.toHaveProperty('failure');
  });

  it('lists a compensation failure without a type without a type field, and ignores steps that have no compensation', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    await engine.step(ok('plain'));
    await engine.step({ name: 'a', run: async () => 'a', compensate: { name: 'undo-a', run: async () => Promise.reject(new Error('no type')) } });
    expect(await engine.compensate()).toBe(false);
    expect(engine.state.compensationFailures).toStrictEqual([{ step: 'a', message: 'Error: no type' }]);
  });
});

describe('the failure record', () => {
  it('names the failed step and the failure type, and leaves out what it does not know', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    const declined = new FakeFailure('declined', 'PaymentDeclined');
    await expect(engine.step(failing('pay', declined, { compensate: undo('void') }))).rejects.toBe(declined);
    engine.recordFailure(new Error('wrapper', { cause: declined }));
    expect(engine.state.failure).toStrictEqual({ step: 'pay', message: 'Error: wrapper' });
    engine.recordFailure(declined);
    expect(engine.state.failure).toStrictEqual({ step: 'pay', message: 'declined', type: 'PaymentDeclined' });
    await engine.compensate();
    expect(engine.failureDetails()).toStrictEqual({ status: SagaStatus.COMPENSATED, failedStep: 'pay', compensated: ['pay'], compensationFailures: [] });
  });

  it('records a failure that no step threw without a step, walking its whole cause chain', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    engine.recordFailure(new Error('outer', { cause: new Error('inner') }));
    expect(engine.state.failure).toStrictEqual({ message: 'Error: outer' });
    expect(engine.stepOf(new Error('outer', { cause: new Error('inner') }))).toBeUndefined();
    expect(engine.stepOf(new Error('outer', { cause: null }))).toBeUndefined();
    await engine.compensate();
    expect(engine.failureDetails()).toStrictEqual({ status: SagaStatus.COMPENSATED, compensated: [], compensationFailures: [] });
  });

  it('passes a thrown primitive or null through untouched', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    await expect(engine.step(failing('a', 'plain string'))).rejects.toBe('plain string');
    await expect(engine.step(failing('b', null))).rejects.toBeNull();
    expect(engine.state.steps.map((s) => s.status)).toEqual([StepStatus.FAILED, StepStatus.FAILED]);
  });

  it('names its usage error SagaUsageError', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    await engine.step(ok('a'));
    const err = await engine.step(ok('a')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SagaUsageError);
    expect((err as SagaUsageError).name).toBe('SagaUsageError');
  });
});

describe('optional steps', () => {
  it('answer a failure without a type without a type field, and one with a type with it', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    const untyped = createFakeEngine({ classify: () => 'failure', describeError: () => ({ message: 'untyped' }) }).engine;
    untyped.start();
    expect(await untyped.optionalStep(failing('mail', new Error('smtp')))).toStrictEqual({ ok: false, error: 'untyped' });
    expect(await engine.optionalStep(failing('mail', new FakeFailure('bounced', 'MailBounced')))).toStrictEqual({ ok: false, error: 'bounced', type: 'MailBounced' });
  });
});

describe('compensating', () => {
  it('waits for a step still in flight that settles on a later timer, then undoes it', async () => {
    const { engine } = createFakeEngine();
    engine.start();
    const log: string[] = [];
    const slow = engine.step({
      name: 'slow',
      run: () =>
        new Promise<string>((resolve) =>
          setTimeout(() => {
            log.push('do:slow');
            resolve('slow');
          }, 20),
        ),
      compensate: { name: 'undo-slow', run: async () => void log.push('undo:slow') },
    });
    await expect(engine.step(failing('fast', new FakeFailure('boom')))).rejects.toThrow('boom');
    expect(await engine.compensate()).toBe(true);
    expect(log).toEqual(['do:slow', 'undo:slow']);
    await slow;
  });

  it('counts each compensation attempt and stamps its times', async () => {
    let fail = true;
    const { engine } = createFakeEngine();
    engine.start();
    await engine.step({ name: 'a', run: async () => 'a', compensate: { name: 'undo-a', run: async () => (fail ? Promise.reject(new FakeFailure('no')) : undefined) } });
    expect(await engine.compensate()).toBe(false);
    fail = false;
    expect(await engine.compensate()).toBe(true);
    expect(engine.state.steps[0]!.compensation).toStrictEqual({ name: 'undo-a', status: StepStatus.DONE, attempt: 2, startedAt: isoTime, endedAt: isoTime });
  });

  it('leaves the stages it stopped before as skipped when it stops at a failure again', async () => {
    const { engine } = createFakeEngine({ continueOnCompensationFailure: false });
    engine.start();
    await engine.step(ok('first', { compensate: undo('undo-first') }));
    await engine.step(ok('second', { compensate: undo('undo-second', true) }));
    expect(await engine.compensate()).toBe(false);
    expect(await engine.compensate()).toBe(false);
    expect(engine.state.steps.map((s) => [s.name, s.status, s.compensation?.status])).toEqual([
      ['first', StepStatus.SKIPPED, StepStatus.SKIPPED],
      ['second', StepStatus.COMPENSATION_FAILED, StepStatus.FAILED],
    ]);
  });
});

describe('unwinding all at once', () => {
  it('reports every compensation that failed', async () => {
    const result = await unwind([['a'], ['b', 'c']], { parallel: true, continueOnFailure: true }, async (entry) => entry !== 'b');
    expect(result).toEqual({ failed: ['b'], skipped: [] });
  });
});
