import { describe, expect, it } from 'vitest';
import { SagaUsageError, type StepSpec } from '../src/engine';
import { SagaStatus } from '../src/types';
import { createFakeEngine, FakeFailure, type FakeOptions } from './fakes';

type Spec = StepSpec<string, FakeOptions>;

function step(log: string[], name: string, extra: Partial<Spec> & { failures?: number } = {}): Spec {
  let failures = extra.failures ?? 0;
  const { failures: _, ...rest } = extra;
  return {
    name,
    summary: `Do ${name}`,
    run: async (opts) => {
      log.push(`do:${name}:${opts.summary}`);
      if (failures-- > 0) throw new FakeFailure(`${name} declined`);
      return `${name}-result`;
    },
    compensate: { name: `undo-${name}`, run: async () => void log.push(`undo:${name}`) },
    ...rest,
  };
}

describe('a saga with a pivot', () => {
  it('drops the compensations before the pivot once it succeeds: a later unwind undoes nothing', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    await engine.step(step(log, 'a'));
    await engine.step(step(log, 'ship', { pivot: true }));
    expect(engine.pivot).toEqual({ step: 'ship', reachedAt: expect.any(String) });
    expect(await engine.compensate()).toBe(true);
    expect(log.filter((e) => e.startsWith('undo:'))).toEqual([]);
    expect(engine.state.pivot?.step).toBe('ship');
  });

  it('compensates the pivot step itself when it fails, with everything before it', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    await engine.step(step(log, 'a'));
    await expect(engine.step(step(log, 'ship', { pivot: true, failures: 1 }))).rejects.toThrow('ship declined');
    expect(await engine.compensate()).toBe(true);
    expect(log.filter((e) => e.startsWith('undo:'))).toEqual(['undo:ship', 'undo:a']);
    expect(engine.pivot).toBeUndefined();
  });

  it('runs a failed step after the pivot again each time the host allows it, marked forward-recovery', async () => {
    const log: string[] = [];
    const held: string[] = [];
    const { engine } = createFakeEngine({ awaitForwardRepair: async (record) => void held.push(`${record.name}:${record.status}:${record.error?.type}`) });
    engine.start();
    await engine.step(step(log, 'ship', { pivot: true }));
    const { compensate: _, ...mail } = step(log, 'mail', { failures: 2 });
    expect(await engine.step(mail)).toBe('mail-result');
    expect(held).toEqual(['mail:failed:PaymentDeclined', 'mail:failed:PaymentDeclined']);
    expect(log).toEqual(['do:ship:Pivot: Do ship', 'do:mail:Forward recovery: Do mail', 'do:mail:Forward recovery: Do mail', 'do:mail:Forward recovery: Do mail']);
    const record = engine.state.steps[1];
    expect(record).toMatchObject({ status: 'done', attempt: 3, recovery: 'forward-recovery' });
    expect(record?.error).toBeUndefined();
    expect(engine.status).toBe(SagaStatus.RUNNING);
  });

  it('refuses a compensation after the pivot, a second pivot, and a pivot inside a parallel stage', async () => {
    const log: string[] = [];
    const { engine } = createFakeEngine();
    engine.start();
    await expect(engine.parallel([step(log, 'x', { pivot: true }), step(log, 'y')])).rejects.toThrow(SagaUsageError);
    await engine.step(step(log, 'ship', { pivot: true }));
    await expect(engine.step(step(log, 'again', { pivot: true }))).rejects.toThrow(/second pivot/);
    await expect(engine.step(step(log, 'late'))).rejects.toThrow(/after the pivot "ship"/);
    expect(log).toEqual(['do:ship:Pivot: Do ship']);
  });
});
