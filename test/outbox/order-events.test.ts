import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, WorkflowIdReusePolicy } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createActivities } from '../../src/activities';
import { startOrder } from '../../src/order/start';
import { createReconcilerActivities } from '../../src/reconciler/activities';
import { reconcileWorkflowId, type ReconcileResult } from '../../src/reconciler/contract';
import { terminateSaga } from '../../src/reconciler/terminate';
import { createServices, type Services } from '../../src/services';
import { startNats, type NatsBroker } from '../../tools/nats';
import { createDevServerEnv, uniqueTaskQueue, workflowBundle } from '../helpers';
import { sampleOrder } from '../support/samples';
import { eventsOf, eventually, outboxRowsOf, readOrderEvents, startRelayProcess, type RelayProcess } from './support';

// Other systems learn of each order's end through the ORDER_EVENTS stream, exactly once: the saga
// writes its outcome to the outbox with a barrier row, and the relay (a real child process, as
// `npm run relay` runs it) publishes each row with its id as the message id. A real Temporal dev
// server, a real NATS server with JetStream, and the services on a SQLite file both processes open.

/** A capture held at its start until the test lets it go, for the orders a test ends mid-way. */
const held = new Map<string, { reached: Promise<void>; enter(): void; release(): void; released: Promise<void> }>();

function holdCapture(orderId: string) {
  let enter!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (enter = r));
  const released = new Promise<void>((r) => (release = r));
  const gate = { reached, enter, release, released };
  held.set(orderId, gate);
  return gate;
}

let dataDir: string;
let databaseUrl: string;
let env: TestWorkflowEnvironment;
let broker: NatsBroker;
let nc: NatsConnection;
let services: Services;
let taskQueue: string;
let worker: Worker;
let running: Promise<void>;
let relay: RelayProcess | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'saga-outbox-'));
  databaseUrl = `sqlite:${join(dataDir, 'services.db')}`;
  [env, broker] = await Promise.all([createDevServerEnv(), startNats({ dataDir: join(dataDir, 'nats') })]);
  services = await createServices({ databaseUrl, faults: {} });
  taskQueue = uniqueTaskQueue('outbox');
  const real = { ...createActivities(services), ...createReconcilerActivities({ client: env.client, ...services }) };
  const capturePayment: typeof real.capturePayment = async (input) => {
    const gate = held.get(input.orderId);
    if (gate) {
      gate.enter();
      await gate.released;
    }
    return real.capturePayment(input);
  };
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: { ...real, capturePayment } });
  running = worker.run();
  // Reconnects for as long as the broker is away in the test that stops it.
  nc = await connect({ servers: broker.servers, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  relay = await startRelayProcess({ SAGA_NATS_URL: broker.servers.join(','), DATABASE_URL: databaseUrl });
}, 180_000);

afterAll(async () => {
  for (const gate of held.values()) gate.release();
  await relay?.stop();
  await nc?.close();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await services?.close();
  await Promise.all([env?.teardown(), broker?.stop()]);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Waits until the stream holds an event of the order, then returns them all (there must be one). */
function publishedEventsOf(orderId: string, timeoutMs = 30_000) {
  return eventually(`an event of ${orderId} in the stream`, async () => {
    const events = await eventsOf(nc, orderId);
    return events.length ? events : undefined;
  }, timeoutMs);
}

/** Waits until every outbox row of the order is marked published. */
function markedPublished(orderId: string, timeoutMs = 30_000) {
  return eventually(`the outbox row of ${orderId} marked published`, async () => {
    const rows = await outboxRowsOf(services.db, orderId);
    return rows.length && rows.every((r) => r.published_at !== null) ? rows : undefined;
  }, timeoutMs);
}

describe('the relay process', () => {
  it('creates the ORDER_EVENTS stream on file storage, one copy, subjects orders.events.*, deduplicating message ids for 24 hours', async () => {
    const { config } = await (await jetstreamManager(nc)).streams.info('ORDER_EVENTS');
    expect(config).toMatchObject({ subjects: ['orders.events.*'], storage: 'file', num_replicas: 1 });
    expect(config.duplicate_window).toBe(24 * 60 * 60 * 1_000_000_000);
  });

  it('refuses a bad environment with a typed configuration error, exit code 1, before connecting to anything', async () => {
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'src', 'relay', 'main.ts')], {
      cwd: join(__dirname, '..', '..'),
      env: { ...process.env, SAGA_NATS_URL: 'http://broker', DATABASE_URL: 'mysql://db', LOG_LEVEL: 'chatty' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid configuration:');
    expect(result.stderr).toContain('SAGA_NATS_URL must be nats://host:port');
    expect(result.stderr).toContain('DATABASE_URL must start with sqlite: or postgres://');
    expect(result.stderr).toContain('LOG_LEVEL=chatty is not one of debug, info, warn, error');
    expect(result.stdout).not.toContain('outbox relay ready');
  });
});

describe('each ending of an order, published exactly once', () => {
  it('a completed order: one orders.events.completed message, the row marked with its stream sequence', async () => {
    const input = sampleOrder();
    const result = await (await startOrder(env.client, input, { taskQueue })).result();
    expect(result.status).toBe('COMPLETED');
    const [row] = await markedPublished(input.orderId);
    const events = await eventsOf(nc, input.orderId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subject: 'orders.events.completed', outcome: 'completed', eventId: row!.event_id, seq: row!.stream_seq });
    expect(events[0]!.event).toMatchObject({ orderId: input.orderId, totalCents: 3998, currency: 'EUR', itemCount: 2, undone: [], decidedBy: 'saga' });
  });

  it('a declined card: one orders.events.compensated message naming the failure and what was undone, with no customer data', async () => {
    const input = sampleOrder({ payment: { token: 'tok_declined' } });
    await expect((await startOrder(env.client, input, { taskQueue })).result()).rejects.toBeInstanceOf(WorkflowFailedError);
    await markedPublished(input.orderId);
    const events = await eventsOf(nc, input.orderId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subject: 'orders.events.compensated', outcome: 'compensated' });
    expect(events[0]!.event).toMatchObject({ failure: { type: 'PaymentDeclined', step: 'authorizePayment' }, undone: expect.arrayContaining(['reserveStock']), totalCents: 3998 });
    const text = JSON.stringify(events[0]!.event);
    for (const personal of [input.email, 'tok_declined', input.shippingAddress.line1, input.shippingAddress.postalCode, input.shippingAddress.name]) expect(text).not.toContain(personal);
  });

  it('an order cancelled while its payment is captured: one orders.events.cancelled message, written after the unwind', async () => {
    const input = sampleOrder();
    const gate = holdCapture(input.orderId);
    const handle = await startOrder(env.client, input, { taskQueue });
    await gate.reached;
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    gate.release();
    await markedPublished(input.orderId);
    const events = await eventsOf(nc, input.orderId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subject: 'orders.events.cancelled', outcome: 'cancelled' });
    expect(events[0]!.event.undone).toEqual(expect.arrayContaining(['authorizePayment', 'reserveStock']));
  });

  it('an order terminated mid-way and undone by the reconciler: one orders.events.compensated message, decided by the reconciler', async () => {
    const input = sampleOrder();
    const gate = holdCapture(input.orderId);
    const handle = await startOrder(env.client, input, { taskQueue });
    await gate.reached;
    const { runId } = await terminateSaga(env.client, handle.workflowId, { reason: 'stuck in a test' });
    const result: ReconcileResult = await env.client.workflow.execute('reconcileSaga', {
      taskQueue,
      workflowId: reconcileWorkflowId(handle.workflowId, runId),
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      args: [{ workflowId: handle.workflowId, runId }],
    });
    expect(result).toMatchObject({ outcome: 'UNDONE', undone: ['authorizePayment', 'reserveStock'] });
    gate.release();
    await markedPublished(input.orderId);
    const events = await eventsOf(nc, input.orderId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subject: 'orders.events.compensated', outcome: 'compensated' });
    expect(events[0]!.event).toMatchObject({ decidedBy: 'reconciler', failure: { type: 'EndedBeforeUnwind' }, undone: ['authorizePayment', 'reserveStock'], totalCents: 3998, itemCount: 2 });
    expect(await outboxRowsOf(services.db, input.orderId)).toHaveLength(1);
  });
});

