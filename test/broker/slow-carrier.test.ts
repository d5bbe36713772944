import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
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
});
