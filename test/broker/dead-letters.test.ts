import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers, nuid } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { SagaStatus } from '@saga-temporal/saga';
import { startOrder } from '../../src/order/start';
import type { CarrierReply } from '../../src/carrier/protocol';
import { sampleOrder } from '../support/samples';
import { startBrokerTestbed, type BrokerTestbed } from './broker-testbed';
import { compensationsRun, failureOf } from '../support/order-failures';

// Commands the carrier gives up on. Here every booking fails (the shipping service's `create` is
// made to fail transiently, as a database that refuses writes would), so each command is delivered
// five times, then copied to the dead-letter stream, answered with a failure and terminated.

let testbed: BrokerTestbed;
beforeAll(async () => {
  testbed = await startBrokerTestbed();
  await testbed.carrierInProcess({ faults: { shipping: { failOperations: ['create'] } } });
});
afterAll(async () => {
  await testbed?.close();
});

/** The dead letters of the stream, with their headers. */
async function deadLetters(): Promise<Array<{ subject: string; body: string; header: (name: string) => string }>> {
  const jsm = await jetstreamManager(testbed.connection);
  const { first_seq, last_seq, messages } = (await jsm.streams.info('CARRIER_DEAD_LETTERS')).state;
  if (messages === 0) return [];
  const found = [];
  for (let seq = first_seq; seq <= last_seq; seq++) {
    const msg = await jsm.streams.getMessage('CARRIER_DEAD_LETTERS', { seq });
    if (msg) found.push({ subject: msg.subject, body: msg.string(), header: (name: string) => msg.header.get(name) });
  }
  return found;
}

describe('dead letters', () => {
  it('dead-letters a booking that fails at every one of its 5 deliveries, and the saga compensates', { timeout: 90_000 }, async () => {
    const input = sampleOrder();
    const handle = await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const { type, state } = await failureOf(handle);
    expect(type).toBe('CarrierDeadLetter');
    expect(state.status).toBe(SagaStatus.COMPENSATED);
    expect(compensationsRun(state)).toContain('refundPayment');
    expect(await testbed.shipmentsOf(input.orderId)).toBe(0);
    expect((await testbed.services.payments.get(input.orderId))?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);

    const letter = (await deadLetters()).find((d) => d.body.includes(input.orderId));
    expect(letter).toBeDefined();
    expect(letter!.subject).toBe('carrier.dead.create');
    expect(letter!.header('Saga-Deliveries')).toBe('5');
    expect(letter!.header('Saga-Error')).toContain('failOperations');
    expect(letter!.header('Saga-Original-Subject')).toBe('carrier.commands.create');
    expect(JSON.parse(letter!.body)).toMatchObject({ kind: 'create', orderId: input.orderId });
    const jsm = await jetstreamManager(testbed.connection);
    expect((await jsm.consumers.info('CARRIER_COMMANDS', 'carrier')).num_ack_pending).toBe(0);
  });

  it('dead-letters a command whose body does not parse at its first delivery, and answers its sender with the failure', async () => {
    const replyTo = `carrier.replies.request.${nuid.next()}`;
    const answer = testbed.connection.subscribe(replyTo, { max: 1, timeout: 20_000 });
    const h = headers();
    h.set('Saga-Reply-To', replyTo);
    h.set('Saga-Key', 'poison-key');
    await jetstream(testbed.connection).publish('carrier.commands.create', '{not json', { headers: h, msgID: `poison-${replyTo}` });
    let reply: CarrierReply | undefined;
    for await (const msg of answer) reply = msg.json<CarrierReply>();
    expect(reply).toMatchObject({ key: 'poison-key', kind: 'unknown', ok: false, failure: { type: 'CarrierDeadLetter', nonRetryable: true } });

    const letter = (await deadLetters()).find((d) => d.header('Saga-Reply-To') === replyTo);
    expect(letter).toMatchObject({ subject: 'carrier.dead.unknown', body: '{not json' });
    expect(letter!.header('Saga-Deliveries')).toBe('1');
    expect(letter!.header('Saga-Error')).toBe('the body is not JSON');
  });
});
