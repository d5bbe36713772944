import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import type { OrderInput } from '../../src/order/contract';
import type { Services } from '../../src/services';
import { stepsTable } from '../../src/cli/status-screen';
import { recordHistory, startSagaTestbed, type SagaTestbed } from '../helpers';

// The order saga's declared pivot: the shipment. Once it exists the order recovers forward: the
// confirmation e-mail is marked so in the saga state and in the Web UI, and a cancellation while it
// is sent undoes nothing (pinned in never/undo-after-commit.test.ts). Histories recorded here are
// replayed by the release replay gate (test/release/gate.test.ts).

let testbed: SagaTestbed;
let services: Services;
let seq = 0;

beforeAll(async () => {
  testbed = await startSagaTestbed();
  services = testbed.services;
});

afterAll(async () => {
  await testbed?.close();
});

function order(): OrderInput & { orderId: string } {
  return {
    orderId: `o-pivot-${++seq}-${Date.now().toString(36)}`,
    customerId: 'c-1',
    email: 'ada@example.com',
    items: [{ sku: 'sku-widget', quantity: 1, unitPriceCents: 1999 }],
    payment: { token: 'tok_visa' },
    shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
  };
}

function summaries(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): unknown[] {
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload(e.userMetadata.summary) : undefined));
}

describe('the order saga', () => {
  it('passes its pivot at the shipment and confirms by forward recovery', async () => {
    const input = order();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'COMPLETED', confirmationSent: true });
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPLETED);
    expect(state.pivot).toEqual({ step: 'createShipment', reachedAt: expect.any(String) });
    expect(state.steps.map((s) => [s.name, s.pivot ?? s.recovery ?? '-'])).toEqual([
      ['reserveStock', '-'],
      ['authorizePayment', '-'],
      ['capturePayment', '-'],
      ['createShipment', true],
      ['sendConfirmation', 'forward-recovery'],
    ]);
    expect(result).not.toHaveProperty('steps');
    const table = stepsTable(state.steps).split('\n');
    expect(table.find((row) => row.startsWith('createShipment'))).toContain('done (pivot)');
    expect(table.find((row) => row.startsWith('sendConfirmation'))).toContain('done (forward-recovery)');
    const history = await handle.fetchHistory();
    // Then, once the saga has settled, the outcome for the order-events stream (not a step of the saga).
    expect(summaries(history).slice(-3)).toEqual([
      `Pivot: Ship order ${input.orderId} to GB`,
      `Forward recovery: E-mail confirmation of order ${input.orderId}`,
      'Record the order outcome for the order-events stream',
    ]);
    await recordHistory(handle, 'patterns/order-pivot', 'completed');
  });

  it('still undoes everything when the shipment, its pivot, fails', async () => {
    const input = { ...order(), shippingAddress: { ...order().shippingAddress, country: 'AQ' } };
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await expect(handle.result()).rejects.toThrow();
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    expect(state.pivot).toBeUndefined();
    expect((await services.payments.get(input.orderId))?.status).toBe('refunded');
    await recordHistory(handle, 'patterns/order-pivot', 'undeliverable');
  });
});
