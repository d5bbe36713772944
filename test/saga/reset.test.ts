import { describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure, type ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/shared/failures';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import type { OrderInput } from '../../src/order/contract';
import { audit } from '../../src/services';
import type { orderSaga } from '../../src/order/workflow';
import { verificationStateQuery } from '../../src/registration/contract';
import { resetToTaskScheduling } from '../support/resets';
import { useSagaTestbed } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';
import { sampleOrder, uniqueId } from '../support/samples';

// Resets on a real dev server: an operator's way to recover a stuck or failed saga. A reset starts a
// new run of the same workflow id from a chosen workflow task; the steps after that point run again.
// The idempotency keys name the saga, not the run, so what ran before the reset is found again: no
// second effect, and compensations undo what the old run did.

let seq = 0;

// Orders whose shipment answers late: created in the books, the activity then waits (heartbeating)
// until the order's cancellation reaches it. Only the first call of each order waits.
const lateShipments = new Set<string>();

const testbed = useSagaTestbed({
  server: 'dev-server',
  activities: (real) => ({
    ...real,
    async createShipment(input: Parameters<typeof real.createShipment>[0]) {
      const shipment = await real.createShipment(input);
      if (!lateShipments.delete(input.orderId)) return shipment;
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), 200);
      try {
        await context.cancelled;
      } finally {
        clearInterval(beat);
      }
      return shipment;
    },
  }),
});

const order = (overrides: Partial<OrderInput> = {}): OrderInput => sampleOrder({ orderId: uniqueId('o-reset'), ...overrides });

