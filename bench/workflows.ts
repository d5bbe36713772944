// The benchmark's workflows. `plainOrder` does what `orderSaga` does (same activities, options,
// summaries and stage structure) with a hand-written undo list instead of the saga engine, so the
// difference between the two is what the engine costs. `stepsSaga` and `stepsPlain` are the same
// pair for N no-op steps. Workflow code: sandbox rules apply, activities are imported as types only.

import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { CancellationScope, proxyActivities, proxyLocalActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../src/activities';
import { formatMoney } from '../src/shared/format';
import { orderTotalCents } from '../src/order/contract';
import { activity, defaultCompensationRetry, Saga, sagaActivities, sagaLocalActivities, SagaStatus, StepStatus, type CallOptions, type SagaState, type StepRecord } from '@saga-temporal/saga';
import { orderInputSchema, type OrderInput, type OrderResult } from '../src/order/contract';
import { parseOrFail } from '../src/shared/validation';
import { compensationRetry, mailOptions, outcomeOptions, stepOptions } from '../src/shared/policies';
import { alertOperator } from '../src/operator/workflow';
import { OrderOutcome } from '../src/shared/order-outcome';
import { orderSaga, runOrderSaga } from '../src/order/workflow';
import type { BenchActivities } from './activities';

export { orderSaga };

/** What `plainOrder` returns: the order saga's result. */
export type PlainOrderResult = OrderResult;

const steps = proxyActivities<Activities>(stepOptions);
const mail = proxyActivities<Activities>(mailOptions);
const outcomes = proxyActivities<Activities>({ ...outcomeOptions, summary: 'Record the order outcome for the order-events stream' });

// The options the saga engine gives every compensation call of the order saga.
const undoOptions = (summary: string): CallOptions => ({
  retry: { ...defaultCompensationRetry, ...compensationRetry },
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: undefined,
  summary,
});

function rootFailureType(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? 'ActivityFailed';
  return err instanceof ApplicationFailure ? (err.type ?? 'Failed') : 'Failed';
}

/**
 * The order saga's steps without the engine: stock and authorization in parallel, capture, shipment,
 * confirmation. On a failure it runs the compensations registered so far, last stage first (the
 * failed step's own included, as the engine does), then fails with the root failure's type. Either
 * way it records the outcome for the order-events stream at the end, as the saga's hook does.
 */
export async function plainOrder(rawInput: OrderInput): Promise<PlainOrderResult> {
  const input = parseOrFail(orderInputSchema, 'order', rawInput);
  const { orderId, currency } = input;
  const totalCents = orderTotalCents(input.items);
  const items = input.items.map(({ sku, quantity }) => ({ sku, quantity }));
  const itemCount = items.reduce((n, item) => n + item.quantity, 0);
  const undo: (() => Promise<unknown>)[][] = [];
  const undoneSteps: string[][] = [];
  const outcomeOf = { orderId, totalCents, currency, itemCount };

  let paymentId: string;
  let shipment: { shipmentId: string; carrier: string; trackingNumber: string };
  try {
    setCurrentDetails(`Reserving stock and authorizing ${formatMoney(totalCents, currency)}`);
    undo.push([
      () => steps.releaseStock.executeWithOptions(undoOptions(`Release stock for order ${orderId}`), [{ orderId }]),
      () => steps.voidPayment.executeWithOptions(undoOptions(`Void payment authorization for order ${orderId}`), [{ orderId }]),
    ]);
    undoneSteps.push(['reserveStock', 'authorizePayment']);
    const [reserved, authorized] = await Promise.allSettled([
      steps.reserveStock.executeWithOptions({ summary: `Reserve ${itemCount} unit${itemCount === 1 ? '' : 's'} for order ${orderId}` }, [{ orderId, items }]),
      steps.authorizePayment.executeWithOptions({ summary: `Authorize ${formatMoney(totalCents, currency)} for order ${orderId}` }, [
        { orderId, token: input.payment.token, amountCents: totalCents, currency },
      ]),
    ]);
    if (reserved.status === 'rejected') throw reserved.reason;
    if (authorized.status === 'rejected') throw authorized.reason;
    paymentId = authorized.value.paymentId;

    setCurrentDetails('Capturing payment');
    undo.push([() => steps.refundPayment.executeWithOptions(undoOptions(`Refund payment for order ${orderId}`), [{ orderId }])]);
    undoneSteps.push(['capturePayment']);
    await steps.capturePayment.executeWithOptions({ summary: `Capture payment for order ${orderId}` }, [{ orderId }]);

    setCurrentDetails('Creating shipment');
    undo.push([() => steps.cancelShipment.executeWithOptions(undoOptions(`Cancel shipment of order ${orderId}`), [{ orderId }])]);
    undoneSteps.push(['createShipment']);
    shipment = await steps.createShipment.executeWithOptions({ summary: `Ship order ${orderId} to ${input.shippingAddress.country}` }, [
      { orderId, address: input.shippingAddress, items },
    ]);
  } catch (err) {
    await CancellationScope.nonCancellable(async () => {
      for (const group of undo.reverse()) await Promise.allSettled(group.map((run) => run()));
      await outcomes.recordOrderOutcome({ ...outcomeOf, outcome: 'compensated', failure: { type: rootFailureType(err) }, undone: undoneSteps.reverse().flat() });
    });
    throw ApplicationFailure.create({ type: rootFailureType(err), message: `order ${orderId} failed`, nonRetryable: true, cause: err instanceof Error ? err : undefined });
  }

  setCurrentDetails('Sending confirmation');
  let confirmationError: string | undefined;
  await CancellationScope.nonCancellable(() =>
    mail.sendOrderConfirmation
      .executeWithOptions({ summary: `E-mail confirmation of order ${orderId}` }, [{ orderId, email: input.email, totalCents, currency, itemCount }])
      .catch((err: unknown) => {
        confirmationError = err instanceof Error ? err.message : String(err);
      }),
  );

  await CancellationScope.nonCancellable(() => outcomes.recordOrderOutcome({ ...outcomeOf, outcome: 'completed', undone: [] }));
  setCurrentDetails(`Completed: tracking ${shipment.trackingNumber}`);
  return {
    orderId,
    status: 'COMPLETED',
    totalCents,
    currency,
    itemCount,
    paymentId,
    shipmentId: shipment.shipmentId,
    carrier: shipment.carrier,
    trackingNumber: shipment.trackingNumber,
    confirmationSent: confirmationError === undefined,
    ...(confirmationError === undefined ? {} : { confirmationError }),
  };
}

/** Input of the N-step workflows. */
export interface StepsInput {
  /** How many sequential steps to run. */
  steps: number;
  /** Run the steps as local activities instead of regular ones. @default false */
  local?: boolean;
}

const regularBench = proxyActivities<BenchActivities>({ startToCloseTimeout: '10 seconds' });
const localBench = proxyLocalActivities<BenchActivities>({ startToCloseTimeout: '10 seconds' });

/** N sequential no-op steps as saga steps, each with a compensation; returns the sum of the step positions. */
export async function stepsSaga({ steps: count, local = false }: StepsInput): Promise<number> {
  const acts = local ? localBench : regularBench;
  const saga = new Saga();
  return saga.run(async () => {
    let sum = 0;
    for (let i = 0; i < count; i++) {
      const { i: done } = await saga.step({
        name: `step${i}`,
        run: activity(acts.benchStep, { i }),
        compensate: { name: `undo${i}`, run: activity(acts.benchUndo, { i }) },
      });
      sum += done;
    }
    return sum;
  });
}

/** The same N sequential no-op steps as plain activity calls. */
export async function stepsPlain({ steps: count, local = false }: StepsInput): Promise<number> {
  const acts = local ? localBench : regularBench;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += (await acts.benchStep({ i })).i;
  return sum;
}

// The order saga's forward-step options for local activities: no heartbeat (a local activity has
// none), the same attempt and total timeouts and retry policy.
const { heartbeatTimeout: _heartbeat, ...localStepOptions } = stepOptions;
const { heartbeatTimeout: _mailHeartbeat, ...localMailOptions } = mailOptions;
const localSteps = sagaLocalActivities<Activities>(localStepOptions);
const localMail = sagaLocalActivities<Activities>(localMailOptions);

/**
 * `orderSaga` with every step and compensation a local activity (`sagaLocalActivities`): the same
 * engine, stages, options and activities, without an activity task per step. Measures the local
 * activity lever; the product keeps regular activities for these steps (see BENCHMARKS.md).
 */
export async function orderSagaLocal(rawInput: OrderInput): Promise<Pick<OrderResult, 'orderId' | 'status' | 'paymentId' | 'shipmentId' | 'confirmationSent'>> {
  const input = parseOrFail(orderInputSchema, 'order', rawInput);
  const { orderId, currency } = input;
  const totalCents = orderTotalCents(input.items);
  const items = input.items.map(({ sku, quantity }) => ({ sku, quantity }));
  const itemCount = items.reduce((n, item) => n + item.quantity, 0);
  const saga = new Saga({ compensationRetry });
  return saga.run(async () => {
    const [, authorization] = await saga.parallel([
      {
        name: 'reserveStock',
        run: activity(localSteps.reserveStock, { orderId, items }),
        compensate: { name: 'releaseStock', run: activity(localSteps.releaseStock, { orderId }) },
      },
      {
        name: 'authorizePayment',
        run: activity(localSteps.authorizePayment, { orderId, token: input.payment.token, amountCents: totalCents, currency }),
        compensate: { name: 'voidPayment', run: activity(localSteps.voidPayment, { orderId }) },
      },
    ] as const);
    await saga.step({
      name: 'capturePayment',
      run: activity(localSteps.capturePayment, { orderId }),
      compensate: { name: 'refundPayment', run: activity(localSteps.refundPayment, { orderId }) },
    });
    const shipment = await saga.step({
      name: 'createShipment',
      run: activity(localSteps.createShipment, { orderId, address: input.shippingAddress, items }),
      compensate: { name: 'cancelShipment', run: activity(localSteps.cancelShipment, { orderId }) },
    });
    const confirmation = await CancellationScope.nonCancellable(() =>
      saga.optionalStep({ name: 'sendConfirmation', run: activity(localMail.sendOrderConfirmation, { orderId, email: input.email, totalCents, currency, itemCount }) }),
    );
    return { orderId, status: 'COMPLETED', paymentId: authorization.paymentId, shipmentId: shipment.shipmentId, confirmationSent: confirmation.ok };
  });
}

/**
 * `orderSaga` without its `SagaStatus` search attribute (`searchAttribute: false`): no upsert on
 * success, none of the two when compensating. Side B of the `status-upserts` levers: what those writes
 * cost against the product, everything else equal.
 */
export async function orderSagaWithoutStatus(rawInput: OrderInput): Promise<OrderResult> {
  return runOrderSaga(rawInput, { searchAttribute: false });
}

/**
 * `orderSaga` returning, besides its result, step records of the size and shape the saga put in every
 * result before 0.3.0 (five records, about 1.3 KB): side A of the `result-summary` lever. The records
 * are rebuilt here because the saga's own are no longer in its result; their bytes are what counts.
 */
export async function orderSagaWithStepRecords(rawInput: OrderInput): Promise<OrderResult & { steps: StepRecord[] }> {
  const result = await orderSaga(rawInput);
  const { orderId } = result;
  const at = new Date().toISOString();
  const record = (name: string, group: number, summary: string, more: Partial<StepRecord>): StepRecord => ({ name, status: StepStatus.DONE, group, attempt: 1, summary, ...more, startedAt: at, endedAt: at });
  const pending = (name: string) => ({ compensation: { name, status: 'pending' as const, attempt: 0 } });
  return {
    ...result,
    steps: [
      record('reserveStock', 0, `Reserve ${result.itemCount} units for order ${orderId}`, pending('releaseStock')),
      record('authorizePayment', 0, `Authorize ${formatMoney(result.totalCents, result.currency)} for order ${orderId}`, pending('voidPayment')),
      record('capturePayment', 1, `Capture payment for order ${orderId}`, pending('refundPayment')),
      record('createShipment', 2, `Ship order ${orderId} to GB`, { pivot: true, ...pending('cancelShipment') }),
      record('sendConfirmation', 3, `E-mail confirmation of order ${orderId}`, { recovery: 'forward-recovery' }),
    ],
  };
}

// The short steps that only touch the services' database, as local activities: the same options
// without the heartbeat timeout (a local activity has no heartbeat).
const { heartbeatTimeout: _dbHeartbeat, ...localDbOptions } = stepOptions;
const localDb = sagaLocalActivities<Activities>(localDbOptions);
const regularSteps = sagaActivities<Activities>(stepOptions);
const regularMail = sagaActivities<Activities>(mailOptions);
const regularOutcome = sagaActivities<Activities>({ ...outcomeOptions, summary: 'Record the order outcome for the order-events stream' });

/**
 * `orderSaga` as it would be with its short database steps as local activities: reserve, authorize,
 * capture and the compensations void and release run inside the workflow task; the shipment, its
 * cancellation, the refund, the e-mail and the outcome stay regular activities. Everything else (stages,
 * summaries, pivot, hooks, result) is the product's. Side B of the `local-db-steps` lever.
 */
export async function orderSagaLocalDbSteps(rawInput: OrderInput): Promise<OrderResult> {
  const input = parseOrFail(orderInputSchema, 'order', rawInput);
  const { orderId, currency } = input;
  const totalCents = orderTotalCents(input.items);
  const items = input.items.map(({ sku, quantity }) => ({ sku, quantity }));
  const itemCount = items.reduce((n, item) => n + item.quantity, 0);
  const outcomeOfStatus: Partial<Record<SagaStatus, OrderOutcome>> = {
    [SagaStatus.COMPLETED]: OrderOutcome.completed,
    [SagaStatus.COMPENSATED]: OrderOutcome.compensated,
    [SagaStatus.CANCELLED]: OrderOutcome.cancelled,
  };
  const recordOutcome = async (state: SagaState): Promise<void> => {
    const outcome = outcomeOfStatus[state.status];
    if (!outcome) return;
    const failure = outcome === OrderOutcome.compensated && state.failure ? { type: state.failure.type ?? 'SagaFailed', ...(state.failure.step ? { step: state.failure.step } : {}) } : undefined;
    await regularOutcome.recordOrderOutcome({
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
  const saga = new Saga({ compensationRetry, onCompensationFailure: 'await-operator', onCompensationFailed: alertOperator('order'), onSettled: recordOutcome });
  return saga.run(async () => {
    setCurrentDetails(`Reserving stock and authorizing ${formatMoney(totalCents, currency)}`);
    const [, authorization] = await saga.parallel([
      {
        name: 'reserveStock',
        summary: `Reserve ${itemCount} unit${itemCount === 1 ? '' : 's'} for order ${orderId}`,
        run: activity(localDb.reserveStock, { orderId, items }),
        compensate: { name: 'releaseStock', summary: `Release stock for order ${orderId}`, run: activity(localDb.releaseStock, { orderId }) },
      },
      {
        name: 'authorizePayment',
        summary: `Authorize ${formatMoney(totalCents, currency)} for order ${orderId}`,
        run: activity(localDb.authorizePayment, { orderId, token: input.payment.token, amountCents: totalCents, currency }),
        compensate: { name: 'voidPayment', summary: `Void payment authorization for order ${orderId}`, run: activity(localDb.voidPayment, { orderId }) },
      },
    ] as const);
    setCurrentDetails('Capturing payment');
    await saga.step({
      name: 'capturePayment',
      summary: `Capture payment for order ${orderId}`,
      run: activity(localDb.capturePayment, { orderId }),
      compensate: { name: 'refundPayment', summary: `Refund payment for order ${orderId}`, run: activity(regularSteps.refundPayment, { orderId }) },
    });
    setCurrentDetails('Creating shipment');
    const shipment = await saga.step({
      name: 'createShipment',
      summary: `Ship order ${orderId} to ${input.shippingAddress.country}`,
      run: activity(regularSteps.createShipment, { orderId, address: input.shippingAddress, items }),
      compensate: { name: 'cancelShipment', summary: `Cancel shipment of order ${orderId}`, run: activity(regularSteps.cancelShipment, { orderId }) },
      pivot: true,
    });
    setCurrentDetails('Sending confirmation');
    const confirmation = await saga.optionalStep({
      name: 'sendConfirmation',
      summary: `E-mail confirmation of order ${orderId}`,
      run: activity(regularMail.sendOrderConfirmation, { orderId, email: input.email, totalCents, currency, itemCount }),
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
