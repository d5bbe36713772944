import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FailureType } from '../../src/shared/failures';
import { cancelStep, compensationStep, confirmStep, forwardStep } from '@saga-temporal/barrier';
import { failureOf, testEngines, useTestServices } from '../postgres';

// The barrier's try-confirm-cancel phases with DTM's rules, on both engines: a cancel before its try
// records itself and the late try is refused; a repeated confirm (or cancel) returns the first result;
// a confirm after a cancel, a cancel after a confirm and a confirm of a try that never ran are refused.
// The business changes count their calls, so a phase let through twice shows.

const keyOf = () => `wf-${randomUUID().slice(0, 8)}/run-1/participant`;

describe.each(testEngines())('the try-confirm-cancel barrier on $name', (engine) => {
  const services = useTestServices(engine);

  describe.skipIf(!engine.create)('confirm and cancel', () => {
    it('confirms a try once, answering a repeated confirm with the first result', async () => {
      const { db } = services();
      const key = keyOf();
      let confirmed = 0;
      const confirm = async () => ({ confirmed: ++confirmed });
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'held'));
      expect(await db.transaction((tx) => confirmStep(tx, 'test', key, confirm))).toEqual({ confirmed: 1 });
      expect(await db.transaction((tx) => confirmStep(tx, 'test', key, confirm))).toEqual({ confirmed: 1 });
      expect(confirmed).toBe(1);
    });

    it('records a cancel that arrives before its try, and refuses the late try', async () => {
      const { db } = services();
      const key = keyOf();
      let cancelled = 0;
      let tried = 0;
      const cancel = async () => ({ cancelled: ++cancelled });
      expect(await db.transaction((tx) => cancelStep(tx, 'test', key, { cancelled: 0 }, cancel))).toEqual({ cancelled: 0 });
      expect(await db.transaction((tx) => cancelStep(tx, 'test', key, { cancelled: 0 }, cancel))).toEqual({ cancelled: 0 });
      const refusal = await failureOf(db.transaction((tx) => forwardStep(tx, 'test', key, async () => ++tried)));
      expect(refusal).toMatchObject({ type: FailureType.StepAlreadyCompensated, nonRetryable: true });
      expect([tried, cancelled]).toEqual([0, 0]);
    });

    it('cancels a try once, answering a repeated cancel with the first result', async () => {
      const { db } = services();
      const key = keyOf();
      let cancelled = 0;
      const cancel = async () => ({ cancelled: ++cancelled });
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'held'));
      expect(await db.transaction((tx) => cancelStep(tx, 'test', key, { cancelled: 0 }, cancel))).toEqual({ cancelled: 1 });
      expect(await db.transaction((tx) => cancelStep(tx, 'test', key, { cancelled: 0 }, cancel))).toEqual({ cancelled: 1 });
      expect(cancelled).toBe(1);
    });

    it('refuses a confirm after the cancel with a typed failure, changing nothing', async () => {
      const { db } = services();
      const key = keyOf();
      let confirmed = 0;
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'held'));
      await db.transaction((tx) => cancelStep(tx, 'test', key, 'nothing', async () => 'released'));
      const refusal = await failureOf(db.transaction((tx) => confirmStep(tx, 'test', key, async () => ++confirmed)));
      expect(refusal).toMatchObject({ type: FailureType.TccPhaseRefused, nonRetryable: true });
      expect(refusal.message).toBe(`test confirm of ${key} refused: it was cancelled before`);
      expect(refusal.details).toEqual([{ service: 'test', key, phase: 'confirm' }]);
      expect(confirmed).toBe(0);
    });

    it('refuses a cancel after the confirm with a typed failure, changing nothing', async () => {
      const { db } = services();
      const key = keyOf();
      let cancelled = 0;
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'held'));
      await db.transaction((tx) => confirmStep(tx, 'test', key, async () => 'taken'));
      const refusal = await failureOf(db.transaction((tx) => cancelStep(tx, 'test', key, 0, async () => ++cancelled)));
      expect(refusal).toMatchObject({ type: FailureType.TccPhaseRefused, nonRetryable: true });
      expect(refusal.message).toBe(`test cancel of ${key} refused: it was confirmed before`);
      expect(cancelled).toBe(0);
      // The refused cancel left no trace: the confirm still answers with its result.
      expect(await db.transaction((tx) => confirmStep(tx, 'test', key, async () => 'again'))).toBe('taken');
    });

    it('refuses to confirm a try that never ran, and lets the cancel decide afterwards', async () => {
      const { db } = services();
      const key = keyOf();
      const refusal = await failureOf(db.transaction((tx) => confirmStep(tx, 'test', key, async () => 'taken')));
      expect(refusal).toMatchObject({ type: FailureType.TccPhaseRefused });
      expect(refusal.message).toBe(`test confirm of ${key} refused: its try never ran`);
      expect(await db.transaction((tx) => cancelStep(tx, 'test', key, 'nothing', async () => 'released'))).toBe('nothing');
    });

    it('refuses a try repeated after its cancel released it', async () => {
      const { db } = services();
      const key = keyOf();
      let tried = 0;
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => ++tried));
      expect(await db.transaction((tx) => cancelStep(tx, 'test', key, 'nothing', async () => 'released'))).toBe('released');
      const refusal = await failureOf(db.transaction((tx) => forwardStep(tx, 'test', key, async () => ++tried)));
      expect(refusal).toMatchObject({ type: 'StepAlreadyCompensated', nonRetryable: true });
      expect(tried).toBe(1);
    });

    it('refuses a first confirm after a compensation of the participant, changing nothing', async () => {
      const { db } = services();
      const key = keyOf();
      let confirmed = 0;
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'held'));
      await db.transaction((tx) => compensationStep(tx, 'test', key, 'nothing', async () => 'undone'));
      const refusal = await failureOf(db.transaction((tx) => confirmStep(tx, 'test', key, async () => ++confirmed)));
      expect(refusal).toMatchObject({ type: 'TccPhaseRefused', nonRetryable: true });
      expect(refusal.message).toBe(`test confirm of ${key} refused: it was compensated before`);
      expect(confirmed).toBe(0);
    });

    it('refuses a confirm repeated after the confirmed participant was compensated, instead of answering that it stands', async () => {
      const { db } = services();
      const key = keyOf();
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'held'));
      expect(await db.transaction((tx) => confirmStep(tx, 'test', key, async () => 'taken'))).toBe('taken');
      await db.transaction((tx) => compensationStep(tx, 'test', key, 'nothing', async () => 'refunded'));
      const refusal = await failureOf(db.transaction((tx) => confirmStep(tx, 'test', key, async () => 'taken again')));
      expect(refusal).toMatchObject({ type: 'TccPhaseRefused' });
      expect(refusal.message).toBe(`test confirm of ${key} refused: it was compensated before`);
    });

    it('lets exactly one of a racing confirm and cancel decide', async () => {
      const { db } = services();
      for (let round = 0; round < 10; round++) {
        const key = keyOf();
        const effects: string[] = [];
        await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'held'));
        const outcomes = await Promise.allSettled([
          db.transaction((tx) => confirmStep(tx, 'test', key, async () => void effects.push('confirm'))),
          db.transaction((tx) => cancelStep(tx, 'test', key, undefined, async () => void effects.push('cancel'))),
        ]);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toMatchObject({ type: FailureType.TccPhaseRefused });
        expect(effects).toHaveLength(1);
      }
    });
  });
});
