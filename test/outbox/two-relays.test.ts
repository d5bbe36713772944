import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { PubAck } from '@nats-io/jetstream';
import { startOutboxRelay, type OutboxRelay, type RelayLogger } from '../../src/relay/relay';
import { openDatabase, type Db } from '../../src/services';
import { countUnpublished, recordOrderOutcome, type OutboxEvent } from '../../src/services/order-events';
import { startNats, type NatsBroker } from '../../tools/nats';
import { postgresFactory, type TestDatabase } from '../postgres';
import { eventually, readOrderEvents } from './support';

// Several relays on one PostgreSQL database, publishing at once: each row is claimed by one of them
// (FOR UPDATE SKIP LOCKED, then a lease), so each event is published once, not published twice and
// dropped by the broker. A real NATS server and a real PostgreSQL.

const createPostgres = postgresFactory();
const ROWS = 200;

let database: TestDatabase;
let db: Db;
let broker: NatsBroker;
let nc: NatsConnection;
let dataDir: string;

beforeAll(async () => {
  if (!createPostgres) return;
  dataDir = mkdtempSync(join(tmpdir(), 'saga-relays-'));
  [database, broker] = await Promise.all([createPostgres(), startNats({ dataDir })]);
  db = await openDatabase(database.url);
  nc = await connect({ servers: broker.servers });
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await db?.close();
  await Promise.all([broker?.stop(), database?.drop()]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(!createPostgres)('two relays at once on PostgreSQL', () => {
  it(`publish each of ${ROWS} events once: no row is sent by both, no acknowledgement is a duplicate`, async () => {
    const orderIds = Array.from({ length: ROWS }, (_, n) => `o-${n}-${randomUUID().slice(0, 8)}`);
    for (const orderId of orderIds) {
      await recordOrderOutcome(db, `order-${orderId}/run-1/recordOrderOutcome`, { orderId, outcome: 'completed', undone: [], totalCents: 100, currency: 'EUR', itemCount: 1, decidedBy: 'saga' });
    }
    const sentBy = new Map<string, string[]>();
    const duplicates: string[] = [];
    const quiet: RelayLogger = { log: () => undefined };
    const relay = (name: string): Promise<OutboxRelay> =>
      startOutboxRelay({
        brokerConfig: { servers: broker.servers, replicas: 1 },
        databaseUrl: database.url,
        name,
        // Small batches, so that the two relays' rounds interleave many times.
        batchSize: 10,
        pollIntervalMs: 50,
        logger: quiet,
        afterPublish: (event: OutboxEvent, ack: PubAck) => {
          sentBy.set(event.eventId, [...(sentBy.get(event.eventId) ?? []), name]);
          if (ack.duplicate) duplicates.push(event.eventId);
        },
      });
    const relays = await Promise.all([relay('relay-a'), relay('relay-b')]);
    try {
      await eventually('every row published', async () => ((await countUnpublished(db)) === 0 ? true : undefined), 60_000);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }

    expect(sentBy.size).toBe(ROWS);
    expect([...sentBy.values()].filter((names) => names.length > 1)).toEqual([]);
    expect(duplicates).toEqual([]);
    // Both took part: the rows were shared out, not taken by whichever started first.
    const byRelay = (name: string) => [...sentBy.values()].filter((names) => names[0] === name).length;
    expect(byRelay('relay-a')).toBeGreaterThan(0);
    expect(byRelay('relay-b')).toBeGreaterThan(0);
    expect(byRelay('relay-a') + byRelay('relay-b')).toBe(ROWS);

    const events = await readOrderEvents(nc);
    expect(events).toHaveLength(ROWS);
    expect(new Set(events.map((e) => e.orderId))).toEqual(new Set(orderIds));
  }, 120_000);
});
