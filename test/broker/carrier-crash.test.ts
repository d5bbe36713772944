import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { startOrder } from '../../src/order/start';
import { sampleOrder } from '../support/samples';
import { startBrokerTestbed, type BrokerTestbed } from './broker-testbed';

// The carrier as a real process, SIGKILLed by its own fault hook (SAGA_CARRIER_CRASH_AFTER_APPLY)
// after it committed a shipment and before it replied and acknowledged the command. JetStream delivers
// the command again once its ack wait passes, a new carrier applies it, the barrier answers with the
// stored shipment, and the order completes with one shipment.

let testbed: BrokerTestbed;
beforeAll(async () => {
  testbed = await startBrokerTestbed();
});
afterAll(async () => {
  await testbed?.close();
});

describe('a carrier killed between applying a command and acknowledging it', () => {
  it('has the command delivered again and applied once, and the order completes', { timeout: 120_000 }, async () => {
    const marker = join(testbed.dataDir, 'crash-once');
    writeFileSync(marker, '');
    const carrier = testbed.carrierProcess({ SAGA_FAULTS_ENABLED: 'true', SAGA_CARRIER_CRASH_AFTER_APPLY: marker, LOG_LEVEL: 'debug' });
    await carrier.start();

    const input = sampleOrder();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const exitCode = await carrier.process.exited();
    const crashedAt = Date.now();
    expect(exitCode).toBeNull(); // killed by a signal
    expect(existsSync(marker)).toBe(false);
    // It died after its commit: the shipment is in the database, its reply is not.
    expect(await testbed.shipmentsOf(input.orderId)).toBe(1);

    await carrier.start();
    const result = await handle.result();
    expect(result.status).toBe('COMPLETED');
    expect(await testbed.shipmentsOf(input.orderId)).toBe(1);
    expect((await testbed.services.shipping.get(input.orderId))?.shipmentId).toBe(result.shipmentId);

    // The same command, delivered a second time (answered from the barrier), and nothing left unacknowledged.
    const applied = carrier
      .log()
      .split('\n')
      .filter((line) => line.includes('"Command applied"') && line.includes(input.orderId))
      .map((line) => JSON.parse(line) as { kind: string; deliveries: number; time: string });
    const again = applied.find((line) => line.kind === 'create' && line.deliveries === 2);
    expect(again).toBeDefined();
    // Delivered again by JetStream once its 10 s ack wait ran out, well before the step's own 30 s timeout.
    const waited = Date.parse(again!.time) - crashedAt;
    expect(waited).toBeGreaterThanOrEqual(9_000);
    expect(waited).toBeLessThan(30_000);
    const jsm = await jetstreamManager(testbed.connection);
    expect((await jsm.consumers.info('CARRIER_COMMANDS', 'carrier')).num_ack_pending).toBe(0);
  });
});
