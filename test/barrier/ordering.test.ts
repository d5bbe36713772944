import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FailureType } from '../../src/shared/failures';
import { compensationStep, countAttempt, forwardStep } from '@saga-temporal/barrier';
import { failureOf, testEngines, useTestServices } from '../postgres';

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

    it('refuses a forward call after its compensation ran, whoever wrote the try row', async () => {
      const { db } = services();
      const key = keyOf();
      let applied = 0;
      let undone = 0;
      expect(await db.transaction((tx) => forwardStep(tx, 'test', key, async () => ({ applied: ++applied })))).toEqual({ applied: 1 });
      expect(await db.transaction((tx) => compensationStep(tx, 'test', key, { undone: 0 }, async () => ({ undone: ++undone })))).toEqual({ undone: 1 });

      // A run reset to before the step delivers it again: its first result no longer stands.
      const refusal = await failureOf(db.transaction((tx) => forwardStep(tx, 'test', key, async () => ({ applied: ++applied }))));
      expect(refusal).toMatchObject({ type: 'StepAlreadyCompensated', nonRetryable: true });
      expect(refusal.message).toBe(`test step ${key} was compensated after it ran; refusing to apply it again`);
      expect(refusal.details).toEqual([{ service: 'test', key }]);
      expect([applied, undone]).toEqual([1, 1]);
    });

    it('makes a repeated forward call wait for a compensation still open on its key, then refuses it', async () => {
      const { db } = services();
      const key = keyOf();
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'applied'));
      let undoing!: () => void;
      const undoStarted = new Promise<void>((resolve) => (undoing = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const compensation = db.transaction((tx) =>
        compensationStep(tx, 'test', key, 'nothing', async () => {
          undoing();
          await released;
          return 'undone';
        }),
      );
      await undoStarted;
      const repeated = failureOf(db.transaction((tx) => forwardStep(tx, 'test', key, async () => 'applied twice')));
      // Long enough for the repeated call to reach the barrier while the compensation is still open.
      await new Promise((resolve) => setTimeout(resolve, 200));
      release();
      expect(await compensation).toBe('undone');
      expect(await repeated).toMatchObject({ type: 'StepAlreadyCompensated' });
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
