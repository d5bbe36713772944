import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Logger } from '@temporalio/common';
import type { PubAck } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities';
import { orderEventsStreamConfig, orderEventSubject } from '../../src/broker/order-events';
import { loadRelayConfig } from '../../src/relay/config';
import { relayRound, relayTuning, type Publish, type RelayLogger } from '../../src/relay/relay';
import type { Services } from '../../src/services';
import { claimUnpublished, countUnpublished, recordOrderOutcome, releaseClaims, type NewOrderOutcome, type OutboxEvent } from '../../src/services/order-events';
import { reconciledOrderOutcome } from '../../src/reconciler/order-outcome';
import { configErrorProblems } from '../support/config-errors';
import { sampleOrder } from '../support/samples';
import { testEngines, useTestServices } from '../postgres';

// The outbox of order outcomes and the relay's round, on real databases (SQLite and PostgreSQL) with a
// stand-in for the broker; the relay's defaults and its configuration, each pinned by its value.

const silentLog: Logger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const quiet: RelayLogger = { log: () => undefined };

const outcome = (orderId: string, overrides: Partial<NewOrderOutcome> = {}): NewOrderOutcome => ({
  orderId,
  outcome: 'completed',
  undone: [],
  totalCents: 3998,
  currency: 'EUR',
  itemCount: 2,
  decidedBy: 'saga',
  ...overrides,
});

/** A broker that acknowledges every message with the next sequence, remembering what it was sent. */
function fakeBroker(options: { failOn?: string; duplicates?: Set<string> } = {}) {
  const sent: OutboxEvent[] = [];
  let seq = 0;
  const publish: Publish = async (event) => {
    if (event.eventId === options.failOn) throw new Error('TIMEOUT');
    sent.push(event);
    seq += 1;
    return { stream: 'ORDER_EVENTS', seq, duplicate: options.duplicates?.has(event.eventId) ?? false, domain: '' } as PubAck;
  };
  return { sent, publish };
}

describe('the relay\'s defaults', () => {
  it('publishes up to 100 rows a round, polls every 500 ms, leases claimed rows for 30 s and waits 5 s for an acknowledgement', () => {
    expect(relayTuning()).toEqual({ batchSize: 100, pollIntervalMs: 500, leaseMs: 30_000, publishTimeoutMs: 5_000 });
    expect(relayTuning({ batchSize: 7, pollIntervalMs: 50 })).toEqual({ batchSize: 7, pollIntervalMs: 50, leaseMs: 30_000, publishTimeoutMs: 5_000 });
  });

  it('keeps the stream on file storage with a 24-hour duplicate window (in nanoseconds) and the configured copies', () => {
    expect(orderEventsStreamConfig(1)).toEqual({
      name: 'ORDER_EVENTS',
      subjects: ['orders.events.*'],
      storage: 'file',
      retention: 'limits',
      discard: 'old',
      num_replicas: 1,
      duplicate_window: 86_400_000_000_000,
    });
    expect(orderEventsStreamConfig(3).num_replicas).toBe(3);
    expect(['completed', 'compensated', 'cancelled'].map((o) => orderEventSubject(o as 'completed'))).toEqual(['orders.events.completed', 'orders.events.compensated', 'orders.events.cancelled']);
  });
});

