import { describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { FailureType } from '../../src/shared/failures';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { orderWorkflowId, startOrder } from '../../src/order/start';
import type { OrderInput } from '../../src/order/contract';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import type { orderSaga } from '../../src/order/workflow';
import { recordHistory, uniqueTaskQueue, workflowBundle } from '../helpers';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder } from '../support/samples';
import { failureOf } from '../support/order-failures';


// On the dev server: a failing parallel stage cancels its sibling, and the Java time-skipping server
// cannot take a cancellation that races the sibling's completion (ACTIVITY_UNKNOWN). Orders have no
// timers to skip.
const testbed = useSagaTestbed({ server: 'dev-server' });

/** Two lines, so that a reservation holds stock of both SKUs. */
const order = (overrides: Partial<OrderInput> = {}): OrderInput =>
  sampleOrder({
    items: [
      { sku: 'sku-widget', quantity: 2, unitPriceCents: 1999 },
      { sku: 'sku-gadget', quantity: 1, unitPriceCents: 1999 },
    ],
    ...overrides,
  });

async function held(): Promise<number> {
  const [widget, gadget] = await Promise.all([testbed.services.inventory.stock('sku-widget'), testbed.services.inventory.stock('sku-gadget')]);
  return (widget?.held ?? 0) + (gadget?.held ?? 0);
}


/** Nothing of a failed order is left: no stock held, no money kept, no live shipment. */
async function expectNothingKept(orderId: string): Promise<void> {
  for (const r of await testbed.services.inventory.reservations(orderId)) expect(r.status).toBe('released');
  const payment = await testbed.services.payments.get(orderId);
  if (payment) {
    const sum = (kind: string) => payment.ledger.filter((e) => e.kind === kind).reduce((n, e) => n + e.amountCents, 0);
    expect(sum('capture') - sum('refund')).toBe(0);
    expect(['voided', 'refunded']).toContain(payment.status);
  }
  const shipment = await testbed.services.shipping.get(orderId);
  if (shipment) expect(shipment.status).toBe('cancelled');
}

async function waitForStep(handle: WorkflowHandle<typeof orderSaga>, step: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const state = await handle.query(sagaStateQuery);
    if (state.steps.some((s) => s.name === step && s.status === 'running')) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`step ${step} never started`);
}

