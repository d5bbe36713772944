import { randomUUID } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { barrierDecisionsTable, barrierSchema, cancelStep, compensationStep, confirmStep, forwardStep, type BarrierOutcome } from '@saga-temporal/barrier';
import { sqliteBarrierDatabase } from '@saga-temporal/barrier/sqlite';
import { FailureType } from '../../src/shared/failures';
import { createServices, type InjectedFault, type Services } from '../../src/services';
import { failureOf, testEngines, type TestDatabase } from '../postgres';

// The barrier's observer hook, through the services' database on both engines: what it reports for
// each delivery order, that a rolled-back transaction reports nothing, and the injected faults the
// services report beside it. test/observability/metrics.test.ts counts the same through a worker.

const keyOf = () => `wf-${randomUUID().slice(0, 8)}/run-1/step`;
const outcome = (service: string, phase: BarrierOutcome['phase'], kind: BarrierOutcome['outcome']): BarrierOutcome => ({ service, phase, outcome: kind });

describe.each(testEngines())('barrier outcomes on $name', (engine) => {
  let database: TestDatabase | undefined;
  let services: Services;
  let seen: BarrierOutcome[] = [];
  let faults: InjectedFault[] = [];
  let failingObserver = false;

  beforeAll(async () => {
    if (!engine.create) return;
    database = await engine.create();
    services = await createServices({
      databaseUrl: database.url,
      faults: {},
      observer: {
        barrierOutcome: (o) => {
          seen.push(o);
          if (failingObserver) throw new Error('observer failed');
        },
        injectedFault: (f) => faults.push(f),
      },
    });
  });
  afterAll(async () => {
    await services?.close();
    await database?.drop();
  });
  beforeEach(() => {
    seen = [];
    faults = [];
    failingObserver = false;
    services?.faults.clear();
  });

  describe.skipIf(!engine.create)('the services database', () => {
    it('reports a first run as applied and its repeat as a duplicate, for a step and its compensation', async () => {
      const { db } = services;
      const key = keyOf();
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 1));
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 2));
      await db.transaction((tx) => compensationStep(tx, 'test', key, 0, async () => 1));
      await db.transaction((tx) => compensationStep(tx, 'test', key, 0, async () => 2));
      expect(seen).toEqual([
        outcome('test', 'forward', 'applied'),
        outcome('test', 'forward', 'duplicate'),
        outcome('test', 'compensation', 'applied'),
        outcome('test', 'compensation', 'duplicate'),
      ]);
    });

    it('reports a compensation whose step never ran as nothing_to_undo, and the late step as refused_late', async () => {
      const { db } = services;
      const key = keyOf();
      await db.transaction((tx) => compensationStep(tx, 'test', key, 0, async () => 1));
      const refusal = await failureOf(db.transaction((tx) => forwardStep(tx, 'test', key, async () => 1)));
      expect(refusal.type).toBe(FailureType.StepAlreadyCompensated);
      expect(seen).toEqual([outcome('test', 'compensation', 'nothing_to_undo'), outcome('test', 'forward', 'refused_late')]);
    });

    it('reports nothing for a transaction that rolled back after the barrier decided, and applied once it commits', async () => {
      const { db } = services;
      const key = keyOf();
      await expect(
        db.transaction(async (tx) => {
          await forwardStep(tx, 'test', key, async () => 1);
          throw new Error('a later statement of the same transaction failed');
        }),
      ).rejects.toThrow('later statement');
      expect(seen).toEqual([]);
      await db.transaction((tx) => forwardStep(tx, 'test', key, async () => 1));
      expect(seen).toEqual([outcome('test', 'forward', 'applied')]);
    });

    it('reports nothing for a service call refused by its own business rule (out of stock)', async () => {
      const refusal = await failureOf(services.inventory.reserve({ key: keyOf(), orderId: 'o-outcomes', items: [{ sku: 'sku-soldout', quantity: 1 }] }));
      expect(refusal.type).toBe(FailureType.OutOfStock);
      expect(seen).toEqual([]);
    });

    it('reports the try-confirm-cancel decisions and refusals under their phases', async () => {
      const { db } = services;
      const confirmed = keyOf();
      await db.transaction((tx) => forwardStep(tx, 'tcc', confirmed, async () => 1));
      await db.transaction((tx) => confirmStep(tx, 'tcc', confirmed, async () => 1));
      await db.transaction((tx) => confirmStep(tx, 'tcc', confirmed, async () => 2));
      expect((await failureOf(db.transaction((tx) => cancelStep(tx, 'tcc', confirmed, 0, async () => 1)))).type).toBe(FailureType.TccPhaseRefused);

      const cancelledFirst = keyOf();
      await db.transaction((tx) => cancelStep(tx, 'tcc', cancelledFirst, 0, async () => 1));
      await db.transaction((tx) => cancelStep(tx, 'tcc', cancelledFirst, 0, async () => 2));
      expect((await failureOf(db.transaction((tx) => confirmStep(tx, 'tcc', cancelledFirst, async () => 1)))).type).toBe(FailureType.TccPhaseRefused);
      expect((await failureOf(db.transaction((tx) => forwardStep(tx, 'tcc', cancelledFirst, async () => 1)))).type).toBe(FailureType.StepAlreadyCompensated);

      const neverTried = keyOf();
      expect((await failureOf(db.transaction((tx) => confirmStep(tx, 'tcc', neverTried, async () => 1)))).type).toBe(FailureType.TccPhaseRefused);

      expect(seen).toEqual([
        outcome('tcc', 'forward', 'applied'),
        outcome('tcc', 'confirm', 'applied'),
        outcome('tcc', 'confirm', 'duplicate'),
        outcome('tcc', 'cancel', 'refused_after_confirm'),
        outcome('tcc', 'cancel', 'nothing_to_undo'),
        outcome('tcc', 'cancel', 'duplicate'),
        outcome('tcc', 'confirm', 'refused_after_cancel'),
        outcome('tcc', 'forward', 'refused_late'),
        outcome('tcc', 'confirm', 'refused_not_tried'),
      ]);
    });

    it('keeps a committed call successful when the observer throws', async () => {
      failingObserver = true;
      const reservation = await services.inventory.reserve({ key: keyOf(), orderId: 'o-outcomes', items: [{ sku: 'sku-widget', quantity: 1 }] });
      expect(reservation.units).toBe(1);
      expect(seen).toEqual([outcome('inventory', 'forward', 'applied')]);
    });

    it('reports a lost reply as an injected fault after the change committed, and the retry as a duplicate', async () => {
      const key = keyOf();
      services.faults.set('inventory', { lostReplyRate: 1 });
      const lost = await failureOf(services.inventory.reserve({ key, orderId: 'o-outcomes', items: [{ sku: 'sku-widget', quantity: 1 }] }));
      expect(lost.type).toBe('LostReply');
      services.faults.set('inventory', undefined);
      await services.inventory.reserve({ key, orderId: 'o-outcomes', items: [{ sku: 'sku-widget', quantity: 1 }] });
      expect(seen).toEqual([outcome('inventory', 'forward', 'applied'), outcome('inventory', 'forward', 'duplicate')]);
      expect(faults).toEqual([{ service: 'inventory', operation: 'reserve', fault: 'lost_reply' }]);
    });

    it('reports each kind of injected fault with the operation name, never an id', async () => {
      services.faults.set('payments', { failOperations: ['refund'], latencyMs: 1 });
      services.faults.set('shipping', { transientErrorRate: 1 });
      await failureOf(services.payments.refund({ key: keyOf(), orderId: 'o-outcomes' }));
      await failureOf(services.shipping.cancel({ key: keyOf(), orderId: 'o-outcomes' }));
      expect(faults).toEqual([
        { service: 'payments', operation: 'refund', fault: 'latency' },
        { service: 'payments', operation: 'refund', fault: 'fail' },
        { service: 'shipping', operation: 'cancel', fault: 'transient' },
      ]);
      expect(seen).toEqual([]);
    });
  });
});

describe('the SQLite adapter of the barrier package', () => {
  it('reports outcomes through onOutcome once a transaction commits, and none for one rolled back', async () => {
    const connection = new BetterSqlite3(':memory:');
    for (const statement of [...barrierSchema, barrierDecisionsTable]) connection.exec(statement);
    const reported: BarrierOutcome[] = [];
    const db = sqliteBarrierDatabase(connection, { onOutcome: (o) => reported.push(o) });
    const key = keyOf();
    await expect(
      db.transaction(async (tx) => {
        await forwardStep(tx, 'pkg', key, async () => 1);
        expect(reported).toEqual([]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(reported).toEqual([]);
    await db.transaction((tx) => forwardStep(tx, 'pkg', key, async () => 1));
    await db.transaction((tx) => compensationStep(tx, 'pkg', keyOf(), 0, async () => 1));
    expect(reported).toEqual([outcome('pkg', 'forward', 'applied'), outcome('pkg', 'compensation', 'nothing_to_undo')]);
    connection.close();
  });
});