/** The order's rows in the books: ledger entries by kind, reservations, shipments. */
async function books(orderId: string) {
  const ledger = await testbed.services.db.all<{ kind: string; n: number }>('SELECT kind, COUNT(*) AS n FROM payment_ledger WHERE order_id = ? GROUP BY kind', [orderId]);
  const count = async (table: string) => (await testbed.services.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE order_id = ?`, [orderId]))!.n;
  return {
    ledger: Object.fromEntries(ledger.map((r) => [r.kind, r.n])),
    reservations: await count('reservations'),
    shipments: await count('shipments'),
    payments: await count('payments'),
  };
}

async function failureTypeOf(handle: WorkflowHandle<typeof orderSaga>): Promise<string | undefined> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return ((err as WorkflowFailedError).cause as ApplicationFailure).type ?? undefined;
}

describe('a reset of the order saga', () => {
  it.each(['capturePayment', 'createShipment'])('to the task that scheduled %s completes with the same payment and shipment, each taken once', async (activityType) => {
    const input = order();
    const first = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const done = await first.result();

    const rerun = await resetToTaskScheduling(testbed.env, first, activityType);
    const again = await rerun.result();

    expect(again).toMatchObject({ paymentId: done.paymentId, shipmentId: done.shipmentId, trackingNumber: done.trackingNumber, confirmationSent: true });
    expect((await rerun.query(sagaStateQuery)).status).toBe(SagaStatus.COMPLETED);
    expect(await books(input.orderId)).toEqual({ ledger: { authorize: 1, capture: 1 }, reservations: 1, shipments: 1, payments: 1 });
    expect(await testbed.services.mail.outbox({ to: input.email, kind: 'order-confirmation' }).then((m) => m.filter((x) => x.subject.includes(input.orderId)))).toHaveLength(1);
    expect((await audit(testbed.services)).problems).toEqual([]);
  });

  it('of a failed order, to before its failure, compensates everything exactly once', async () => {
    const input = order({ shippingAddress: { ...order().shippingAddress, country: 'AQ' } });
    const first = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    expect(await failureTypeOf(first)).toBe(FailureType.Undeliverable);
    const undone = await books(input.orderId);
    expect(undone).toEqual({ ledger: { authorize: 1, capture: 1, refund: 1 }, reservations: 1, shipments: 0, payments: 1 });

    // Back to the very first task: the order's first stage runs again in the new run. The first run
    // undid those steps, so they are refused instead of answering with results that no longer stand,
    // and the new run unwinds what it registered, answered from the first undo.
    const rerun = await resetToTaskScheduling(testbed.env, first, 'reserveStock');
    expect(await failureTypeOf(rerun)).toBe(FailureType.StepAlreadyCompensated);
    const state = await rerun.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    expect(state.steps.map((s) => [s.name, s.status])).toEqual([
      ['reserveStock', 'compensated'],
      ['authorizePayment', 'compensated'],
    ]);
    expect(await books(input.orderId)).toEqual(undone);
    for (const r of await testbed.services.inventory.reservations(input.orderId)) expect(r.status).toBe('released');
    expect((await testbed.services.payments.get(input.orderId))?.status).toBe('refunded');
    expect((await audit(testbed.services)).problems).toEqual([]);
  });

  it('of an order cancelled and unwound, to its first workflow task, ends compensated: nothing stands and no confirmation is sent', async () => {
    const input = order();
    lateShipments.add(input.orderId);
    const first = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    // The shipment exists, its activity has not answered: the customer cancels.
    await waitUntil(async () => (await testbed.services.shipping.get(input.orderId)) !== undefined, 30_000);
    await first.cancel();
    const cancelled = await first.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((cancelled as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await first.query(sagaStateQuery)).status).toBe(SagaStatus.CANCELLED);
    const undone = await books(input.orderId);
    expect(undone).toEqual({ ledger: { authorize: 1, capture: 1, refund: 1 }, reservations: 1, shipments: 1, payments: 1 });

    const rerun = await resetToTaskScheduling(testbed.env, first, 'reserveStock');
    // Every step of the first run was undone: the first one is refused, and what the new run
    // registered is undone again, which the barrier answers from the first undo.
    expect(await failureTypeOf(rerun)).toBe('StepAlreadyCompensated');
    expect((await rerun.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
    expect((await rerun.describe()).status.name).toBe('FAILED');
    expect(await books(input.orderId)).toEqual(undone);
    for (const r of await testbed.services.inventory.reservations(input.orderId)) expect(r.status).toBe('released');
    expect((await testbed.services.payments.get(input.orderId))?.status).toBe('refunded');
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('cancelled');
    const confirmations = await testbed.services.mail.outbox({ to: input.email, kind: 'order-confirmation' });
    expect(confirmations.filter((m) => m.subject.includes(input.orderId))).toEqual([]);
    expect((await audit(testbed.services)).problems).toEqual([]);
  });
});

describe('a reset of the registration saga', () => {
  it('after createUser, then cancelled: the new run deletes the account the first run created, and mails once', async () => {
    seq += 1;
    const userId = `u-reset-${seq}-${Date.now().toString(36)}`;
    const email = `reset${seq}.${Date.now().toString(36)}@example.com`;
    const first = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper', verificationTimeout: '1h' }, { taskQueue: testbed.taskQueue });
    await waitUntil(async () => (await first.query(verificationStateQuery)).phase === 'waiting');

    const rerun = await resetToTaskScheduling(testbed.env, first, 'sendVerificationEmail');
    await waitUntil(async () => (await rerun.query(verificationStateQuery)).phase === 'waiting');
    // The verification e-mail of the first run is found again, not sent a second time.
    expect(await testbed.services.mail.outbox({ to: email, kind: 'verification' })).toHaveLength(1);

    await rerun.cancel();
    const err = await rerun.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await rerun.query(sagaStateQuery)).status).toBe(SagaStatus.CANCELLED);
    expect((await testbed.services.users.get(userId))?.status).toBe('deleted');
    expect(await testbed.services.mail.outbox({ to: email, kind: 'registration-failed' })).toHaveLength(1);
    expect((await audit(testbed.services)).problems).toEqual([]);
  });

  it('a second registration of the same address after the first ended is a new saga with its own keys', async () => {
    seq += 1;
    const email = `again${seq}.${Date.now().toString(36)}@example.com`;
    const first = await startRegistration(testbed.env.client, { userId: `u-a-${seq}`, email, name: 'Grace Hopper', verificationTimeout: '1h' }, { taskQueue: testbed.taskQueue });
    await waitUntil(async () => (await first.query(verificationStateQuery)).phase === 'waiting');
    await first.cancel();
    await first.result().catch(() => undefined);

    const second = await startRegistration(testbed.env.client, { userId: `u-a-${seq}`, email, name: 'Grace Hopper', verificationTimeout: '1h' }, { taskQueue: testbed.taskQueue });
    expect(second.workflowId).toBe(first.workflowId);
    await waitUntil(async () => (await second.query(verificationStateQuery)).phase === 'waiting');
    // Same workflow id, same user id: the account is created again and a new code mailed.
    expect((await testbed.services.users.get(`u-a-${seq}`))?.status).toBe('pending');
    expect(await testbed.services.mail.outbox({ to: email, kind: 'verification' })).toHaveLength(2);
    await second.cancel();
    await second.result().catch(() => undefined);
    expect((await testbed.services.users.get(`u-a-${seq}`))?.status).toBe('deleted');
  });
});
