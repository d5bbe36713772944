import { describe, expect, it } from 'vitest';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../src/activities';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import { verificationStateQuery, verifyEmailUpdate } from '../../src/registration/contract';
import type { OrderInput } from '../../src/order/contract';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder } from '../support/samples';

// Retry budgets pinned at the limit and one past it. The real activities run behind a wrapper that
// fails the first N attempts of one call transiently, N read from the order id (`…-failN` for the
// e-mail and the refund, `…-shipfailN` for the shipment), as a provider that is down for a while
// would; the same for the verification code check, N read from the user id (`…-checkfailN`);
// time skipping turns the backoff into milliseconds.

let seq = 0;

// The budgets as documented (README, docs/reliability.md), not read from the policies: changing one
// is a change of contract, and this test is where it shows.
const mailAttempts = 5;
const compensationAttempts = 36;
// Forward steps: five minutes in all, the retries 0.5 s apart at first, doubling up to 30 s.
const stepBudgetSeconds = 5 * 60;
const stepBackoff: Backoff = { initialSeconds: 0.5, coefficient: 2, maximumSeconds: 30 };
// A registration's wrong codes allowed, which a check that cannot be made must not use up.
const codeAttempts = 5;

interface Backoff {
  initialSeconds: number;
  coefficient: number;
  maximumSeconds: number;
}

/** The last attempt that starts inside a budget: the server schedules no retry past it. */
function lastAttemptInsideBudget(budgetSeconds: number, backoff: Backoff): { attempt: number; startsAt: number; nextAt: number } {
  let attempt = 1;
  let startsAt = 0;
  let interval = backoff.initialSeconds;
  while (startsAt + interval <= budgetSeconds) {
    attempt += 1;
    startsAt += interval;
    interval = Math.min(interval * backoff.coefficient, backoff.maximumSeconds);
  }
  return { attempt, startsAt, nextAt: startsAt + interval };
}

const stepLimit = lastAttemptInsideBudget(stepBudgetSeconds, stepBackoff);
// The verification code check: one minute in all, 0.2 s apart at first, doubling up to 5 s.
const checkBudgetSeconds = 60;
const checkLimit = lastAttemptInsideBudget(checkBudgetSeconds, { initialSeconds: 0.2, coefficient: 2, maximumSeconds: 5 });

function failingFirst<A extends unknown[], R>(fn: (...args: A) => Promise<R>, idOf: (...args: A) => string, tag = 'fail'): (...args: A) => Promise<R> {
  const pattern = new RegExp(`-${tag}(\\d+)$`);
  return async (...args) => {
    const failures = Number(pattern.exec(idOf(...args))?.[1] ?? 0);
    const { attempt } = Context.current().info;
    if (attempt <= failures) throw ApplicationFailure.retryable(`Provider unavailable (attempt ${attempt} of ${failures} failing)`, 'ProviderUnavailable');
    return fn(...args);
  };
}

const testbed = useSagaTestbed({
    activities: (real: Activities) => ({
      ...real,
      sendOrderConfirmation: failingFirst(real.sendOrderConfirmation, (input) => input.orderId),
      refundPayment: failingFirst(real.refundPayment, (input) => input.orderId),
      createShipment: failingFirst(real.createShipment, (input) => input.orderId, 'shipfail'),
      checkVerificationCode: failingFirst(real.checkVerificationCode, (input) => input.userId, 'checkfail'),
    }),
  });

function order(failures: number, overrides: Partial<OrderInput> = {}, tag = 'fail'): OrderInput & { orderId: string; email: string } {
  seq += 1;
  return sampleOrder({
    orderId: `o-budget-${seq}-${Date.now().toString(36)}-${tag}${failures}`,
    email: `budget${seq}@example.com`,
    items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 1000 }],
    ...overrides,
  }) as OrderInput & { orderId: string; email: string };
}

const antarctica = { name: 'Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' };

describe(`the confirmation e-mail's budget of ${mailAttempts} attempts`, () => {
  it(`sends the confirmation on the last attempt, after ${mailAttempts - 1} failures`, async () => {
    const input = order(mailAttempts - 1);
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', confirmationSent: true });
    expect((await handle.query(sagaStateQuery)).steps.find((s) => s.name === 'sendConfirmation')).toMatchObject({ status: 'done' });
    expect(await testbed.services.mail.outbox({ to: input.email, kind: 'order-confirmation' })).toHaveLength(1);
  });

  it(`gives up after ${mailAttempts} failures and keeps the order, charged and shipped`, async () => {
    const input = order(mailAttempts);
    const result = await (await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })).result();
    expect(result).toMatchObject({ status: 'COMPLETED', confirmationSent: false, confirmationError: expect.stringMatching(/Provider unavailable/) });
    expect(await testbed.services.mail.outbox({ to: input.email, kind: 'order-confirmation' })).toHaveLength(0);
    expect((await testbed.services.payments.get(input.orderId))?.status).toBe('captured');
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
  });
});

describe(`a compensation's budget of ${compensationAttempts} attempts`, () => {
  it(`refunds on the last attempt, after ${compensationAttempts - 1} failures, without alerting an operator`, async () => {
    const input = order(compensationAttempts - 1, { shippingAddress: antarctica });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    expect(state.steps.find((s) => s.name === 'capturePayment')?.compensation).toMatchObject({ status: 'done' });
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);
    expect(await testbed.services.mail.outbox({ kind: 'operator-alert' })).toHaveLength(0);
    const history = await handle.fetchHistory();
    const refundAttempt = history.events?.find((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt === compensationAttempts);
    expect(refundAttempt).toBeDefined();
  });
});

