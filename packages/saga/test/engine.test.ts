import { describe, expect, it } from 'vitest';
import { canChangeSagaStatus, canChangeStepStatus, SagaUsageError, type StepSpec } from '../src/engine';
import { SagaStatus, StepStatus } from '../src/types';
import { createFakeEngine, FakeCancellation, FakeFailure, yieldTurns, type FakeOptions } from './fakes';

type Spec = StepSpec<string, FakeOptions>;

/** A step that logs `do:` and `undo:`, failing as told. */
function step(log: string[], name: string, behaviour: { fails?: Error; undoFails?: () => boolean; turns?: number; compensable?: boolean } = {}): Spec {
  const spec: Spec = {
    name,
    summary: `Do ${name}`,
    run: async () => {
      log.push(`do:${name}`);
      await yieldTurns(behaviour.turns ?? 0);
      if (behaviour.fails) throw behaviour.fails;
      return `${name}-result`;
    },
  };
  if (behaviour.compensable !== false) {
    spec.compensate = {
      name: `undo-${name}`,
      run: async () => {
        log.push(`undo:${name}`);
        if (behaviour.undoFails?.()) throw new FakeFailure(`${name} stays`, 'TransientFault');
      },
    };
  }
  return spec;
}

describe('the saga engine', () => {
  it('has the compensation on the stack before the step runs, so a step that threw after its effect is undone', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    let seenDuringRun: string | undefined;
    const lostReply: Spec = {
      name: 'lostReply',
      run: async () => {
        seenDuringRun = engine.state.steps[0]?.compensation?.status;
        log.push('do:lostReply');
        throw new FakeFailure('reply lost', 'TimeoutFailure');
      },
      compensate: { name: 'undo-lostReply', run: async () => void log.push('undo:lostReply') },
    };
    await expect(engine.step(lostReply)).rejects.toThrow('reply lost');
    expect(seenDuringRun).toBe('pending');
    await engine.compensate();
    expect(log).toEqual(['do:lostReply', 'undo:lostReply']);
  });

  it('passes each call its options: the step summary, and the compensation options with a default summary', async () => {
    const seen: FakeOptions[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    await engine.step({ name: 'a', summary: 'Capture payment', run: async (o) => void seen.push(o), compensate: { name: 'refund', run: async (o) => void seen.push(o) } });
    await engine.step({ name: 'b', run: async (o) => void seen.push(o), compensate: { name: 'undo-b', summary: 'Refund', run: async (o) => void seen.push(o) } });
    await engine.compensate();
    expect(seen).toEqual([
      { kind: 'step', summary: 'Capture payment' },
      { kind: 'step' },
      { kind: 'compensation', summary: 'Refund' },
      { kind: 'compensation', summary: 'Undo a' },
    ]);
  });

  it('reports RUNNING on start and every status change after it, once each', async () => {
    const log: string[] = [];
    const { engine, statuses } = createFakeEngine();
    engine.start();
    await engine.step(step(log, 'a'));
    expect(await engine.compensate()).toBe(true);
    expect(await engine.compensate()).toBe(true);
    expect(statuses).toEqual(['RUNNING', 'COMPENSATING', 'COMPENSATED']);
  });

  it('derives CANCELLED instead of COMPENSATED when a cancellation made it unwind', async () => {
    const log: string[] = [];
    const { engine, statuses } = createFakeEngine();
    engine.start();
    await engine.step(step(log, 'a'));
    expect(await engine.compensate('cancellation')).toBe(true);
    expect(statuses).toEqual(['RUNNING', 'COMPENSATING', 'CANCELLED']);
  });

  it('refuses to unwind a completed saga, and to complete one that unwound', async () => {
    const done = createFakeEngine();
    done.engine.start();
    done.engine.complete();
    expect(done.statuses).toEqual(['RUNNING', 'COMPLETED']);
    await expect(done.engine.compensate()).rejects.toThrow('The saga cannot unwind: it is COMPLETED');
    const undone = createFakeEngine();
    undone.engine.start();
    await undone.engine.compensate();
    expect(() => undone.engine.complete()).toThrow('The saga cannot complete: it is COMPENSATED');
  });

  it('refuses to complete while work is outstanding', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    const running = engine.step(step(log, 'slow', { turns: 3 }));
    expect(() => engine.complete()).toThrow('The saga cannot complete with work outstanding: step slow');
    await running;
    engine.complete();
    expect(engine.status).toBe(SagaStatus.COMPLETED);
  });

  it('lets a saga that could not be compensated be retried or resolved, and ends nowhere else', () => {
    expect(canChangeSagaStatus('COMPENSATION_FAILED', 'COMPENSATING')).toBe(true);
    expect(canChangeSagaStatus('COMPENSATION_FAILED', 'COMPENSATED')).toBe(true);
    expect(canChangeSagaStatus('COMPENSATION_FAILED', 'COMPLETED')).toBe(false);
    expect(canChangeSagaStatus('RUNNING', 'COMPENSATED')).toBe(false);
    for (const terminal of [SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.CANCELLED]) {
      for (const to of Object.values(SagaStatus)) expect(canChangeSagaStatus(terminal, to)).toBe(false);
    }
    expect(canChangeStepStatus(StepStatus.COMPENSATED, StepStatus.COMPENSATING)).toBe(false);
    expect(canChangeStepStatus(StepStatus.COMPENSATION_FAILED, StepStatus.COMPENSATING)).toBe(true);
    expect(canChangeStepStatus(StepStatus.RUNNING, StepStatus.COMPENSATING)).toBe(false);
  });

  it('waits for steps still in flight before compensating them', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    // Not a `parallel` stage: the body races two steps itself, and the first failure arrives early.
    const raced = Promise.all([engine.step(step(log, 'slow', { turns: 20 })), engine.step(step(log, 'fast', { fails: new FakeFailure('declined') }))]);
    await expect(raced).rejects.toThrow('declined');
    await engine.compensate();
    expect(log).toEqual(['do:slow', 'do:fast', 'undo:fast', 'undo:slow']);
    expect(engine.state.steps.map((s) => s.status)).toEqual(['compensated', 'compensated']);
  });

  it('runs every step of a parallel stage to the end and throws the first failure to arrive', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    const stage = engine.parallel([
      step(log, 'a', { turns: 5, fails: new FakeFailure('a late') }),
      step(log, 'b', { turns: 1, fails: new FakeFailure('b early') }),
      step(log, 'c', { turns: 3 }),
    ]);
    await expect(stage).rejects.toThrow('b early');
    expect(engine.state.steps.map((s) => [s.name, s.status, s.group])).toEqual([
      ['a', 'failed', 0],
      ['b', 'failed', 0],
      ['c', 'done', 0],
    ]);
  });

  it('records the failing step, found through the errors that wrap its failure', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    const declined = new FakeFailure('declined');
    await expect(engine.step(step(log, 'pay', { fails: declined }))).rejects.toBe(declined);
    const wrapped = new FakeFailure('order failed', 'OrderFailed', declined);
    expect(engine.stepOf(wrapped)).toBe('pay');
    expect(engine.stepOf(new FakeFailure('other'))).toBeUndefined();
    engine.recordFailure(declined);
    expect(engine.state.failure).toEqual({ step: 'pay', message: 'declined', type: 'PaymentDeclined' });
  });

  it('keeps a failed optional step out of the failure path but still compensates it if the saga unwinds', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    expect(await engine.optionalStep(step(log, 'mail', { fails: new FakeFailure('bounced', 'MailBounced') }))).toEqual({ ok: false, error: 'bounced', type: 'MailBounced' });
    expect(await engine.optionalStep(step(log, 'ok'))).toEqual({ ok: true, value: 'ok-result' });
    await engine.compensate();
    expect(log).toEqual(['do:mail', 'do:ok', 'undo:ok', 'undo:mail']);
  });

  it('lets cancellations and bugs through an optional step', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    await expect(engine.optionalStep(step(log, 'cancelled', { fails: new FakeCancellation('cancelled') }))).rejects.toBeInstanceOf(FakeCancellation);
    await expect(engine.optionalStep(step(log, 'bug', { fails: new TypeError('x is undefined') }))).rejects.toBeInstanceOf(TypeError);
  });

  it('refuses a step name used twice, a step before start and a step after unwinding began', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    await expect(engine.step(step(log, 'early'))).rejects.toThrow('outside saga.run()');
    engine.start();
    await engine.step(step(log, 'a'));
    await expect(engine.step(step(log, 'a'))).rejects.toBeInstanceOf(SagaUsageError);
    await expect(engine.parallel([step(log, 'b'), step(log, 'b')])).rejects.toThrow('Step name "b" is used twice');
    await engine.compensate();
    await expect(engine.step(step(log, 'late'))).rejects.toThrow('after the saga stopped running (COMPENSATED)');
    expect(log).toEqual(['do:a', 'undo:a']);
    expect(engine.state.steps.map((s) => s.name)).toEqual(['a']);
  });

  it('on a second round runs only the compensations not done yet, counting attempts', async () => {
    const log: string[] = [];
    let broken = true;
    const { engine, statuses } = createFakeEngine();
    engine.start();
    await engine.step(step(log, 'a'));
    await engine.step(step(log, 'b', { undoFails: () => broken }));
    await engine.step(step(log, 'c'));
    expect(await engine.compensate()).toBe(false);
    expect(engine.state.compensationFailures).toEqual([{ step: 'b', message: 'b stays', type: 'TransientFault' }]);
    broken = false;
    expect(await engine.compensate()).toBe(true);
    expect(log.slice(3)).toEqual(['undo:c', 'undo:b', 'undo:a', 'undo:b']);
    expect(engine.state.steps.map((s) => [s.name, s.status, s.compensation?.attempt])).toEqual([
      ['a', 'compensated', 1],
      ['b', 'compensated', 2],
      ['c', 'compensated', 1],
    ]);
    expect(engine.state.compensationFailures).toEqual([]);
    expect(engine.failureDetails().compensated).toEqual(['c', 'a', 'b']);
    expect(statuses).toEqual(['RUNNING', 'COMPENSATING', 'COMPENSATION_FAILED', 'COMPENSATING', 'COMPENSATED']);
  });

  it('marks compensations never attempted as skipped when stopping, and runs them on the next round', async () => {
    const log: string[] = [];
    let broken = true;
    const { engine } = createFakeEngine({ continueOnCompensationFailure: false });
    engine.start();
    await engine.step(step(log, 'a'));
    await engine.step(step(log, 'b', { undoFails: () => broken }));
    await engine.compensate();
    expect(engine.state.steps.map((s) => [s.status, s.compensation?.status])).toEqual([
      ['skipped', 'skipped'],
      ['compensation-failed', 'failed'],
    ]);
    broken = false;
    expect(await engine.compensate()).toBe(true);
    expect(log.slice(2)).toEqual(['undo:b', 'undo:b', 'undo:a']);
  });

  it('returns state as a copy the caller cannot change', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    await engine.step(step(log, 'a', { undoFails: () => true }));
    await engine.compensate();
    const state = engine.state;
    state.steps[0]!.status = 'done';
    state.steps[0]!.compensation!.error!.message = 'changed';
    state.compensationFailures.pop();
    expect(engine.state.steps[0]).toMatchObject({ status: 'compensation-failed', compensation: { error: { message: 'a stays' } } });
    expect(engine.state.compensationFailures).toHaveLength(1);
  });
});

