import { patched, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { activity, Saga, sagaActivities, SagaStatus, StepStatus, type SagaOptions, type SagaState } from '@saga-temporal/saga';
import { orderInputBeforeStrictTextSchema, orderInputSchema, orderTotalCents, type OrderInput, type OrderResult } from './contract';
import { parseStrictOrEarlier } from '../shared/validation';
import { alertOperator } from '../operator/workflow';
import { formatMoney } from '../shared/format';
import { compensationRetry, mailOptions, outcomeOptions, stepOptions } from '../shared/policies';
import { OrderOutcome } from '../shared/order-outcome';

// The input rules were tightened (ASCII-only addresses, NFKC, no invisible characters, no free orders)
// while orders were running: one started under the looser rules is parsed with them, or its replay
// would fail at the start on an input it was accepted with.
const STRICT_INPUT_PATCH = 'order-strict-input';

// One proxy per retry policy of src/shared/policies.ts: forward steps, best-effort mail, the outcome.
const stepActivities = sagaActivities<Activities>(stepOptions);
const mailActivities = sagaActivities<Activities>(mailOptions);
const outcomeActivities = sagaActivities<Activities>({ ...outcomeOptions, summary: 'Record the order outcome for the order-events stream' });

// The endings other systems learn of. A saga waiting for an operator has not ended; one that failed
// after its pivot cannot happen to an order (its only step after the pivot is optional).
const outcomeOfStatus: Partial<Record<SagaStatus, OrderOutcome>> = {
  [SagaStatus.COMPLETED]: OrderOutcome.completed,
  [SagaStatus.COMPENSATED]: OrderOutcome.compensated,
  [SagaStatus.CANCELLED]: OrderOutcome.cancelled,
};

/**
 * The order saga: reserve stock and authorize payment in parallel, capture, ship, confirm by e-mail.
 *
 * Any business failure (out of stock, declined, undeliverable) or a cancellation before the shipment
 * exists undoes exactly what started, last first: cancel shipment, refund, void, release. The shipment
 * is the saga's pivot: once it is created the order is committed, and the confirmation e-mail recovers
 * forward (it runs to its end even if a cancellation arrives, and its failure is reported in the
 * result, never compensated).
 */
export async function orderSaga(rawInput: OrderInput): Promise<OrderResult> {
  return runOrderSaga(rawInput, {});
}

/**
 * The order saga's body, with saga options laid over the product's. Not a workflow type (src/workflows.ts
 * registers `orderSaga` only): the benchmark's variants use it to measure one option against the
 * product, for example the status upserts (`searchAttribute: false`).
 */
export async function runOrderSaga(rawInput: OrderInput, overrides: Pick<SagaOptions, 'searchAttribute'>): Promise<OrderResult> {
  const input = parseStrictOrEarlier(orderInputSchema, orderInputBeforeStrictTextSchema, () => patched(STRICT_INPUT_PATCH), 'order', rawInput);
  const { orderId, currency } = input;
  const totalCents = orderTotalCents(input.items);
  const items = input.items.map(({ sku, quantity }) => ({ sku, quantity }));
  const itemCount = items.reduce((n, item) => n + item.quantity, 0);

  // Once the saga has settled (completed, or unwound, in a scope no cancellation reaches), its outcome
  // goes to the outbox of order events under the saga's outcome key, for the relay to publish.
  const recordOutcome = async (state: SagaState): Promise<void> => {
    const outcome = outcomeOfStatus[state.status];
    if (!outcome) return;
    const failure = outcome === OrderOutcome.compensated && state.failure ? { type: state.failure.type ?? 'SagaFailed', ...(state.failure.step ? { step: state.failure.step } : {}) } : undefined;
    await outcomeActivities.recordOrderOutcome({
      orderId,
      outcome,
      ...(failure ? { failure } : {}),
      undone: state.steps.filter((step) => step.status === StepStatus.COMPENSATED).map((step) => step.name),
      totalCents,
      currency,
      itemCount,
      startedAt: workflowInfo().startTime.toISOString(),
    });
  };

  const saga = new Saga({ compensationRetry, onCompensationFailure: 'await-operator', onCompensationFailed: alertOperator('order'), onSettled: recordOutcome, ...overrides });
  return saga.run(async () => {
    setCurrentDetails(`Reserving stock and authorizing ${formatMoney(totalCents, currency)}`);
    const [, authorization] = await saga.parallel([
      {
        name: 'reserveStock',
        summary: `Reserve ${itemCount} unit${itemCount === 1 ? '' : 's'} for order ${orderId}`,
        run: activity(stepActivities.reserveStock, { orderId, items }),
        compensate: { name: 'releaseStock', summary: `Release stock for order ${orderId}`, run: activity(stepActivities.releaseStock, { orderId }) },
      },
      {
        name: 'authorizePayment',
        summary: `Authorize ${formatMoney(totalCents, currency)} for order ${orderId}`,
        run: activity(stepActivities.authorizePayment, { orderId, token: input.payment.token, amountCents: totalCents, currency }),
        compensate: { name: 'voidPayment', summary: `Void payment authorization for order ${orderId}`, run: activity(stepActivities.voidPayment, { orderId }) },
      },
    ] as const);

    setCurrentDetails('Capturing payment');
    await saga.step({
      name: 'capturePayment',
      summary: `Capture payment for order ${orderId}`,
      run: activity(stepActivities.capturePayment, { orderId }),
      compensate: { name: 'refundPayment', summary: `Refund payment for order ${orderId}`, run: activity(stepActivities.refundPayment, { orderId }) },
    });

    setCurrentDetails('Creating shipment');
    const shipment = await saga.step({
      name: 'createShipment',
      summary: `Ship order ${orderId} to ${input.shippingAddress.country}`,
      run: activity(stepActivities.createShipment, { orderId, address: input.shippingAddress, items }),
      compensate: { name: 'cancelShipment', summary: `Cancel shipment of order ${orderId}`, run: activity(stepActivities.cancelShipment, { orderId }) },
      pivot: true,
    });

    setCurrentDetails('Sending confirmation');
    const confirmation = await saga.optionalStep({
      name: 'sendConfirmation',
      summary: `E-mail confirmation of order ${orderId}`,
      run: activity(mailActivities.sendOrderConfirmation, { orderId, email: input.email, totalCents, currency, itemCount }),
    });

    setCurrentDetails(`Completed: tracking ${shipment.trackingNumber}`);
    return {
      orderId,
      status: 'COMPLETED',
      totalCents,
      currency,
      itemCount,
      paymentId: authorization.paymentId,
      shipmentId: shipment.shipmentId,
      carrier: shipment.carrier,
      trackingNumber: shipment.trackingNumber,
      confirmationSent: confirmation.ok,
      ...(confirmation.ok ? {} : { confirmationError: confirmation.error }),
    };
  });
}
