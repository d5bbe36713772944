import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FailureType } from '../src/shared/failures';
import { compensationStep, countAttempt, forwardStep } from '@saga-temporal/barrier';
import { failureOf, testEngines, useTestServices } from './postgres';

// The barrier on its own, with business changes that count their calls: the services' own changes are
// harmless to repeat, which would hide a barrier that lets a call through twice or undoes a step that
// never ran. Found by mutation testing (docs/reliability.md).

const keyOf = () => `wf-${randomUUID().slice(0, 8)}/run-1/step`;

describe.each(testEngines())('the idempotency barrier on $name', (engine) => {
  const services = useTestServices(engine);

  describe.skipIf(!engine.create)('forward and compensation calls', () => {
    it('never runs the undo of a step that never ran, and then refuses that step, naming service and key', async () => {
      const { db } = services();
      const key = keyOf();
      let undone = 0;
      let applied = 0;
      const undo = async () => ({ undone: ++undone });
      expect(await db.transaction((tx) => compensationStep(tx, 'test', key, { undone: 0 }, undo))).toEqual({ undone: 0 });
      expect(await db.transaction((tx) => compensationStep(tx, 'test', key, { undone: 0 }, undo))).toEqual({ undone: 0 });
      expect(undone).toBe(0);

      const refusal = await failureOf(db.transaction((tx) => forwardStep(tx, 'test', key, async () => ++applied)));
      expect(refusal).toMatchObject({ type: FailureType.StepAlreadyCompensated, nonRetryable: true });
      expect(refusal.message).toBe(`test step ${key} was compensated before it ran; refusing to apply it now`);
      expect(refusal.details).toEqual([{ service: 'test', key }]);
      expect(applied).toBe(0);
    });

    it('applies a step once and undoes it once, answering repeats with the first result', async () => {
      const { db } = services();
      const key = keyOf();
      let applied = 0;
      let undone = 0;
      const apply = async () => ({ applied: ++applied });
      const undo = async () => ({ undone: ++undone });
      expect(await db.transaction((tx) => forwardStep(tx, 'test', key, apply))).toEqual({ applied: 1 });
      expect(await db.transaction((tx) => forwardStep(tx, 'test', key, apply))).toEqual({ applied: 1 });
      expect(await db.transaction((tx) => compensationStep(tx, 'test', key, { undone: 0 }, undo))).toEqual({ undone: 1 });
      expect(await db.transaction((tx) => compensationStep(tx, 'test', key, { undone: 0 }, undo))).toEqual({ undone: 1 });
      expect([applied, undone]).toEqual([1, 1]);
    });

    it('counts attempts per key across calls', async () => {
      const { db } = services();
      const key = keyOf();
      expect(await countAttempt(db, 'test', key)).toBe(1);
      expect(await countAttempt(db, 'test', key)).toBe(2);
      expect(await countAttempt(db, 'test', keyOf())).toBe(1);
    });
  });
});
