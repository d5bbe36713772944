import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SagaStatus } from '@saga-temporal/saga';
import { orderWorkflowId, startOrder } from '../../src/order/start';
import type { OrderInput } from '../../src/order/contract';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { uniqueTaskQueue, startSagaTestbed, type SagaTestbed } from '../helpers';

// The starters put `SagaStatus=RUNNING` in the start request, so the saga is listed as running from
// its first moment and writes one upsert less: one on success, two when compensating.

const { EventType } = temporal.api.enums.v1;

let testbed: SagaTestbed;
let seq = 0;

beforeAll(async () => {
  testbed = await startSagaTestbed({ server: 'dev-server' });
});

afterAll(async () => {
  await testbed?.close();
});

function order(country = 'GB'): OrderInput {
  seq += 1;
  return {
    orderId: `status-${seq}-${Date.now().toString(36)}`,
    customerId: 'c-1',
    email: 'ada@example.com',
    items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 1999 }],
    payment: { token: 'tok_visa' },
    shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country },
  };
}

async function upsertsOf(workflowId: string): Promise<number> {
  const history = await testbed.env.client.workflow.getHandle(workflowId).fetchHistory();
  // Only the saga's own: an order with a patch marker also upserts the SDK's TemporalChangeVersion.
  return (history.events ?? []).filter(
    (e) => e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES && SagaStatusKey.name in (e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
  ).length;
}

describe('SagaStatus set by the starter', () => {
  it('lists a started order as RUNNING before any worker has run its first workflow task', async () => {
    const idle = uniqueTaskQueue('nobody-polls');
    const input = order();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: idle });
    try {
      expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.RUNNING);
      const query = `WorkflowId = "${orderWorkflowId(input.orderId)}" AND ${SagaStatusKey.name} = "${SagaStatus.RUNNING}"`;
      let listed = 0;
      for (let i = 0; i < 100 && listed === 0; i++) {
        for await (const _ of testbed.env.client.workflow.list({ query })) listed += 1;
        if (listed === 0) await new Promise((r) => setTimeout(r, 100));
      }
      expect(listed).toBe(1);
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.map((e) => e.eventType)).toEqual([EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]);
    } finally {
      await handle.terminate('test over');
    }
  });

  it('leaves one search-attribute upsert (COMPLETED) in the history of a completed order', async () => {
    const handle = await startOrder(testbed.env.client, order(), { taskQueue: testbed.taskQueue });
    await handle.result();
    expect(await upsertsOf(handle.workflowId)).toBe(1);
    expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.COMPLETED);
  });

  it('leaves two upserts (COMPENSATING, COMPENSATED) in the history of a compensated order', async () => {
    const handle = await startOrder(testbed.env.client, order('AQ'), { taskQueue: testbed.taskQueue });
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(await upsertsOf(handle.workflowId)).toBe(2);
    expect((await handle.describe()).typedSearchAttributes.get(SagaStatusKey)).toBe(SagaStatus.COMPENSATED);
  });

  it('still upserts RUNNING for a saga started without the attribute, as histories recorded before replay', async () => {
    const input = order();
    const handle = await testbed.env.client.workflow.start('orderSaga', { taskQueue: testbed.taskQueue, workflowId: orderWorkflowId(input.orderId), args: [input] });
    await handle.result();
    expect(await upsertsOf(handle.workflowId)).toBe(2);
  });
});