describe('the relay\'s configuration', () => {
  const broker = { SAGA_NATS_URL: 'nats://127.0.0.1:4222' };

  it('reads the broker, the database (default sqlite:.data/saga.db) and the log level (default info)', () => {
    expect(loadRelayConfig(broker)).toEqual({ broker: { servers: ['nats://127.0.0.1:4222'], replicas: 1 }, databaseUrl: 'sqlite:.data/saga.db', logLevel: 'info' });
    expect(loadRelayConfig({ ...broker, SAGA_NATS_REPLICAS: '3', DATABASE_URL: 'postgres://saga@db:5432/saga', LOG_LEVEL: 'WARN' })).toEqual({
      broker: { servers: ['nats://127.0.0.1:4222'], replicas: 3 },
      databaseUrl: 'postgres://saga@db:5432/saga',
      logLevel: 'warn',
    });
  });

  it('lists every problem at once, the broker\'s included, hiding a password', () => {
    expect(configErrorProblems(() => loadRelayConfig({ DATABASE_URL: 'mysql://root:hunter2@db/saga', LOG_LEVEL: 'trace' }))).toEqual([
      'SAGA_NATS_URL is required: the broker (nats://host:port, comma-separated for a cluster)',
      'DATABASE_URL must start with sqlite: or postgres:// (got mysql://***@db/saga)',
      'LOG_LEVEL=trace is not one of debug, info, warn, error',
    ]);
  });

  it('injects its crash only for tests that switch faults on, and knows no other fault', () => {
    expect(loadRelayConfig({ ...broker, SAGA_RELAY_FAULT: 'crash-after-publish', SAGA_FAULTS_ENABLED: 'true' }).fault).toBe('crash-after-publish');
    expect(configErrorProblems(() => loadRelayConfig({ ...broker, SAGA_RELAY_FAULT: 'crash-after-publish' }))).toEqual([
      'SAGA_RELAY_FAULT is set, but SAGA_FAULTS_ENABLED is not "true": fault injection is for testing and must be switched on explicitly',
    ]);
    expect(configErrorProblems(() => loadRelayConfig({ ...broker, SAGA_RELAY_FAULT: 'crash-before-mark', SAGA_FAULTS_ENABLED: 'true' }))).toEqual([
      'SAGA_RELAY_FAULT must be crash-after-publish (got crash-before-mark)',
    ]);
  });
});

describe('the outcome of an order the reconciler undid', () => {
  const ran = (step: string, service: string) => ({ service, step, op: 'try' as const, writtenBy: 'try' as const });
  const undone = (step: string, service: string) => ({ service, step, op: 'cancel' as const, writtenBy: 'cancel' as const });
  const neverRan = (step: string, service: string) => ({ service, step, op: 'try' as const, writtenBy: 'cancel' as const });
  const input = sampleOrder({ orderId: 'o-rec' });

  it('is nothing while a step that ran still stands', () => {
    expect(reconciledOrderOutcome([ran('reserveStock', 'inventory'), ran('authorizePayment', 'payments'), undone('authorizePayment', 'payments')], input)).toBeUndefined();
  });

  it('is compensated once every step that ran is undone, listing them last first, with the total from the saga\'s input', () => {
    const rows = [
      ran('reserveStock', 'inventory'),
      ran('authorizePayment', 'payments'),
      neverRan('capturePayment', 'payments'),
      undone('capturePayment', 'payments'),
      undone('authorizePayment', 'payments'),
      undone('reserveStock', 'inventory'),
    ];
    expect(reconciledOrderOutcome(rows, input)).toEqual({
      orderId: 'o-rec',
      outcome: 'compensated',
      failure: { type: 'EndedBeforeUnwind' },
      undone: ['authorizePayment', 'reserveStock'],
      totalCents: 3998,
      currency: 'EUR',
      itemCount: 2,
      decidedBy: 'reconciler',
    });
  });
});

