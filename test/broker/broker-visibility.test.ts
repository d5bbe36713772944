import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { runCli } from '../../src/cli';
import { startOrder } from '../../src/order/start';
import { sampleOrder } from '../support/samples';
import { startBrokerTestbed, type BrokerTestbed, type ChildCarrier } from './broker-testbed';

// The broker seen from outside, on a real dev server and a real nats-server: `saga-client status`
// says a shipment step waits for the carrier and how many times the carrier was handed its command
// (1, then 2 after the carrier is killed and the command redelivered), and the carrier's /metrics
// shows the consumers' gauges move: in hand, redelivered, dead letters.

let testbed: BrokerTestbed;
beforeAll(async () => {
  testbed = await startBrokerTestbed();
}, 120_000);
afterAll(async () => {
  await testbed?.close();
}, 60_000);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A carrier process, slow (each shipping call takes 12 s), serving its metrics on a free port. */
async function slowCarrier(): Promise<{ carrier: ChildCarrier; metricsUrl: string }> {
  const address = `127.0.0.1:${await freePort()}`;
  const carrier = testbed.carrierProcess({ SAGA_FAULTS_ENABLED: 'true', SAGA_FAULTS: JSON.stringify({ shipping: { latencyMs: 12_000 } }), SAGA_METRICS_ADDRESS: address });
  await carrier.start();
  expect(carrier.log()).toMatch(new RegExp(`^carrier ready \\(.*, metrics http://${address.replace(/\./g, '\\.')}/metrics\\)$`, 'm'));
  return { carrier, metricsUrl: `http://${address}/metrics` };
}

async function statusOf(orderId: string): Promise<string> {
  const out = { text: '' };
  const io = { stdout: (t: string) => void (out.text += t), stderr: (t: string) => void (out.text += t), env: { NODE_ENV: 'test', TEMPORAL_ADDRESS: testbed.env.address, TEMPORAL_TASK_QUEUE: testbed.taskQueue } };
  await runCli(['status', orderId], io);
  return out.text;
}

async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  let last: T | undefined;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    last = await read();
    if (ok(last)) return last;
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms; last seen:\n${String(last)}`);
}

/** The value of one gauge sample of the Prometheus text at `url`, or undefined while absent. */
async function gauge(url: string, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await fetch(url).then((r) => r.text(), () => '');
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

const commands = { stream: 'CARRIER_COMMANDS', consumer: 'carrier' };

describe('watching the carrier through the broker', () => {
  it('status shows the waiting step with its delivery count, 1 then 2 after the carrier is killed; /metrics shows it in hand, redelivered, then a dead letter', { timeout: 180_000 }, async () => {
    const first = await slowCarrier();
    // Nothing in hand, nothing dead yet.
    expect(await eventually('the first sample', () => gauge(first.metricsUrl, 'saga_broker_consumer_ack_pending', commands), (v) => v !== undefined)).toBe(0);
    expect(await gauge(first.metricsUrl, 'saga_broker_dead_letters', { stream: 'CARRIER_DEAD_LETTERS' })).toBe(0);
    expect(await gauge(first.metricsUrl, 'saga_broker_consumer_pending', { stream: 'CARRIER_REPLIES', consumer: 'saga-worker-replies' })).toBe(0);

    const input = sampleOrder();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const once = await eventually('the first delivery on the status screen', () => statusOf(input.orderId), (t) => t.includes('createShipment: waiting for the carrier'));
    expect(once).toContain('createShipment: waiting for the carrier; its command was delivered 1 time');
    expect(once).not.toContain('redelivered');
    expect(await eventually('the command in hand', () => gauge(first.metricsUrl, 'saga_broker_consumer_ack_pending', commands), (v) => v === 1)).toBe(1);
    expect(await gauge(first.metricsUrl, 'saga_broker_consumer_redelivered', commands)).toBe(0);

    // The carrier dies with the command in hand: after the 10 s ack wait the next carrier gets it again.
    await first.carrier.process.kill('SIGKILL');
    const second = await slowCarrier();
    const twice = await eventually('the second delivery on the status screen', () => statusOf(input.orderId), (t) => t.includes('delivered 2 times'), 40_000);
    expect(twice).toContain('createShipment: waiting for the carrier; its command was delivered 2 times, redelivered');
    expect(await eventually('the redelivered command', () => gauge(second.metricsUrl, 'saga_broker_consumer_redelivered', commands), (v) => v === 1, 20_000)).toBe(1);

    expect((await handle.result()).status).toBe('COMPLETED');
    expect(await testbed.shipmentsOf(input.orderId)).toBe(1);
    expect(await statusOf(input.orderId)).not.toContain('waiting for the carrier');

    // A command that does not parse is dead-lettered at its first delivery.
    await jetstream(testbed.connection).publish('carrier.commands.create', 'not json');
    expect(await eventually('the dead letter', () => gauge(second.metricsUrl, 'saga_broker_dead_letters', { stream: 'CARRIER_DEAD_LETTERS' }), (v) => v === 1, 20_000)).toBe(1);
    expect(await eventually('nothing in hand', () => gauge(second.metricsUrl, 'saga_broker_consumer_ack_pending', commands), (v) => v === 0, 20_000)).toBe(0);
  });
});
