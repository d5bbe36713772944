import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers, nuid, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connectBroker } from '../../src/broker/connection';
import { startCarrier, type RunningCarrier } from '../../src/carrier/carrier';
import type { CarrierReply } from '../../src/carrier/protocol';
import { startNats, type NatsBroker } from '../../tools/nats';
import { sampleAddress } from '../support/samples';

// The carrier on a three-node JetStream cluster with SAGA_NATS_REPLICAS=3: its streams keep three
// copies, and it goes on answering when the node it is connected to dies.

let dataDir: string;
let nats: NatsBroker;
let nc: NatsConnection;
let carrier: RunningCarrier;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'saga-carrier-cluster-'));
  nats = await startNats({ dataDir: join(dataDir, 'nats'), nodes: 3 });
  carrier = await startCarrier({ brokerConfig: { servers: nats.servers, replicas: 3 }, databaseUrl: `sqlite:${join(dataDir, 'services.db')}`, logLevel: 'error' });
  nc = await connectBroker({ servers: nats.servers.slice(1), name: 'test' });
}, 180_000);
afterAll(async () => {
  await carrier?.stop().catch(() => undefined);
  await nc?.close();
  await nats?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function book(key: string): Promise<CarrierReply | undefined> {
  const replyTo = `carrier.replies.request.${nuid.next()}`;
  const answer = nc.subscribe(replyTo, { max: 1, timeout: 60_000 });
  const h = headers();
  h.set('Saga-Reply-To', replyTo);
  const command = { kind: 'create', key, orderId: key, address: sampleAddress, items: [{ sku: 'sku-widget', quantity: 1 }] };
  // While a stream elects a leader (just created, or its leader's node died) a publish finds no
  // responders; the worker's step fails its attempt and retries. Here the publish is simply repeated.
  const msgID = nuid.next();
  for (const deadline = Date.now() + 30_000; ; ) {
    try {
      await jetstream(nc).publish('carrier.commands.create', JSON.stringify(command), { headers: h, msgID, timeout: 10_000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  for await (const msg of answer) return msg.json<CarrierReply>();
  return undefined;
}

describe('the carrier on a three-node cluster', () => {
  it('keeps 3 copies of each stream and answers through the death of a node', { timeout: 180_000 }, async () => {
    const jsm = await jetstreamManager(nc);
    for (const name of ['CARRIER_COMMANDS', 'CARRIER_REPLIES', 'CARRIER_DEAD_LETTERS']) expect((await jsm.streams.info(name)).config.num_replicas).toBe(3);
    expect(await book('cluster-1')).toMatchObject({ key: 'cluster-1', ok: true });
    // The carrier connected to the first node it was given, which now dies.
    await nats.kill(0);
    expect(await book('cluster-2')).toMatchObject({ key: 'cluster-2', ok: true });
  });
});
