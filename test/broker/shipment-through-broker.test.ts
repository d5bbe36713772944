import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { ApplicationFailure } from '@temporalio/common';
import { SagaStatus } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import { startCarrierLink } from '../../src/carrier/link';
import type { RunningCarrier } from '../../src/carrier/carrier';
import { FailureType } from '../../src/shared/failures';
import { sampleOrder } from '../support/samples';
import { startBrokerTestbed, type BrokerTestbed } from './broker-testbed';
import { compensationsRun, failureOf } from '../support/order-failures';

// The order saga with its carrier behind NATS JetStream: real Temporal dev server, real nats-server,
// the carrier in this process. What a booked and a refused shipment look like through the broker.

let testbed: BrokerTestbed;
let carrier: RunningCarrier;
beforeAll(async () => {
  testbed = await startBrokerTestbed();
  carrier = await testbed.carrierInProcess();
});
afterAll(async () => {
  await testbed?.close();
});

describe('shipments through the broker', () => {
  it('completes an order with its shipment booked by the carrier, once', async () => {
    const input = sampleOrder();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();
    expect(result.status).toBe('COMPLETED');
    const shipment = await testbed.services.shipping.get(input.orderId);
    expect(shipment).toMatchObject({ shipmentId: result.shipmentId, trackingNumber: result.trackingNumber, status: 'created' });
    expect(await testbed.shipmentsOf(input.orderId)).toBe(1);

    // The command went through the commands stream and its reply through the replies stream.
    const jsm = await jetstreamManager(testbed.connection);
    expect((await jsm.streams.info('CARRIER_COMMANDS')).state.messages).toBeGreaterThanOrEqual(1);
    expect((await jsm.streams.info('CARRIER_REPLIES')).state.messages).toBeGreaterThanOrEqual(1);
    const history = await handle.fetchHistory();
    const shipmentStep = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createShipment');
    expect(shipmentStep).toBeDefined();
  });

  it('compensates an order no carrier delivers to (AQ): refund, void, release, and the shipment cancel goes through the broker too', async () => {
    const input = sampleOrder({ shippingAddress: { name: 'Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' } });
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const { type, state } = await failureOf(handle);
    expect(type).toBe(FailureType.Undeliverable);
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    expect(compensationsRun(state).slice(0, 2)).toEqual(['cancelShipment', 'refundPayment']);
    expect(await testbed.shipmentsOf(input.orderId)).toBe(0);
    expect((await testbed.services.payments.get(input.orderId))?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);
    const jsm = await jetstreamManager(testbed.connection);
    const cancel = await jsm.streams.getMessage('CARRIER_COMMANDS', { last_by_subj: 'carrier.commands.cancel' });
    expect(cancel?.json()).toMatchObject({ kind: 'cancel', orderId: input.orderId });
  });

  it('cancels a shipment for the reconciler by request and reply, and the repeated request gets the stored answer', async () => {
    const input = sampleOrder();
    await (await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })).result();
    const row = await testbed.services.db.get<{ idem_key: string }>('SELECT idem_key FROM shipments WHERE order_id = ?', [input.orderId]);
    const request = { key: row!.idem_key, orderId: input.orderId };
    expect(await testbed.link.requests.cancel(request)).toEqual({ cancelled: true });
    expect((await testbed.services.shipping.get(input.orderId))?.status).toBe('cancelled');
    expect(await testbed.link.requests.cancel(request)).toEqual({ cancelled: true });
  });

  it('waits 20 s for the carrier\'s answer to a request unless told otherwise', async () => {
    const timeouts: Array<number | undefined> = [];
    const watched = new Proxy(testbed.connection, {
      get(target, property) {
        if (property !== 'subscribe') return Reflect.get(target, property, target) as unknown;
        return (subject: string, opts?: { timeout?: number }) => {
          if (subject.startsWith('carrier.replies.request.')) timeouts.push(opts?.timeout);
          return target.subscribe(subject, opts);
        };
      },
    });
    const link = await startCarrierLink({ connection: watched, client: testbed.env.client, replicas: 1, shipping: testbed.services.shipping });
    try {
      expect(await link.requests.cancel({ key: `order-none/${Date.now()}/createShipment`, orderId: 'none' })).toEqual({ cancelled: false });
    } finally {
      await link.stop();
    }
    expect(timeouts).toEqual([20_000]);
  });

  it('fails the reconciler\'s request, retryably, when no carrier answers in time', async () => {
    await carrier.stop();
    const impatient = await startCarrierLink({ connection: testbed.connection, client: testbed.env.client, replicas: 1, shipping: testbed.services.shipping, requestTimeoutMs: 500 });
    try {
      const err = await impatient.requests.cancel({ key: 'order-x/run/createShipment', orderId: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err).toMatchObject({ type: 'CarrierReplyTimeout', nonRetryable: false, message: 'The carrier did not reply within 500 ms' });
    } finally {
      await impatient.stop();
    }
  });
});