describe('the saga engine at its edges', () => {
  it('cancels the rest of a parallel stage through the host scope when one step fails, once', async () => {
    const log: string[] = [];
    let cancels = 0;
    const { engine } = createFakeEngine({ stageScope: () => ({ run: (fn) => fn(), cancel: () => void (cancels += 1) }) });
    engine.start();
    const stage = engine.parallel([step(log, 'a', { turns: 5 }), step(log, 'b', { fails: new FakeFailure('b declined') }), step(log, 'c', { fails: new FakeFailure('c declined'), turns: 2 })]);
    await expect(stage).rejects.toThrow('b declined');
    expect(cancels).toBe(1);
  });

  it('cancels the stage at its first business failure, even when no other step fails', async () => {
    let cancels = 0;
    const { engine } = createFakeEngine({ stageScope: () => ({ run: (fn) => fn(), cancel: () => void (cancels += 1) }) });
    engine.start();
    await expect(engine.parallel([step([], 'a', { turns: 5 }), step([], 'b', { fails: new FakeFailure('b declined') })])).rejects.toThrow('b declined');
    expect(cancels).toBe(1);
  });

  it('does not cancel a stage for a cancellation or a bug', async () => {
    let cancels = 0;
    const { engine } = createFakeEngine({ stageScope: () => ({ run: (fn) => fn(), cancel: () => void (cancels += 1) }) });
    engine.start();
    await expect(engine.parallel([step([], 'a', { fails: new FakeCancellation('stop') })])).rejects.toThrow('stop');
    expect(cancels).toBe(0);
  });

  it('reports the steps a body left in flight and the first failure among them', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    void engine.step(step(log, 'ok', { turns: 3 })).catch(() => undefined);
    void engine.step(step(log, 'late', { fails: new FakeFailure('late declined'), turns: 6 })).catch(() => undefined);
    const settled = await engine.settleAbandoned();
    expect(settled.steps).toEqual(['ok', 'late']);
    expect((settled.failure as Error).message).toBe('late declined');
    expect(engine.state.steps.map((s) => s.status)).toEqual([StepStatus.DONE, StepStatus.FAILED]);
    // The failure is the saga's until it unwinds: asking again finds it again.
    expect(await engine.settleAbandoned()).toEqual({ steps: [], failure: settled.failure });
  });

  it('reports a step that failed before the body returned, even one the body caught, and not an optional one', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    const declined = new FakeFailure('declined');
    await engine.step(step(log, 'caught', { fails: declined })).catch(() => undefined);
    expect(await engine.optionalStep(step(log, 'optional', { fails: new FakeFailure('optional declined') }))).toEqual({ ok: false, error: 'optional declined', type: 'PaymentDeclined' });
    expect(await engine.settleAbandoned()).toEqual({ steps: [], failure: declined });
  });
});