describe(`a forward step's budget of ${stepBudgetSeconds / 60} minutes`, () => {
  // The history keeps one started event per activity, written when it closes, with its last attempt.
  async function attemptsOf(handle: WorkflowHandle, activityType: string): Promise<number[]> {
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId)));
    return events.flatMap((e) => {
      const started = e.activityTaskStartedEventAttributes;
      return started && scheduled.has(String(started.scheduledEventId)) ? [started.attempt ?? 0] : [];
    });
  }

  it(`ships on attempt ${stepLimit.attempt}, the last that starts inside the budget (at ${stepLimit.startsAt} s), and completes the order`, async () => {
    const input = order(stepLimit.attempt - 1, {}, 'shipfail');
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', confirmationSent: true });
    expect((await handle.query(sagaStateQuery)).steps.find((s) => s.name === 'createShipment')).toMatchObject({ status: 'done' });
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
    expect((await testbed.services.payments.get(input.orderId))?.status).toBe('captured');
    expect(await attemptsOf(handle, 'createShipment')).toEqual([stepLimit.attempt]);
  });

  it(`gives up when attempt ${stepLimit.attempt} fails too (the next would start at ${stepLimit.nextAt} s) and compensates with the step's timeout as the failure`, async () => {
    const input = order(stepLimit.attempt, {}, 'shipfail');
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    // The server reports the budget as the retry state; the error itself is the last attempt's.
    const lastError = { message: `Provider unavailable (attempt ${stepLimit.attempt} of ${stepLimit.attempt} failing)`, type: 'ProviderUnavailable' };
    expect(state.failure).toEqual({ step: 'createShipment', ...lastError });
    const shipment = state.steps.find((s) => s.name === 'createShipment');
    expect(shipment).toMatchObject({ status: 'compensated', error: { ...lastError, retryState: 'TIMEOUT' } });
    const elapsedSeconds = (Date.parse(shipment?.endedAt ?? '') - Date.parse(shipment?.startedAt ?? '')) / 1000;
    expect(elapsedSeconds).toBeGreaterThanOrEqual(stepLimit.startsAt);
    expect(elapsedSeconds).toBeLessThan(stepBudgetSeconds);
    expect(state.steps.map((s) => [s.name, s.compensation?.status])).toEqual([
      ['reserveStock', 'done'],
      ['authorizePayment', 'done'],
      ['capturePayment', 'done'],
      ['createShipment', 'done'],
    ]);
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);
    expect(await testbed.services.shipping.get(input.orderId)).toBeUndefined();
    expect(await testbed.services.mail.outbox({ to: input.email, kind: 'order-confirmation' })).toHaveLength(0);
    expect(await attemptsOf(handle, 'createShipment')).toEqual([stepLimit.attempt]);
  });
});

describe(`the verification code check's budget of ${checkBudgetSeconds} seconds`, () => {
  async function waitingRegistration(failures: number): Promise<{ handle: WorkflowHandle; code: string; userId: string }> {
    seq += 1;
    const userId = `u-budget-${seq}-${Date.now().toString(36)}-checkfail${failures}`;
    const email = `budget${seq}.${Date.now().toString(36)}@example.com`;
    const handle = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper' }, { taskQueue: testbed.taskQueue });
    await expect.poll(async () => (await handle.query(verificationStateQuery)).phase, { timeout: 20_000, interval: 25 }).toBe('waiting');
    const code = await testbed.services.mail.latestVerificationCode(email);
    if (!code) throw new Error(`no verification e-mail to ${email}`);
    return { handle, code, userId };
  }

  // An update does not move the clock by itself: once the check is under way, a sleep past the
  // budget lets its retries run (sleeping earlier would pass the time before the check starts).
  async function verifyWhileTimePasses(handle: WorkflowHandle, code: string): Promise<unknown> {
    const answer = handle.executeUpdate(verifyEmailUpdate, { args: [{ code }] }).catch((e: unknown) => e);
    await expect.poll(async () => (await handle.describe()).raw.pendingActivities?.length ?? 0, { timeout: 20_000, interval: 25 }).toBe(1);
    await testbed.env.sleep(`${2 * checkBudgetSeconds} seconds`);
    return answer;
  }

  it(`accepts the code on attempt ${checkLimit.attempt}, the last that starts inside the budget (at ${checkLimit.startsAt} s)`, async () => {
    const { handle, code, userId } = await waitingRegistration(checkLimit.attempt - 1);
    expect(await verifyWhileTimePasses(handle, code)).toEqual({ accepted: true, outcome: 'verified', attemptsLeft: codeAttempts });
    expect(await handle.result()).toMatchObject({ status: 'ACTIVE' });
    expect((await testbed.services.users.get(userId))?.status).toBe('active');
  });

  it(`fails the update when attempt ${checkLimit.attempt} fails too (the next would start at ${checkLimit.nextAt} s), without costing an attempt`, async () => {
    const { handle, code, userId } = await waitingRegistration(checkLimit.attempt);
    const answer = await verifyWhileTimePasses(handle, code);
    expect(answer).toBeInstanceOf(WorkflowUpdateFailedError);
    const failure = (answer as WorkflowUpdateFailedError).cause;
    expect(failure).toBeInstanceOf(ActivityFailure);
    expect(failure).toMatchObject({ activityType: 'checkVerificationCode', retryState: 'TIMEOUT' });
    expect(failure?.cause).toMatchObject({ type: 'ProviderUnavailable', message: `Provider unavailable (attempt ${checkLimit.attempt} of ${checkLimit.attempt} failing)` });
    expect(await handle.query(verificationStateQuery)).toMatchObject({ phase: 'waiting', attemptsLeft: codeAttempts });
    expect((await testbed.services.users.get(userId))?.status).toBe('pending');
  });
});
