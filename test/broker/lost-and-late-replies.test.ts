import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startOrder } from '../../src/order/start';
import type { CarrierReply } from '../../src/carrier/protocol';
import { sampleOrder } from '../support/samples';
import { startBrokerTestbed, type BrokerTestbed } from './broker-testbed';

// Replies that go missing, and replies that come twice or too late. The worker here gives up on a
// reply after 3 s (`replyTimeoutMs`) instead of the steps' 30 s start-to-close timeout, which is what
// ends the wait in production: the subject is what happens next, not how long it takes.

let testbed: BrokerTestbed;
const dropped = new Set<string>();
let dropNextReplyOf: string | undefined;
beforeAll(async () => {
  testbed = await startBrokerTestbed({ replyTimeoutMs: 3_000 });
  await testbed.carrierInProcess({
    hooks: {
      dropReply(command) {
        if (dropNextReplyOf === undefined || command.orderId !== dropNextReplyOf || command.kind !== 'create') return false;
        dropNextReplyOf = undefined;
        dropped.add(command.orderId);
        return true;
      },
    },
  });
});
afterAll(async () => {
  await testbed?.close();
});

/** The attempts of the order's `createShipment` step, as its history records them. */
async function shipmentAttempts(handle: WorkflowHandle): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createShipment');
  const started = events.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(scheduled?.eventId));
  return Number(started?.activityTaskStartedEventAttributes?.attempt ?? 0);
}

/** Every reply in the replies stream that answers `orderId`'s shipment. */
async function repliesFor(orderId: string): Promise<Array<{ subject: string; reply: CarrierReply }>> {
  const jsm = await jetstreamManager(testbed.connection);
  const { first_seq, last_seq } = (await jsm.streams.info('CARRIER_REPLIES')).state;
  const found: Array<{ subject: string; reply: CarrierReply }> = [];
  for (let seq = first_seq; seq <= last_seq; seq++) {
    const msg = await jsm.streams.getMessage('CARRIER_REPLIES', { seq }).catch(() => null);
    if (!msg) continue;
    const reply = msg.json<CarrierReply>();
    if (reply.key.includes(orderId)) found.push({ subject: msg.subject, reply });
  }
  return found;
}

async function repliesSettled(): Promise<void> {
  const jsm = await jetstreamManager(testbed.connection);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = await jsm.consumers.info('CARRIER_REPLIES', 'saga-worker-replies');
    if (info.num_pending === 0 && info.num_ack_pending === 0) return;
    if (Date.now() > deadline) throw new Error(`replies not settled: ${JSON.stringify({ pending: info.num_pending, ackPending: info.num_ack_pending })}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('a reply lost on its way back', () => {
  it('times the step out, publishes it again, and the barrier returns the stored shipment: one shipment', async () => {
    const input = sampleOrder();
    dropNextReplyOf = input.orderId;
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();
    expect(dropped.has(input.orderId)).toBe(true);
    expect(result.status).toBe('COMPLETED');
    expect(await shipmentAttempts(handle)).toBe(2);
    expect(await testbed.shipmentsOf(input.orderId)).toBe(1);
    expect((await testbed.services.shipping.get(input.orderId))?.shipmentId).toBe(result.shipmentId);
  });
});

describe('a duplicate or late reply for a step already settled', () => {
  it('is acknowledged and ignored: the order keeps its result, nothing is redelivered', async () => {
    const input = sampleOrder();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const result = await handle.result();
    await repliesSettled();
    const [original] = (await repliesFor(input.orderId)).filter(({ reply }) => reply.kind === 'create');
    expect(original).toBeDefined();

    // The same reply twice more, and a late failure for the same step.
    const client = jetstream(testbed.connection);
    await client.publish(original!.subject, JSON.stringify(original!.reply), { msgID: `dup-1-${input.orderId}` });
    await client.publish(original!.subject, JSON.stringify(original!.reply), { msgID: `dup-2-${input.orderId}` });
    const late: CarrierReply = { key: original!.reply.key, kind: 'create', ...(original!.reply.taskToken ? { taskToken: original!.reply.taskToken } : {}), ok: false, failure: { type: 'CarrierDeadLetter', message: 'late', nonRetryable: true } };
    await client.publish(original!.subject, JSON.stringify(late), { msgID: `late-${input.orderId}` });
    await repliesSettled();

    expect(await handle.result()).toEqual(result);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(await testbed.shipmentsOf(input.orderId)).toBe(1);
    expect((await repliesFor(input.orderId)).filter(({ reply }) => reply.kind === 'create')).toHaveLength(4);
  });
});
