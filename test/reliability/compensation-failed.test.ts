import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { runCli } from '../../src/cli';
import { retryCompensationUpdate, SagaStatus, sagaStateQuery, type SagaFailureDetails, type SagaState } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import type { OrderInput } from '../../src/order/contract';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { audit } from '../../src/services';
import type { orderSaga } from '../../src/order/workflow';
import { compensationRetry } from '../../src/shared/policies';
import { recordHistory } from '../helpers';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder, uniqueId } from '../support/samples';

// A refund that the payment provider refuses for a day. The real compensation retry budget runs out
// under time skipping; the saga must then say so everywhere, alert an operator and wait for one.


const testbed = useSagaTestbed();

/** An order no carrier delivers: it fails after the payment was captured, so it must be refunded. */
function undeliverableOrder(): OrderInput {
  return sampleOrder({
    orderId: uniqueId('stuck'),
    customerId: 'c-ops',
    email: 'polar@example.com',
    items: [{ sku: 'sku-widget', quantity: 2, unitPriceCents: 1250 }],
    shippingAddress: { name: 'Research Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' },
  });
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: testbed.env.address } });
  return { code, out, err };
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const alerts = () => testbed.services.mail.outbox({ to: testbed.services.operatorEmail, kind: 'operator-alert' });

interface Stuck {
  input: OrderInput & { orderId: string };
  handle: WorkflowHandle<typeof orderSaga>;
}

// The Java test server answers an update "not found" while time skipping is unlocked (as it is while
// a `result()` is awaited), so time is skipped explicitly, with updates sent only while it is locked.
const RETRY_BUDGET_AND_MORE = '3 days';

/** Starts an undeliverable order while refunds fail, and waits until the saga has given up and alerted. */
async function stuckOrder(): Promise<Stuck> {
  const input = undeliverableOrder();
  const alertsBefore = (await alerts()).length;
  testbed.services.faults.set('payments', { failOperations: ['refund'] });
  const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
  await testbed.env.sleep(RETRY_BUDGET_AND_MORE);
  await eventually(alerts, (a) => a.length === alertsBefore + 1, 'the operator alert');
  await eventually(() => handle.query(sagaStateQuery), (s) => s.status === SagaStatus.COMPENSATION_FAILED, 'COMPENSATION_FAILED');
  return { input, handle };
}

async function endOf(handle: WorkflowHandle): Promise<unknown> {
  return handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
}

const sagaStatusOf = async (handle: WorkflowHandle) => (await handle.describe()).typedSearchAttributes.get(SagaStatusKey);

function failureDetailsOf(err: unknown): { type: string | undefined; details: SagaFailureDetails } {
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return { type: (cause as ApplicationFailure).type ?? undefined, details: (cause as ApplicationFailure).details?.[0] as SagaFailureDetails };
}

describe('a compensation that cannot succeed', () => {
  it('is retried for its whole budget, then the saga reports COMPENSATION_FAILED in its state and search attribute, alerts the operators and waits', async () => {
    const { input, handle } = await stuckOrder();
    try {
      const state: SagaState = await handle.query(sagaStateQuery);
      expect(state.compensationFailures).toEqual([expect.objectContaining({ step: 'capturePayment', type: 'InjectedFault' })]);
      const capture = state.steps.find((s) => s.name === 'capturePayment');
      expect(capture?.compensation).toMatchObject({ name: 'refundPayment', status: 'failed', error: { retryState: 'MAXIMUM_ATTEMPTS_REACHED' } });
      // The budget is about a day of workflow time: 12 doublings up to an hour, then hourly.
      const spentMs = Date.parse(capture!.compensation!.endedAt!) - Date.parse(capture!.compensation!.startedAt!);
      expect(spentMs).toBeGreaterThan(20 * 3_600_000);
      expect(await sagaStatusOf(handle)).toBe(SagaStatus.COMPENSATION_FAILED);
      expect((await handle.describe()).status.name).toBe('RUNNING');

      const history = await handle.fetchHistory();
      const refundAttempts = history.events?.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
      expect(refundAttempts).toContain(compensationRetry.maximumAttempts);

      // The other compensations went on: the stock is back, only the captured money is stuck.
      const [alert] = (await alerts()).filter((m) => m.subject.includes(handle.workflowId));
      expect(alert?.text).toContain('capturePayment');
      expect(alert?.text).toContain(`retry-compensation ${handle.workflowId}`);
      expect((await testbed.services.inventory.reservations(input.orderId)).map((r) => r.status)).toEqual(['released']);
      expect((await testbed.services.payments.get(input.orderId))?.status).toBe('captured');
    } finally {
      testbed.services.faults.set('payments', undefined);
      await handle.executeUpdate(retryCompensationUpdate);
      expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
    }
  });

  it('alerts again when a retry fails again, and `retry-compensation` after the fix refunds and ends COMPENSATED', async () => {
    const { input, handle } = await stuckOrder();

    const retry = await handle.startUpdate(retryCompensationUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    await testbed.env.sleep(RETRY_BUDGET_AND_MORE);
    const stillBroken = await retry.result();
    expect(stillBroken.status).toBe(SagaStatus.COMPENSATION_FAILED);
    expect((await alerts()).filter((m) => m.subject.includes(handle.workflowId))).toHaveLength(2);

    testbed.services.faults.set('payments', undefined);
    const retried = await cli('retry-compensation', input.orderId, '--wait');
    expect(retried).toMatchObject({ code: 0, err: '' });
    expect(retried.out).toContain(`${handle.workflowId}: saga COMPENSATED after the retry`);

    const { type, details } = failureDetailsOf(await endOf(handle));
    expect(type).toBe('Undeliverable');
    expect(details).toMatchObject({ status: SagaStatus.COMPENSATED, failedStep: 'createShipment', compensationFailures: [] });
    expect(await sagaStatusOf(handle)).toBe(SagaStatus.COMPENSATED);
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);
    expect((await audit(testbed.services)).problems).toEqual([]);
    await recordHistory(handle, 'order', 'compensation-failed-retried');
  });

  it('`mark-compensated --reason` ends the saga COMPENSATED with the operator note, and refuses without a reason', async () => {
    const { input, handle } = await stuckOrder();

    const noReason = await cli('mark-compensated', input.orderId);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toMatch(/--reason is required/);
    const blankReason = await cli('mark-compensated', input.orderId, '--reason', '   ');
    expect(blankReason.code).not.toBe(0);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATION_FAILED);

    const reason = 'Refunded 25.00 EUR by hand in the provider dashboard, ticket OPS-12';
    const marked = await cli('mark-compensated', handle.workflowId, '--reason', reason);
    expect(marked).toMatchObject({ code: 0, err: '' });
    expect(marked.out).toContain(`saga COMPENSATED; operator note: ${reason}`);

    const { details } = failureDetailsOf(await endOf(handle));
    expect(details.status).toBe(SagaStatus.COMPENSATED);
    const state = await handle.query(sagaStateQuery);
    expect(state).toMatchObject({ status: SagaStatus.COMPENSATED, operatorNote: reason });
    expect(await sagaStatusOf(handle)).toBe(SagaStatus.COMPENSATED);
    // The saga takes the operator's word: it refunds nothing more itself.
    expect((await testbed.services.payments.get(input.orderId))?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture']);
    await recordHistory(handle, 'order', 'compensation-failed-marked');
  });
});
