import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { startOrder } from '../../src/order/start';
import { sampleOrder } from '../support/samples';
import { startBrokerTestbed, type BrokerTestbed } from './broker-testbed';

// The broker (one node) SIGKILLed while orders wait for their shipments, and started again on the same
// port and file store. Commands, replies and the consumers' positions are on disk; the worker and the
// carrier reconnect by themselves. Every order must end, and none may be shipped twice.

let testbed: BrokerTestbed;
beforeAll(async () => {
  testbed = await startBrokerTestbed();
  // Each booking takes a second, so the kill lands while commands are in the carrier's hands.
  await testbed.carrierInProcess({ faults: { shipping: { latencyMs: 1_000 } } });
});
afterAll(async () => {
  await testbed?.close();
});

describe('the broker killed and restarted mid-shipment', () => {
  it('ends every order, each with exactly one shipment', { timeout: 180_000 }, async () => {
    const inputs = Array.from({ length: 6 }, () => sampleOrder());
    const handles = await Promise.all(inputs.map((input) => startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })));

    const jsm = await jetstreamManager(testbed.connection);
    const deadline = Date.now() + 60_000;
    while ((await jsm.streams.info('CARRIER_COMMANDS')).state.messages < 2) {
      if (Date.now() > deadline) throw new Error('no shipment command was published within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    await testbed.nats.kill(0);
    // The kill landed mid-shipment: some orders were not booked yet.
    const booked = (await Promise.all(inputs.map((input) => testbed.shipmentsOf(input.orderId)))).reduce((a, b) => a + b, 0);
    expect(booked).toBeLessThan(inputs.length);
    expect(testbed.nats.nodes[0]!.process.running).toBe(false);
    await new Promise((r) => setTimeout(r, 2_000));
    await testbed.nats.restart(0);

    const outcomes = await Promise.all(handles.map((h) => h.result().then((r) => r.status, (e: unknown) => `failed: ${e instanceof Error ? e.message : String(e)}`)));
    expect(outcomes).toEqual(inputs.map(() => 'COMPLETED'));
    for (const input of inputs) expect(await testbed.shipmentsOf(input.orderId)).toBe(1);
  });
});
