import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { jetstreamManager } from '@nats-io/jetstream';
import { startOrder } from '../../src/order/start';
import { sampleOrder } from '../support/samples';
import { startBrokerTestbed, type BrokerTestbed } from './broker-testbed';

// A carrier slower than the steps' 10 s heartbeat timeout and its own 10 s ack wait, still within the
// 30 s start-to-close timeout: the worker heartbeats for the waiting step and the carrier tells
// JetStream it is still working, so the booking is neither retried nor delivered twice.

let testbed: BrokerTestbed;
const deliveries: number[] = [];
beforeAll(async () => {
  testbed = await startBrokerTestbed();
  await testbed.carrierInProcess({
    faults: { shipping: { latencyMs: 13_000 } },
    hooks: {
      beforeApply(command, delivery) {
        if (command.kind === 'create') deliveries.push(delivery);
      },
    },
  });
});
afterAll(async () => {
  await testbed?.close();
});

async function attemptsOf(handle: WorkflowHandle, activity: string): Promise<number[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity).map((e) => Number(e.eventId));
  return events.filter((e) => scheduled.includes(Number(e.activityTaskStartedEventAttributes?.scheduledEventId))).map((e) => Number(e.activityTaskStartedEventAttributes!.attempt));
}

describe('a carrier slower than the heartbeat timeout', () => {
  it('books two shipments taken at the same time, each in its step\'s first attempt and delivered once', { timeout: 90_000 }, async () => {
    const inputs = [sampleOrder(), sampleOrder()];
    const started = Date.now();
    const handles = await Promise.all(inputs.map((input) => startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })));
    const results = await Promise.all(handles.map((h) => h.result()));
    expect(results.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(13_000);
    for (const handle of handles) expect(await attemptsOf(handle, 'createShipment')).toEqual([1]);
    // Both in hand at once: neither waited behind the other past the 10 s ack wait.
    expect(deliveries).toEqual([1, 1]);
    for (const input of inputs) expect(await testbed.shipmentsOf(input.orderId)).toBe(1);
  });

  it('undoes the order when the customer cancels while the carrier books: the late booking is cancelled or refused', { timeout: 90_000 }, async () => {
    const input = sampleOrder();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    for (const deadline = Date.now() + 30_000; !(await handle.query(sagaStateQuery)).steps.some((s) => s.name === 'createShipment' && s.status === 'running'); ) {
      if (Date.now() > deadline) throw new Error('createShipment never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.CANCELLED);
    const payment = await testbed.services.payments.get(input.orderId);
    expect(['voided', 'refunded']).toContain(payment?.status);
    // The booking, then its cancel: wait until the carrier has acknowledged every command.
    const jsm = await jetstreamManager(testbed.connection);
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
      const info = await jsm.consumers.info('CARRIER_COMMANDS', 'carrier');
      if (info.num_pending === 0 && info.num_ack_pending === 0) break;
      if (Date.now() > deadline) throw new Error('the carrier did not finish its commands');
    }
    expect((await jsm.streams.getMessage('CARRIER_COMMANDS', { last_by_subj: 'carrier.commands.cancel' }))?.json()).toMatchObject({ kind: 'cancel', orderId: input.orderId });
    const shipment = await testbed.services.shipping.get(input.orderId);
    expect(shipment?.status ?? 'never booked').toMatch(/^(cancelled|never booked)$/);
  });
});