describe.each(testEngines())('the outbox of order outcomes on $name', (engine) => {
  const services = useTestServices(engine);
  const key = (orderId: string) => `order-${orderId}/run-1/recordOrderOutcome`;
  const rowsOf = (s: Services, orderId: string) => s.db.all<{ outcome: string; event_id: string }>('SELECT outcome, event_id FROM order_events WHERE order_id = ?', [orderId]);

  describe.skipIf(!engine.create)('recording', () => {
    it('writes one row per outcome key: the same outcome recorded twice, or another one after it, returns the first and writes nothing', async () => {
      const s = services();
      const orderId = `o-${randomUUID().slice(0, 8)}`;
      const first = await recordOrderOutcome(s.db, key(orderId), outcome(orderId));
      const again = await recordOrderOutcome(s.db, key(orderId), outcome(orderId));
      const other = await recordOrderOutcome(s.db, key(orderId), outcome(orderId, { outcome: 'compensated', failure: { type: 'Terminated' }, decidedBy: 'reconciler' }));
      expect(again).toEqual(first);
      expect(other).toEqual(first);
      expect(await rowsOf(s, orderId)).toEqual([{ outcome: 'completed', event_id: first.eventId }]);
    });

    it('writes one row when the activity is retried after it wrote the row (same workflow, same saga, attempt 2)', async () => {
      const s = services();
      const activities = createActivities(s);
      const orderId = `o-${randomUUID().slice(0, 8)}`;
      // As the saga schedules it: with the saga id its proxy adds (a reset run keeps it).
      const input = { orderId, outcome: 'cancelled' as const, undone: ['reserveStock'], totalCents: 3998, currency: 'EUR', itemCount: 2, sagaId: 'run-0' };
      const attempt = (n: number): Promise<{ eventId: string; outcome: string }> =>
        new MockActivityEnvironment({ workflowExecution: { workflowId: `order-${orderId}`, runId: 'run-1' }, activityId: '9', activityType: 'recordOrderOutcome', attempt: n }, { logger: silentLog }).run(
          activities.recordOrderOutcome,
          input,
        );
      const first = await attempt(1);
      const retried = await attempt(2);
      expect(retried).toEqual(first);
      expect(first.outcome).toBe('cancelled');
      expect(await rowsOf(s, orderId)).toEqual([{ outcome: 'cancelled', event_id: first.eventId }]);
      expect(await s.db.get('SELECT idem_key FROM order_events WHERE order_id = ?', [orderId])).toEqual({ idem_key: `order-${orderId}/run-0/recordOrderOutcome` });
    });

    it('refuses an outcome that is not completed, compensated or cancelled, before writing anything', async () => {
      const s = services();
      const activities = createActivities(s);
      const orderId = `o-${randomUUID().slice(0, 8)}`;
      const env = new MockActivityEnvironment({ workflowExecution: { workflowId: `order-${orderId}`, runId: 'run-1' }, activityType: 'recordOrderOutcome' }, { logger: silentLog });
      const refused = await env
        .run(activities.recordOrderOutcome, { orderId, outcome: 'shipped' as 'completed', undone: [], totalCents: 1, currency: 'EUR', itemCount: 1 })
        .catch((err: unknown) => err);
      expect(refused).toMatchObject({ type: 'InvalidInput' });
      expect(await rowsOf(s, orderId)).toEqual([]);
    });
  });

  describe.skipIf(!engine.create)('claiming and publishing', () => {
    // Each test starts from an outbox with nothing left to publish.
    const drain = async (s: Services) => {
      await s.db.run("UPDATE order_events SET published_at = 'before', lease_owner = NULL, lease_until = NULL WHERE published_at IS NULL");
    };

    it('leases the claimed rows to one relay until they are published, given back, or the lease runs out', async () => {
      const s = services();
      await drain(s);
      const ids = [`o-${randomUUID().slice(0, 8)}`, `o-${randomUUID().slice(0, 8)}`];
      for (const id of ids) await recordOrderOutcome(s.db, key(id), outcome(id));
      const a = await claimUnpublished(s.db, { owner: 'relay-a', limit: 10, leaseMs: 60_000 });
      expect(a.map((r) => r.orderId)).toEqual(ids);
      expect(await claimUnpublished(s.db, { owner: 'relay-b', limit: 10, leaseMs: 60_000 })).toEqual([]);
      expect(await releaseClaims(s.db, 'relay-a')).toBe(2);
      const b = await claimUnpublished(s.db, { owner: 'relay-b', limit: 10, leaseMs: 1 });
      expect(b.map((r) => r.orderId)).toEqual(ids);
      await new Promise((r) => setTimeout(r, 20));
      expect((await claimUnpublished(s.db, { owner: 'relay-c', limit: 10, leaseMs: 60_000 })).map((r) => r.orderId)).toEqual(ids);
      await drain(s);
    });

    it('publishes a batch of at most batchSize rows per round, oldest first, each with its row id as message id', async () => {
      const s = services();
      await drain(s);
      const ids = Array.from({ length: 5 }, (_, i) => `o-${i}-${randomUUID().slice(0, 8)}`);
      for (const [n, id] of ids.entries()) await recordOrderOutcome(s.db, key(id), outcome(id, n % 2 ? { outcome: 'compensated', failure: { type: 'OutOfStock' } } : {}));
      const broker = fakeBroker();
      const round = () => relayRound({ db: s.db, publish: broker.publish, owner: 'relay-a', tuning: relayTuning({ batchSize: 3 }), logger: quiet });
      expect(await round()).toBe(3);
      expect(await countUnpublished(s.db)).toBe(2);
      expect(await round()).toBe(2);
      expect(await round()).toBe(0);
      expect(broker.sent.map((e) => e.orderId)).toEqual(ids);
      expect(broker.sent.map((e) => JSON.parse(e.payload).eventId)).toEqual(broker.sent.map((e) => e.eventId));
      const marked = await s.db.all<{ order_id: string; stream_seq: number }>(`SELECT order_id, stream_seq FROM order_events WHERE order_id IN (${ids.map(() => '?').join(', ')}) ORDER BY stream_seq`, ids);
      expect(marked).toEqual(ids.map((id, n) => ({ order_id: id, stream_seq: n + 1 })));
    });

    it('takes 100 rows in one round by default: 101 rows need two rounds', async () => {
      const s = services();
      await drain(s);
      for (let n = 0; n < 101; n++) {
        const id = `o-b${n}-${randomUUID().slice(0, 8)}`;
        await recordOrderOutcome(s.db, key(id), outcome(id));
      }
      const broker = fakeBroker();
      const round = () => relayRound({ db: s.db, publish: broker.publish, owner: 'relay-a', tuning: relayTuning(), logger: quiet });
      expect(await round()).toBe(100);
      expect(await countUnpublished(s.db)).toBe(1);
      expect(await round()).toBe(1);
      expect(await countUnpublished(s.db)).toBe(0);
    });

    it('stops at a row the broker does not acknowledge, so no later row overtakes it, and gives the rest back at once', async () => {
      const s = services();
      await drain(s);
      const ids = Array.from({ length: 3 }, (_, n) => `o-f${n}-${randomUUID().slice(0, 8)}`);
      const events = [];
      for (const id of ids) events.push(await recordOrderOutcome(s.db, key(id), outcome(id)));
      const failing = fakeBroker({ failOn: events[1]!.eventId });
      await expect(relayRound({ db: s.db, publish: failing.publish, owner: 'relay-a', tuning: relayTuning(), logger: quiet })).rejects.toThrow('TIMEOUT');
      expect(failing.sent.map((e) => e.orderId)).toEqual([ids[0]]);
      // Given back: another relay takes the two rows left, in order, without waiting for the lease.
      expect((await claimUnpublished(s.db, { owner: 'relay-b', limit: 10, leaseMs: 60_000 })).map((r) => r.orderId)).toEqual(ids.slice(1));
      await drain(s);
    });

    it('marks a row the broker already had (a duplicate acknowledgement) as published', async () => {
      const s = services();
      await drain(s);
      const id = `o-d-${randomUUID().slice(0, 8)}`;
      const event = await recordOrderOutcome(s.db, key(id), outcome(id));
      const broker = fakeBroker({ duplicates: new Set([event.eventId]) });
      expect(await relayRound({ db: s.db, publish: broker.publish, owner: 'relay-a', tuning: relayTuning(), logger: quiet })).toBe(1);
      expect(await countUnpublished(s.db)).toBe(0);
    });
  });
});
