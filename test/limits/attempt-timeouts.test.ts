import { describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { createActivities, type Activities } from '../../src/activities';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import type { OrderInput } from '../../src/order/contract';
import type { Services, ShippingService } from '../../src/services';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder } from '../support/samples';

// The time limit of one attempt, pinned at the limit and past it, on the dev server in real time
// (the time-skipping server skips time while an activity runs, so it cannot time an attempt out).
// A wrapper makes the first attempt of one call as slow as its order id says (`…-shipslowMS` for the
// shipment, `…-refundslowMS` for the refund), heartbeating meanwhile as the real activities do, so
// that only the start-to-close timeout can cut it short; later attempts answer at once, as a provider
// over its slow spell would. A fifth scenario slows the carrier itself (`…-carrierslowMS`, its first call
// per order) under the real activities, so that only the product's own heartbeats (`withHeartbeats`)
// keep the attempt past the 10 s heartbeat timeout. The five scenarios run at once, so the file takes
// about as long as the slowest one (a refund timed out at 60 s and retried).

// The limits as documented (docs/reliability.md), not read from the code: changing one is a change of
// contract, and this test is where it shows.
const stepTimeoutMs = 30_000;
const compensationTimeoutMs = 60_000;
const heartbeatTimeoutMs = 10_000;
// 20 % either side: far more than a loaded machine's scheduling jitter, and still short.
const inside = (limitMs: number): number => limitMs * 0.8;
const past = (limitMs: number): number => limitMs * 1.2;
const scenarioTimeoutMs = 150_000;

const startToClose = temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE;
const heartbeat = temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT;
// Clearly past the heartbeat timeout, clearly inside the forward step's start-to-close timeout.
const carrierSlowMs = 16_000;

let seq = 0;

function slowFirstAttempt<I extends { orderId: string }, R>(fn: (input: I) => Promise<R>, tag: string): (input: I) => Promise<R> {
  const pattern = new RegExp(`-${tag}(\\d+)$`);
  return async (input) => {
    const delayMs = Number(pattern.exec(input.orderId)?.[1] ?? 0);
    const context = Context.current();
    if (delayMs > 0 && context.info.attempt === 1) {
      const timer = setInterval(() => context.heartbeat(), 1_000);
      try {
        await context.sleep(delayMs);
      } finally {
        clearInterval(timer);
      }
    }
    return fn(input);
  };
}

/** The carrier, silent as long as the order id says (`…-carrierslowMS`) on its first call per order. */
function slowCarrier(shipping: ShippingService): ShippingService {
  const called = new Set<string>();
  return {
    async create(input) {
      const delayMs = Number(/-carrierslow(\d+)$/.exec(input.orderId)?.[1] ?? 0);
      if (delayMs > 0 && !called.has(input.orderId)) {
        called.add(input.orderId);
        await new Promise((done) => setTimeout(done, delayMs));
      }
      return shipping.create(input);
    },
    cancel: (input) => shipping.cancel(input),
    get: (orderId) => shipping.get(orderId),
  };
}

const testbed = useSagaTestbed({
    server: 'dev-server',
    activities: (real: Activities, realServices: Services) => {
      // The product's activities (heartbeats included) on a slowed carrier: no test-side heartbeat.
      const onSlowCarrier = createActivities({ ...realServices, shipping: slowCarrier(realServices.shipping) });
      return {
        ...real,
        createShipment: slowFirstAttempt(onSlowCarrier.createShipment, 'shipslow'),
        refundPayment: slowFirstAttempt(real.refundPayment, 'refundslow'),
      };
    },
  });

function order(tag: 'shipslow' | 'refundslow' | 'carrierslow', slowMs: number, overrides: Partial<OrderInput> = {}): OrderInput & { orderId: string; email: string } {
  seq += 1;
  return sampleOrder({
    orderId: `o-attempt-${seq}-${Date.now().toString(36)}-${tag}${Math.round(slowMs)}`,
    email: `attempt${seq}@example.com`,
    items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 1000 }],
    ...overrides,
  }) as OrderInput & { orderId: string; email: string };
}

// An address the carrier refuses: the order is undone, its capture refunded.
const antarctica = { name: 'Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' };

