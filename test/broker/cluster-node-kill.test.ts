import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { SagaStatus } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import { FailureType } from '../../src/shared/failures';
import { sampleOrder } from '../support/samples';
import { startBrokerTestbed, type BrokerTestbed } from './broker-testbed';
import { failureOf } from '../support/order-failures';

// A three-node JetStream cluster, every stream in three replicas, the carrier as a real child process
// slowed by shipping latency so that orders are mid-shipment when the node leading the commands
// stream is SIGKILLed. The remaining two nodes elect a new leader; the carrier and the worker
// reconnect; every order ends as its input says (booked, or refused and compensated), with one
// shipment per booked order and none for a refused one. Then the node starts again on its store and
// rejoins every stream as a current replica.

const AQ = { name: 'Base', line1: 'Ice shelf 1', city: 'McMurdo', postalCode: '0000', country: 'AQ' };
const STREAMS = ['CARRIER_COMMANDS', 'CARRIER_REPLIES', 'CARRIER_DEAD_LETTERS'];

let testbed: BrokerTestbed;
beforeAll(async () => {
  testbed = await startBrokerTestbed({ nodes: 3 });
}, 180_000);
afterAll(async () => {
  await testbed?.close();
}, 120_000);

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      // The broker answers nothing for a moment while it elects a new leader.
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A stream whose three replicas are all in step: a leader and two current followers. */
async function inStep(jsm: JetStreamManager, stream: string): Promise<StreamInfo | undefined> {
  const info = await jsm.streams.info(stream);
  const replicas = info.cluster?.replicas ?? [];
  return info.cluster?.leader && replicas.length === 2 && replicas.every((r) => r.current && !r.offline) ? info : undefined;
}

describe('a NATS node SIGKILLed while orders are mid-shipment through the carrier', () => {
  it('ends every order as expected, with one shipment per booked order, and the node rejoins every stream', { timeout: 300_000 }, async () => {
    const carrier = testbed.carrierProcess({ SAGA_FAULTS_ENABLED: 'true', SAGA_FAULTS: JSON.stringify({ shipping: { latencyMs: [200, 500] } }) });
    await carrier.start();
    const jsm = await jetstreamManager(testbed.connection);
    for (const stream of STREAMS) {
      const info = await until(`${stream} in step on three nodes`, 30_000, () => inStep(jsm, stream));
      expect(info.config.num_replicas).toBe(3);
    }
    const leader = (await jsm.streams.info('CARRIER_COMMANDS')).cluster!.leader!;
    const victim = testbed.nats.nodes.findIndex((node) => node.name === leader);
    expect(victim).toBeGreaterThanOrEqual(0);

    // Twelve orders, every fourth to Antarctica (the carrier refuses it, the saga compensates).
    const orders = Array.from({ length: 12 }, (_, i) => (i % 4 === 3 ? sampleOrder({ shippingAddress: AQ }) : sampleOrder()));
    const booked = orders.filter((o) => o.shippingAddress.country !== 'AQ');
    const refused = orders.filter((o) => o.shippingAddress.country === 'AQ');
    expect([booked.length, refused.length]).toEqual([9, 3]);
    const handles = await Promise.all(orders.map((input) => startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })));
    const shipped = async () => (await Promise.all(booked.map((o) => testbed.shipmentsOf(o.orderId)))).reduce((a, b) => a + b, 0);
    const atKill = await until('a first shipment booked', 60_000, async () => ((await shipped()) >= 1 ? shipped() : undefined));

    await testbed.nats.kill(victim);
    // Mid-shipment: some booked, the rest still to go through the broker.
    expect(atKill).toBeLessThan(booked.length);
    expect(testbed.nats.nodes[victim]!.process.running).toBe(false);

    const results = await Promise.all(handles.map((handle, i) => (refused.includes(orders[i]!) ? failureOf(handle) : handle.result())));
    for (const [i, input] of orders.entries()) {
      const result = results[i]!;
      if (refused.includes(input)) {
        expect(result, input.orderId).toMatchObject({ type: FailureType.Undeliverable, state: { status: SagaStatus.COMPENSATED } });
        expect(await testbed.shipmentsOf(input.orderId), input.orderId).toBe(0);
        expect((await testbed.services.payments.get(input.orderId))?.ledger.map((e) => e.kind), input.orderId).toEqual(['authorize', 'capture', 'refund']);
      } else {
        expect(result, input.orderId).toMatchObject({ status: 'COMPLETED' });
        expect(await testbed.shipmentsOf(input.orderId), input.orderId).toBe(1);
        expect((await testbed.services.shipping.get(input.orderId))?.shipmentId, input.orderId).toBe((result as { shipmentId: string }).shipmentId);
      }
    }
    // The carrier rode it out: same process, nothing given up on, nothing left unacknowledged.
    expect(carrier.process.running).toBe(true);
    expect((await jsm.streams.info('CARRIER_DEAD_LETTERS')).state.messages).toBe(0);
    expect((await jsm.consumers.info('CARRIER_COMMANDS', 'carrier')).num_ack_pending).toBe(0);
    const during = await jsm.streams.info('CARRIER_COMMANDS');
    expect(during.cluster?.leader).not.toBe(leader);
    expect(during.cluster?.replicas?.find((r) => r.name === leader)).toMatchObject({ current: false });

    // The node starts again on its own store and catches up on every stream.
    await testbed.nats.restart(victim);
    for (const stream of STREAMS) {
      const info = await until(`${leader} back in step on ${stream}`, 60_000, () => inStep(jsm, stream));
      expect([info.cluster!.leader, ...info.cluster!.replicas!.map((r) => r.name)].sort()).toEqual(testbed.nats.nodes.map((n) => n.name).sort());
    }
    const after = sampleOrder();
    const result = await (await startOrder(testbed.env.client, after, { taskQueue: testbed.taskQueue })).result();
    expect(result.status).toBe('COMPLETED');
    expect(await testbed.shipmentsOf(after.orderId)).toBe(1);
  });
});