describe('failures between the outbox and the stream', () => {
  it('the broker down while orders end: the rows wait in the outbox, and are published once each when it is back', async () => {
    await broker.kill(0);
    const orders = [sampleOrder(), sampleOrder({ payment: { token: 'tok_declined' } })];
    await Promise.all(orders.map(async (input) => (await startOrder(env.client, input, { taskQueue })).result().catch(() => undefined)));
    // Both rows are written, and stay unpublished while the broker is away.
    for (const input of orders) expect(await outboxRowsOf(services.db, input.orderId)).toMatchObject([{ published_at: null }]);
    await new Promise((r) => setTimeout(r, 2_000));
    for (const input of orders) expect(await outboxRowsOf(services.db, input.orderId)).toMatchObject([{ published_at: null }]);

    await broker.restart(0);
    for (const input of orders) {
      await markedPublished(input.orderId, 60_000);
      expect(await eventsOf(nc, input.orderId)).toHaveLength(1);
    }
    expect(relay!.output()).toContain('Outbox relay round failed; rows wait in the outbox');
    expect(relay!.output()).toContain('Outbox relay publishing again');
  });

  it('the relay SIGKILLed between the acknowledgement and the mark: restarted, it republishes, JetStream drops the copy, one message per order', async () => {
    await relay!.stop();
    const input = sampleOrder();
    await (await startOrder(env.client, input, { taskQueue })).result();
    const crashing = await startRelayProcess({ SAGA_NATS_URL: broker.servers.join(','), DATABASE_URL: databaseUrl, SAGA_RELAY_FAULT: 'crash-after-publish', SAGA_FAULTS_ENABLED: 'true' }, { waitForReady: false });
    expect(await crashing.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Published, not marked: the message is in the stream, the row still waits.
    const [published] = await publishedEventsOf(input.orderId);
    expect(await outboxRowsOf(services.db, input.orderId)).toMatchObject([{ published_at: null, event_id: published!.eventId }]);

    // The dead relay's lease (30 s) keeps the row from other relays until it runs out.
    relay = await startRelayProcess({ SAGA_NATS_URL: broker.servers.join(','), DATABASE_URL: databaseUrl });
    const [row] = await markedPublished(input.orderId, 90_000);
    expect(row!.stream_seq).toBe(published!.seq);
    expect(await eventsOf(nc, input.orderId)).toHaveLength(1);
    expect(relay.output()).toContain('The broker had this order event already');
  }, 150_000);

  it('every order of this file is in the stream once, and SIGTERM drains the relay, exit code 0', async () => {
    const events = await readOrderEvents(nc);
    const perOrder = new Map<string, number>();
    for (const e of events) perOrder.set(e.orderId, (perOrder.get(e.orderId) ?? 0) + 1);
    expect([...perOrder.values()].every((n) => n === 1)).toBe(true);
    expect(perOrder.size).toBe(7);
    const stopped = await relay!.stop();
    expect(stopped).toEqual({ code: 0, signal: null });
    expect(relay!.output()).toContain('Outbox relay stopped');
    relay = undefined;
  });
});
