import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/shared/failures';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import { startRegistration } from '../../src/registration/start';
import type { OrderInput } from '../../src/order/contract';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { verificationStateQuery, verifyEmailUpdate } from '../../src/registration/contract';
import { type registrationSaga } from '../../src/registration/workflow';
import { useSagaTestbed } from '../support/testbed';
import { recordHistory } from '../helpers';
import { sampleOrder } from '../support/samples';

// What a saga must never do once it has committed: an order whose shipment exists and a registration
// whose account is active are kept whatever arrives afterwards. A cancellation during the closing
// e-mail ends the saga COMPLETED with nothing refunded, released, cancelled or deleted; a second
// order with the same id never charges again; a failed registration never deletes an active account.

let seq = 0;

const testbed = useSagaTestbed();

const unique = () => `${++seq}-${Date.now().toString(36)}`;

const order = (): OrderInput => sampleOrder({ orderId: `o-commit-${unique()}` });

async function waitForRunningStep(handle: WorkflowHandle, step: string): Promise<void> {
  await expect
    .poll(async () => (await handle.query(sagaStateQuery)).steps.find((s) => s.name === step)?.status, { timeout: 20_000, interval: 25 })
    .toBe('running');
}

function activityTypes(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): string[] {
  return history.events?.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? ''] : [])) ?? [];
}

async function verifiedRegistration(email: string, userId: string): Promise<WorkflowHandle<typeof registrationSaga>> {
  const handle = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper' }, { taskQueue: testbed.taskQueue });
  await expect.poll(async () => (await handle.query(verificationStateQuery)).phase, { timeout: 20_000, interval: 25 }).toBe('waiting');
  const code = await testbed.services.mail.latestVerificationCode(email);
  expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: code! }] })).toMatchObject({ outcome: 'verified' });
  return handle;
}

describe('an order past its commit point', () => {
  it('completes, refunding and releasing nothing, when cancelled while its confirmation e-mail is being sent', async () => {
    const input = order();
    testbed.services.faults.set('mail', { latencyMs: 1500 });
    try {
      const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
      await waitForRunningStep(handle, 'sendConfirmation');
      await handle.cancel();
      const result = await handle.result();

      expect(result).toMatchObject({ status: 'COMPLETED', confirmationSent: true, totalCents: 3998 });
      expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.COMPLETED);
      const state = await handle.query(sagaStateQuery);
      expect(state.status).toBe(SagaStatus.COMPLETED);
      expect(state.steps.filter((s) => s.compensation && s.compensation.status !== 'pending')).toEqual([]);
      // The outcome other systems learn of is `completed`, recorded once the saga has settled.
      expect(activityTypes(await handle.fetchHistory())).toEqual(['reserveStock', 'authorizePayment', 'capturePayment', 'createShipment', 'sendOrderConfirmation', 'recordOrderOutcome']);
      expect(await testbed.services.db.all('SELECT outcome FROM order_events WHERE order_id = ?', [input.orderId])).toEqual([{ outcome: 'completed' }]);
      await recordHistory(handle, 'order', 'cancelled-during-confirmation');

      const payment = await testbed.services.payments.get(input.orderId);
      expect(payment?.status).toBe('captured');
      expect(payment?.ledger.map((e) => [e.kind, e.amountCents])).toEqual([
        ['authorize', 3998],
        ['capture', 3998],
      ]);
      expect((await testbed.services.inventory.reservations(input.orderId)).map((r) => r.status)).toEqual(['held']);
      expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('created');
      expect(await testbed.services.mail.outbox({ to: input.email, kind: 'order-confirmation' })).not.toHaveLength(0);
    } finally {
      testbed.services.faults.set('mail', undefined);
    }
  });

  it('never charges twice: a second start of a completed order is refused and the ledger keeps one capture', async () => {
    const input = order();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await handle.result();
    await expect(startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })).rejects.toThrow(/already started|exists/i);
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.ledger.filter((e) => e.kind === 'capture').map((e) => e.amountCents)).toEqual([3998]);
    expect(await testbed.services.inventory.reservations(input.orderId)).toHaveLength(1);
  });
});

describe('a registration past its commit point', () => {
  it('completes with the account active, nothing deleted, when cancelled while its welcome e-mail is being sent', async () => {
    const email = `grace-commit-${unique()}@example.com`;
    const userId = `u-commit-${unique()}`;
    const handle = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper' }, { taskQueue: testbed.taskQueue });
    await expect.poll(async () => (await handle.query(verificationStateQuery)).phase, { timeout: 20_000, interval: 25 }).toBe('waiting');
    const code = await testbed.services.mail.latestVerificationCode(email);
    testbed.services.faults.set('mail', { latencyMs: 1500 });
    try {
      expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: code! }] })).toMatchObject({ outcome: 'verified' });
      await waitForRunningStep(handle, 'sendWelcome');
      await handle.cancel();
      const result = await handle.result();

      expect(result).toMatchObject({ userId, status: 'ACTIVE', welcomeSent: true });
      expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.COMPLETED);
      expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPLETED);
      const activities = activityTypes(await handle.fetchHistory());
      expect(activities).not.toContain('deleteUser');
      expect(activities).not.toContain('sendRegistrationFailedEmail');
      expect((await testbed.services.users.get(userId))?.status).toBe('active');
      expect((await testbed.services.mail.outbox({ to: email })).map((m) => m.kind)).toEqual(['verification', 'welcome']);
    } finally {
      testbed.services.faults.set('mail', undefined);
    }
  });

  it('never deletes an active account when a later registration naming it fails', async () => {
    const email = `grace-active-${unique()}@example.com`;
    const userId = `u-active-${unique()}`;
    expect((await (await verifiedRegistration(email, userId)).result()).status).toBe('ACTIVE');

    // The same address and user id again: refused at createUser, then unwound. Its deleteUser carries
    // the user id of the active account, and must leave it alone.
    const again = await startRegistration(testbed.env.client, { userId, email, name: 'Grace Hopper' }, { taskQueue: testbed.taskQueue });
    const err = await again.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.EmailTaken);
    expect(activityTypes(await again.fetchHistory())).toContain('deleteUser');
    expect((await again.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
    expect((await testbed.services.users.get(userId))?.status).toBe('active');
  });
});