describe('order saga', () => {
  it('reserves, charges exactly the total, ships and confirms a good order', async () => {
    const before = await held();
    const input = order();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();

    expect(result).toMatchObject({ orderId: input.orderId, status: 'COMPLETED', totalCents: 5997, currency: 'EUR', itemCount: 3, confirmationSent: true });
    // The result carries the business fields only; the step records are in the state query.
    expect(Object.keys(result).sort()).toEqual(['carrier', 'confirmationSent', 'currency', 'itemCount', 'orderId', 'paymentId', 'shipmentId', 'status', 'totalCents', 'trackingNumber']);
    expect((await handle.query(sagaStateQuery)).steps.map((s) => [s.name, s.status])).toEqual([
      ['reserveStock', 'done'],
      ['authorizePayment', 'done'],
      ['capturePayment', 'done'],
      ['createShipment', 'done'],
      ['sendConfirmation', 'done'],
    ]);
    expect(await held()).toBe(before + 3);
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.status).toBe('captured');
    expect(payment?.ledger.filter((e) => e.kind === 'capture').map((e) => e.amountCents)).toEqual([5997]);
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
    expect(await testbed.services.mail.outbox({ to: 'ada@example.com', kind: 'order-confirmation' })).toHaveLength(1);

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.COMPLETED);
    expect(await description.staticSummary()).toBe(`Order ${input.orderId}: 3 items, 59.97 EUR`);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPLETED);
    await recordHistory(handle, 'order', 'completed');
  });

  it('voids the payment authorized in parallel when the stock is sold out', async () => {
    const before = await held();
    const input = order({ items: [{ sku: 'sku-soldout', quantity: 1, unitPriceCents: 500 }] });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const { type, state } = await failureOf(handle);
    expect(type).toBe(FailureType.OutOfStock);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    expect(state.steps.find((s) => s.name === 'reserveStock')?.status).toMatch(/failed|compensated/);
    expect(state.steps.find((s) => s.name === 'capturePayment')).toBeUndefined();
    expect(await held()).toBe(before);
    await expectNothingKept(input.orderId);
    await recordHistory(handle, 'order', 'out-of-stock');
  });

  it('releases the stock when the payment is declined', async () => {
    const before = await held();
    const input = order({ payment: { token: 'tok_declined' } });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const { type, state } = await failureOf(handle);
    expect(type).toBe(FailureType.PaymentDeclined);
    expect(state.failure).toMatchObject({ step: 'authorizePayment', type: FailureType.PaymentDeclined });
    expect(state.steps.find((s) => s.name === 'reserveStock')?.status).toBe('compensated');
    expect(await held()).toBe(before);
    await expectNothingKept(input.orderId);
  });

  it('refunds, voids and releases, in reverse order, when no carrier serves the address', async () => {
    const before = await held();
    const input = order({ shippingAddress: { name: 'Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' } });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const { type, state } = await failureOf(handle);
    expect(type).toBe(FailureType.Undeliverable);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    const compensated = state.steps.filter((s) => s.compensation?.status === 'done').sort((a, b) => (a.compensation!.endedAt! < b.compensation!.endedAt! ? -1 : 1));
    expect(compensated.map((s) => s.compensation?.name).slice(0, 2)).toEqual(['cancelShipment', 'refundPayment']);
    expect(await held()).toBe(before);
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);
    await expectNothingKept(input.orderId);
    expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.COMPENSATED);
    await recordHistory(handle, 'order', 'undeliverable');
  });

  it('completes after the transient payment failures of tok_flaky are retried', async () => {
    const input = order({ payment: { token: 'tok_flaky' } });
    const result = await (await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })).result();
    expect(result.status).toBe('COMPLETED');
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.ledger.filter((e) => e.kind === 'authorize')).toHaveLength(1);
    expect(payment?.status).toBe('captured');
  });

  it('keeps the order when only the confirmation e-mail bounces', async () => {
    const input = order({ email: 'nobody@bounce.test' });
    const result = await (await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })).result();
    expect(result.status).toBe('COMPLETED');
    expect(result.confirmationSent).toBe(false);
    expect(result.confirmationError).toMatch(/bounce/i);
    expect((await testbed.services.payments.get(input.orderId))?.status).toBe('captured');
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
  });

  it('refuses a second start of the same order', async () => {
    const input = order();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await handle.result();
    await expect(startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })).rejects.toThrow(/already started|exists/i);
  });

  it('fails at once with InvalidInput, before any step, when started with bad input directly', async () => {
    const handle = await testbed.env.client.workflow.start('orderSaga', {
      taskQueue: testbed.taskQueue,
      workflowId: orderWorkflowId(`bad-${Date.now()}`),
      args: [{ ...order(), items: [{ sku: 'sku-widget', quantity: -1, unitPriceCents: 1 }] }],
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.InvalidInput);
    const history = await handle.fetchHistory();
    expect(history.events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  describe('cancellation', () => {
    for (const [stage, service, step] of [
      ['while stock and payment are being held', 'inventory', 'reserveStock'],
      ['while the payment is being captured', 'payments', 'capturePayment'],
      ['while the shipment is being created', 'shipping', 'createShipment'],
    ] as const) {
      it(`undoes everything done so far when the customer cancels ${stage}`, async () => {
        const before = await held();
        testbed.services.faults.set(service, { latencyMs: 1500 });
        try {
          const input = order();
          const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
          await waitForStep(handle, step);
          await handle.cancel();
          const err = await handle.result().catch((e: unknown) => e);
          expect(err).toBeInstanceOf(WorkflowFailedError);
          expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
          expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.CANCELLED);
          expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.CANCELLED);
          // The slowed call may land after its compensation: the barrier must refuse it.
          await new Promise((r) => setTimeout(r, 1700));
          expect(await held()).toBe(before);
          await expectNothingKept(input.orderId);
          if (step === 'capturePayment') await recordHistory(handle, 'order', 'cancelled-during-capture');
        } finally {
          testbed.services.faults.set(service, undefined);
        }
      });
    }
  });

  it('finishes on a new worker, charging once, when the worker dies after capturing', async () => {
    // A first worker whose capture commits and then never answers, like a process killed mid-call.
    const queue = uniqueTaskQueue('handover');
    const activities = createActivities(testbed.services);
    let captured!: () => void;
    const capturedOnce = new Promise<void>((r) => (captured = r));
    const dying = await Worker.create({
      connection: testbed.env.nativeConnection,
      taskQueue: queue,
      workflowBundle: await workflowBundle(),
      shutdownGraceTime: '100 ms',
      // The Java test server keeps a dead worker's sticky queue forever; without a cache every
      // workflow task goes to the shared queue, where the next worker finds it.
      maxCachedWorkflows: 0,
      activities: {
        ...activities,
        async capturePayment(input: { orderId: string }) {
          await activities.capturePayment(input);
          captured();
          await new Promise((_, reject) => Context.current().cancellationSignal.addEventListener('abort', () => reject(new Error('worker stopped'))));
          throw new Error('unreachable');
        },
      },
    });
    const input = order();
    const dyingRun = dying.run();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: queue });
    await capturedOnce;
    dying.shutdown();
    await dyingRun;

    const fresh = await Worker.create({ connection: testbed.env.nativeConnection, taskQueue: queue, workflowBundle: await workflowBundle(), activities });
    const result = await fresh.runUntil(handle.result());
    expect(result.status).toBe('COMPLETED');
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.ledger.filter((e) => e.kind === 'capture')).toHaveLength(1);
    expect(payment?.ledger.filter((e) => e.kind === 'authorize')).toHaveLength(1);
    expect((await testbed.services.inventory.reservations(input.orderId)).filter((r) => r.status === 'held')).toHaveLength(1);
  });
});