/** The attempt an activity closed on and the failure of the attempt before it, from the started event. */
async function closingAttempt(handle: WorkflowHandle, activityType: string): Promise<{ attempt: number; timeoutType: number | undefined; retried: boolean }> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId));
  expect(scheduled).toHaveLength(1);
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === scheduled[0])?.activityTaskStartedEventAttributes;
  expect(started).toBeDefined();
  const lastFailure = started?.lastFailure;
  return { attempt: started?.attempt ?? 0, retried: lastFailure != null, timeoutType: lastFailure?.timeoutFailureInfo?.timeoutType ?? undefined };
}

/** Every heartbeat timeout in a workflow's history: a final one, or an earlier attempt's last failure. */
async function heartbeatTimeouts(handle: WorkflowHandle): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.filter(
    (e) =>
      e.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo?.timeoutType === heartbeat ||
      e.activityTaskStartedEventAttributes?.lastFailure?.timeoutFailureInfo?.timeoutType === heartbeat,
  ).length;
}

describe.concurrent('the time limit of one attempt', () => {
  it(`keeps a shipment whose carrier is silent for ${carrierSlowMs / 1000} s, past the ${heartbeatTimeoutMs / 1000} s heartbeat timeout, on its first attempt: the activity heartbeats`, { timeout: scenarioTimeoutMs }, async () => {
    const input = order('carrierslow', carrierSlowMs);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const startedAt = Date.now();
    const result = await handle.result();
    const elapsedMs = Date.now() - startedAt;
    expect(result).toMatchObject({ status: 'COMPLETED', confirmationSent: true });
    // Without heartbeats the first attempt ends by heartbeat timeout at 10 s and attempt 2 books it.
    expect(await closingAttempt(handle, 'createShipment')).toEqual({ attempt: 1, retried: false, timeoutType: undefined });
    expect(await heartbeatTimeouts(handle)).toBe(0);
    expect(elapsedMs).toBeGreaterThanOrEqual(carrierSlowMs);
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
  });

  it(`accepts a shipment that answers in ${inside(stepTimeoutMs) / 1000} s, inside the forward step's ${stepTimeoutMs / 1000} s, on its first attempt`, { timeout: scenarioTimeoutMs }, async () => {
    const input = order('shipslow', inside(stepTimeoutMs));
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', confirmationSent: true });
    expect(await closingAttempt(handle, 'createShipment')).toEqual({ attempt: 1, retried: false, timeoutType: undefined });
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
  });

  it(`times out a shipment that takes ${past(stepTimeoutMs) / 1000} s at ${stepTimeoutMs / 1000} s, retries it and completes the order`, { timeout: scenarioTimeoutMs }, async () => {
    const input = order('shipslow', past(stepTimeoutMs));
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', confirmationSent: true });
    expect((await handle.query(sagaStateQuery)).steps.find((s) => s.name === 'createShipment')).toMatchObject({ status: 'done' });
    expect(await closingAttempt(handle, 'createShipment')).toEqual({ attempt: 2, retried: true, timeoutType: startToClose });
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
    expect((await testbed.services.payments.get(input.orderId))?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture']);
  });

  it(`accepts a refund that answers in ${inside(compensationTimeoutMs) / 1000} s, inside a compensation's ${compensationTimeoutMs / 1000} s, on its first attempt`, { timeout: scenarioTimeoutMs }, async () => {
    const input = order('refundslow', inside(compensationTimeoutMs), { shippingAddress: antarctica });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    expect(await handle.result().catch((e: unknown) => e)).toBeInstanceOf(WorkflowFailedError);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
    expect(await closingAttempt(handle, 'refundPayment')).toEqual({ attempt: 1, retried: false, timeoutType: undefined });
    expect((await testbed.services.payments.get(input.orderId))?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);
  });

  it(`times out a refund that takes ${past(compensationTimeoutMs) / 1000} s at ${compensationTimeoutMs / 1000} s, retries it and ends COMPENSATED with one refund`, { timeout: scenarioTimeoutMs }, async () => {
    const input = order('refundslow', past(compensationTimeoutMs), { shippingAddress: antarctica });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    expect(await handle.result().catch((e: unknown) => e)).toBeInstanceOf(WorkflowFailedError);
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    expect(state.steps.find((s) => s.name === 'capturePayment')?.compensation).toMatchObject({ status: 'done' });
    expect(await closingAttempt(handle, 'refundPayment')).toEqual({ attempt: 2, retried: true, timeoutType: startToClose });
    expect((await testbed.services.payments.get(input.orderId))?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);
    expect(await testbed.services.mail.outbox({ kind: 'operator-alert' })).toHaveLength(0);
  });
});
