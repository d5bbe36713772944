import { describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { retryCompensationUpdate, SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder, uniqueId } from '../support/samples';

// The operator alert (src/operator/workflow.ts) word for word: what an operator reads when a saga gives
// up on a compensation, and the summary its activity shows in the history.

const testbed = useSagaTestbed();

const alerts = () => testbed.services.mail.outbox({ to: testbed.services.operatorEmail, kind: 'operator-alert' });

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The one operator alert about a workflow, once it has been sent. */
async function alertAbout(workflowId: string) {
  const [alert] = await eventually(
    async () => (await alerts()).filter((m) => m.subject.includes(workflowId)),
    (found) => found.length === 1,
    'the operator alert',
  );
  return alert!;
}

/** Lets the compensations run again without faults, so the saga ends and leaves the worker idle. */
async function repair(handle: WorkflowHandle): Promise<void> {
  testbed.services.faults.set('payments', undefined);
  testbed.services.faults.set('inventory', undefined);
  await handle.executeUpdate(retryCompensationUpdate);
}

/** No carrier delivers to Antarctica: the order fails after the payment was captured. */
const undeliverable = { name: 'Research Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' };

describe('the operator alert', () => {
  it('names the saga, its failure, each compensation that failed and the three commands that resolve it', async () => {
    const input = sampleOrder({ orderId: uniqueId('alert'), items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 1250 }], shippingAddress: undeliverable });
    testbed.services.faults.set('payments', { failOperations: ['refund'] });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    try {
      await testbed.env.sleep('3 days');
      const alert = await alertAbout(handle.workflowId);
      const id = handle.workflowId;
      expect(alert.subject).toBe(`Saga ${id} needs an operator: compensation failed`);
      expect(alert.text.split('\n')).toEqual([
        `The order saga ${id} failed (No carrier delivers to AQ) and could not undo every step:`,
        '- capturePayment: payments.refund is failing (injected fault: failOperations)',
        '',
        `Fix the cause, then run:  npm run client -- retry-compensation ${id}  (add --step <name> to retry only some steps)`,
        `a step undone by hand:  npm run client -- skip-compensation ${id} --step <name> --reason "<what was done>"`,
        `or, if it was all repaired by hand:  npm run client -- mark-compensated ${id} --reason "<what was done>"`,
        '',
        `Workflow: ${id}`,
      ]);
      const history = await handle.fetchHistory();
      const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendOperatorAlert');
      expect(scheduled?.userMetadata?.summary?.data && Buffer.from(scheduled.userMetadata.summary.data).toString()).toBe('"Alert operators: compensation failed"');
    } finally {
      testbed.services.faults.set('payments', undefined);
      await handle.executeUpdate(retryCompensationUpdate);
      expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
    }
  });

  it('lists every compensation that failed, one per line', async () => {
    const input = sampleOrder({ orderId: uniqueId('alert'), items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 1250 }], shippingAddress: undeliverable });
    testbed.services.faults.set('payments', { failOperations: ['refund'] });
    testbed.services.faults.set('inventory', { failOperations: ['release'] });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    try {
      await testbed.env.sleep('3 days');
      const alert = await alertAbout(handle.workflowId);
      expect(alert.text.split('\n').slice(1, 4)).toEqual([
        '- reserveStock: inventory.release is failing (injected fault: failOperations)',
        '- capturePayment: payments.refund is failing (injected fault: failOperations)',
        '',
      ]);
    } finally {
      await repair(handle);
    }
  });
});
