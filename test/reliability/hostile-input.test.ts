import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Client, Connection, QueryNotRegisteredError, ServiceError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { FailureType } from '../../src/shared/failures';
import { markCompensatedUpdate, retryCompensationUpdate, SagaStatus, sagaStateQuery } from '@saga-temporal/saga';
import { orderWorkflowId, startOrder } from '../../src/order/start';
import { registrationWorkflowId, startRegistration } from '../../src/registration/start';
import { orderSummary, orderTotalCents } from '../../src/order/contract';
import { InvalidInputError, parseOrThrow } from '../../src/shared/validation';
import { orderInputSchema, type OrderInput } from '../../src/order/contract';
import { type RegistrationInput } from '../../src/registration/contract';
import { audit } from '../../src/services';
import { verificationStateQuery, verifyEmailSignal, verifyEmailUpdate, type VerificationState } from '../../src/registration/contract';
import { type registrationSaga } from '../../src/registration/workflow';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnWorker, writeWorkflowBundle } from '../fixtures/chaos-processes';
import { uniqueTaskQueue } from '../helpers';
import { useSagaTestbed } from '../support/testbed';
import { sampleOrder, sampleRegistration, uniqueId } from '../support/samples';

// Hostile and malformed input, sent for real: through the client's starters (refused before anything
// reaches the server) and straight at the server as a workflow start (refused by the workflow before
// any activity). Whatever arrives, every service's state must stay exactly as it was.


const testbed = useSagaTestbed({ server: 'dev-server' });

/** Every service's state, as the audit reads it, plus the idempotency records. */
async function servicesState(): Promise<unknown> {
  const { stock, payments, shipments, users, outbox, problems } = await audit(testbed.services);
  const [barriers] = await testbed.services.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM barriers');
  return { stock, payments, shipments, users, outbox, problems, barriers: barriers?.n };
}

const order = (): OrderInput => sampleOrder({ orderId: uniqueId('h') });

const registration = () => sampleRegistration({ verificationTimeout: '10 minutes' });

const tenMegabytes = 'x'.repeat(10 * 1024 * 1024);
type Mangle<T> = (input: T) => unknown;

/** Malformed orders: what each does to a valid order, and the problem the error must name. */
const badOrders: [string, Mangle<OrderInput & { orderId: string }>, RegExp][] = [
  ['a quantity sent as a string', (o) => ({ ...o, items: [{ ...o.items[0], quantity: '2' }] }), /items\.0\.quantity/],
  ['an order id sent as a number', (o) => ({ ...o, orderId: 42 }), /orderId/],
  ['items that are not a list', (o) => ({ ...o, items: 'sku-widget' }), /items/],
  ['no e-mail address', ({ email: _, ...o }) => o, /email/],
  ['no shipping address', ({ shippingAddress: _, ...o }) => o, /shippingAddress/],
  ['an empty cart', (o) => ({ ...o, items: [] }), /at least one item/],
  ['a cart of 101 lines', (o) => ({ ...o, items: Array.from({ length: 101 }, (_, i) => ({ sku: `sku-line-${i}`, quantity: 1, unitPriceCents: 1 })) }), /at most 100 lines/],
  ['the same SKU on two lines', (o) => ({ ...o, items: [o.items[0], o.items[0]] }), /each SKU may appear once/],
  ['a negative quantity', (o) => ({ ...o, items: [{ ...o.items[0], quantity: -1 }] }), /items\.0\.quantity/],
  ['a negative price', (o) => ({ ...o, items: [{ ...o.items[0], unitPriceCents: -500 }] }), /items\.0\.unitPriceCents/],
  ['a fractional quantity', (o) => ({ ...o, items: [{ ...o.items[0], quantity: 1.5 }] }), /items\.0\.quantity/],
  ['a quantity beyond any stock', (o) => ({ ...o, items: [{ ...o.items[0], quantity: 1e12 }] }), /items\.0\.quantity/],
  ['a price in fractions of a cent', (o) => ({ ...o, items: [{ ...o.items[0], unitPriceCents: 0.5 }] }), /items\.0\.unitPriceCents/],
  ['an SQL injection in the order id', (o) => ({ ...o, orderId: "o-1'; DROP TABLE stock; --" }), /orderId/],
  ['a script tag as a SKU', (o) => ({ ...o, items: [{ ...o.items[0], sku: '<script>alert(1)</script>' }] }), /items\.0\.sku/],
  ['an injection in the payment token', (o) => ({ ...o, payment: { token: "tok_visa' OR '1'='1" } }), /payment\.token/],
  ['a header injection in the e-mail address', (o) => ({ ...o, email: 'ada@example.com\r\nBcc: everyone@example.com' }), /email/],
  ['a Cyrillic look-alike letter in the order id', (o) => ({ ...o, orderId: 'оrder-1' }), /orderId/],
  ['a right-to-left override in the customer id', (o) => ({ ...o, customerId: 'c\u202e1' }), /customerId/],
  ['a NUL byte in the recipient name', (o) => ({ ...o, shippingAddress: { ...o.shippingAddress, name: 'Ada\u0000Lovelace' } }), /shippingAddress\.name/],
  ['a 10 MB recipient name', (o) => ({ ...o, shippingAddress: { ...o.shippingAddress, name: tenMegabytes } }), /shippingAddress\.name/],
  ['a country name instead of a code', (o) => ({ ...o, shippingAddress: { ...o.shippingAddress, country: 'Germany' } }), /shippingAddress\.country/],
  ['a currency name instead of a code', (o) => ({ ...o, currency: 'euro' }), /currency/],
  ['an extra field claiming privileges', (o) => ({ ...o, isAdmin: true }), /isAdmin/],
  ['a __proto__ key', (o) => ({ ...o, ...(JSON.parse('{"__proto__": {"isAdmin": true}}') as object) }), /__proto__/],
  ['NaN as a quantity', (o) => ({ ...o, items: [{ ...o.items[0], quantity: Number.NaN }] }), /items\.0\.quantity/],
  ['Infinity as a price', (o) => ({ ...o, items: [{ ...o.items[0], unitPriceCents: Number.POSITIVE_INFINITY }] }), /items\.0\.unitPriceCents/],
  ['an order whose every line is free', (o) => ({ ...o, items: [{ ...o.items[0], unitPriceCents: 0 }] }), /at least 1 cent/],
  ['a nested __proto__ key in an order line', (o) => ({ ...o, items: [{ ...o.items[0], ...(JSON.parse('{"__proto__": {"unitPriceCents": 0}}') as object) }] }), /items\.0: .*__proto__/],
  ['a constructor key in the shipping address', (o) => ({ ...o, shippingAddress: { ...o.shippingAddress, constructor: { prototype: { isAdmin: true } } } }), /shippingAddress: .*constructor/],
  ['a zero-width space in the e-mail address', (o) => ({ ...o, email: 'ada\u200b@example.com' }), /email: invisible and control characters/],
  ['a Cyrillic look-alike letter in the e-mail address', (o) => ({ ...o, email: '\u0430da@example.com' }), /email: only ASCII/],
  ['a right-to-left override in the recipient name', (o) => ({ ...o, shippingAddress: { ...o.shippingAddress, name: 'Ada \u202eecalevoL' } }), /shippingAddress\.name/],
  ['a C1 control character in the street', (o) => ({ ...o, shippingAddress: { ...o.shippingAddress, line1: '12 St James Sq\u0085' } }), /shippingAddress\.line1/],
  ['a zero-width joiner in the city', (o) => ({ ...o, shippingAddress: { ...o.shippingAddress, city: 'Lon\u200ddon' } }), /shippingAddress\.city/],
  ['null instead of an order', () => null, /\(input\)/],
  ['a string instead of an order', () => 'order please', /\(input\)/],
];

/** Malformed registrations. */
const badRegistrations: [string, Mangle<RegistrationInput & { userId: string; email: string }>, RegExp][] = [
  ['no e-mail address', ({ email: _, ...r }) => r, /email/],
  ['an e-mail address sent as a number', (r) => ({ ...r, email: 12345 }), /email/],
  ['a script tag as the e-mail address', (r) => ({ ...r, email: '<script>alert(1)</script>@example.com' }), /email/],
  ['an SQL injection in the user id', (r) => ({ ...r, userId: "u-1' OR '1'='1" }), /userId/],
  ['a 10 MB name', (r) => ({ ...r, name: tenMegabytes }), /name/],
  ['a name of control characters', (r) => ({ ...r, name: '\u0007\u0008' }), /name/],
  ['a verification timeout of zero', (r) => ({ ...r, verificationTimeout: 0 }), /verificationTimeout/],
  ['a negative verification timeout', (r) => ({ ...r, verificationTimeout: -5_000 }), /verificationTimeout/],
  ['a verification timeout of a hundred years', (r) => ({ ...r, verificationTimeout: '36500d' }), /verificationTimeout/],
  ['a verification timeout that is not a duration', (r) => ({ ...r, verificationTimeout: 'soon' }), /verificationTimeout/],
  ['an extra field', (r) => ({ ...r, status: 'active' }), /status/],
  ['a constructor key', (r) => ({ ...r, constructor: { prototype: { status: 'active' } } }), /constructor/],
  ['a zero-width space in the e-mail address', (r) => ({ ...r, email: r.email.replace('@', '\u200b@') }), /email/],
  ['a right-to-left override in the e-mail address', (r) => ({ ...r, email: `\u202e${r.email}` }), /email/],
  ['a NUL byte in the e-mail address', (r) => ({ ...r, email: r.email.replace('@', '\u0000@') }), /email/],
  ['a Greek look-alike letter in the e-mail address', (r) => ({ ...r, email: r.email.replace('o', '\u03bf') }), /email: only ASCII/],
  ['a combining accent in the e-mail address', (r) => ({ ...r, email: r.email.replace('@', 'e\u0301@') }), /email: only ASCII/],
  ['a right-to-left override in the name', (r) => ({ ...r, name: 'Grace \u202erepoH' }), /name/],
  ['a C1 control character in the name', (r) => ({ ...r, name: 'Grace\u0085Hopper' }), /name/],
];

let before: unknown;
beforeEach(async () => {
  before = await servicesState();
});

describe('malformed input at the client edge', () => {
  it.each(badOrders)('startOrder refuses %s with InvalidInputError before contacting the server, and nothing changes', async (_, mangle, problem) => {
    const start = vi.spyOn(testbed.env.client.workflow, 'start');
    try {
      const err = await startOrder(testbed.env.client, mangle(order()) as OrderInput, { taskQueue: testbed.taskQueue }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).problems).toMatch(problem);
      expect(start).not.toHaveBeenCalled();
    } finally {
      start.mockRestore();
    }
    expect(await servicesState()).toEqual(before);
  });

  it.each(badRegistrations)('startRegistration refuses %s with InvalidInputError before contacting the server, and nothing changes', async (_, mangle, problem) => {
    const start = vi.spyOn(testbed.env.client.workflow, 'start');
    try {
      const err = await startRegistration(testbed.env.client, mangle(registration()) as RegistrationInput, { taskQueue: testbed.taskQueue }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).problems).toMatch(problem);
      expect(start).not.toHaveBeenCalled();
    } finally {
      start.mockRestore();
    }
    expect(await servicesState()).toEqual(before);
  });
});

/** Starts a workflow with raw arguments, bypassing the client's validation, and returns how it failed. */
async function startDirectly(workflowType: 'orderSaga' | 'registrationSaga', args: unknown[]): Promise<{ handle: WorkflowHandle; err: unknown }> {
  const handle = await testbed.env.client.workflow.start(workflowType, { taskQueue: testbed.taskQueue, workflowId: uniqueTaskQueue(`direct-${workflowType}`), args });
  return { handle, err: await handle.result().catch((e: unknown) => e) };
}

async function expectRefusedByWorkflow({ handle, err }: { handle: WorkflowHandle; err: unknown }, problem: RegExp): Promise<void> {
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(FailureType.InvalidInput);
  expect((cause as ApplicationFailure).nonRetryable).toBe(true);
  expect(cause?.message).toMatch(problem);
  const history = await handle.fetchHistory();
  expect(history.events?.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
}

// Megabytes cannot reach a workflow at all: the server refuses the payload (see below).
const smallBadOrders = badOrders.filter(([title]) => !title.startsWith('a 10 MB'));
const smallBadRegistrations = badRegistrations.filter(([title]) => !title.startsWith('a 10 MB'));

describe('malformed input started directly on the server', () => {
  it.each(smallBadOrders)('orderSaga fails with a non-retryable InvalidInput before any activity for %s, and nothing changes', async (_, mangle, problem) => {
    await expectRefusedByWorkflow(await startDirectly('orderSaga', [mangle(order())]), problem);
    expect(await servicesState()).toEqual(before);
  });

  it.each(smallBadRegistrations)('registrationSaga fails with a non-retryable InvalidInput before any activity for %s, and nothing changes', async (_, mangle, problem) => {
    await expectRefusedByWorkflow(await startDirectly('registrationSaga', [mangle(registration())]), problem);
    expect(await servicesState()).toEqual(before);
  });

  // JSON has no NaN and no Infinity: a client's NaN or Infinity reaches the server as null. A payload
  // written by hand carries what JSON can: 1e999 (which parses as Infinity), null, and keys that name
  // the prototype. Each is sent as raw bytes, past every converter and schema of the client.
  it.each([
    ['1e999, which parses as Infinity, as a price', (json: string) => json.replace(/"unitPriceCents":\d+/, '"unitPriceCents":1e999'), /items\.0\.unitPriceCents/],
    ['null, which a NaN quantity becomes, as a quantity', (json: string) => json.replace(/"quantity":\d+/, '"quantity":null'), /items\.0\.quantity/],
    ['a __proto__ key', (json: string) => `{"__proto__":{"isAdmin":true},${json.slice(1)}`, /__proto__/],
    ['a constructor key', (json: string) => `{"constructor":{"prototype":{"isAdmin":true}},${json.slice(1)}`, /constructor/],
  ])('orderSaga fails with a non-retryable InvalidInput before any activity for raw JSON carrying %s, and nothing changes', async (_, mangle, problem) => {
    expect(JSON.stringify({ quantity: Number.NaN, price: Number.POSITIVE_INFINITY })).toBe('{"quantity":null,"price":null}');
    expect(JSON.parse('1e999')).toBe(Number.POSITIVE_INFINITY);
    const input = order();
    const data = mangle(JSON.stringify(input));
    expect(data).not.toBe(JSON.stringify(input));
    const workflowId = uniqueTaskQueue('raw-orderSaga');
    await testbed.env.client.workflowService.startWorkflowExecution({
      namespace: 'default',
      workflowId,
      workflowType: { name: 'orderSaga' },
      taskQueue: { name: testbed.taskQueue },
      input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(data) }] },
      requestId: uniqueId('raw'),
    });
    const handle = testbed.env.client.workflow.getHandle(workflowId);
    await expectRefusedByWorkflow({ handle, err: await handle.result().catch((e: unknown) => e) }, problem);
    expect(await servicesState()).toEqual(before);
  });

  it('orderSaga started without any argument fails with InvalidInput, and nothing changes', async () => {
    await expectRefusedByWorkflow(await startDirectly('orderSaga', []), /\(input\)/);
    expect(await servicesState()).toEqual(before);
  });

  // A connection without the client's retries: it retries RESOURCE_EXHAUSTED (it may be a rate limit)
  // for over half a minute before giving up with the same answer.
  it.each([
    ['10 MB', 10 * 1024 * 1024, /RESOURCE_EXHAUSTED: grpc: received message larger than max/],
    ['3 MB', 3 * 1024 * 1024, /INVALID_ARGUMENT: Blob data size exceeds limit/],
  ])('the server refuses a start carrying a %s string, so no workflow exists, and nothing changes', async (_, bytes, reason) => {
    const connection = await Connection.connect({ address: testbed.env.address, interceptors: [] });
    try {
      const client = new Client({ connection });
      const input = order();
      const workflowId = orderWorkflowId(input.orderId);
      const err = await client.workflow
        .start('orderSaga', { taskQueue: testbed.taskQueue, workflowId, args: [{ ...input, shippingAddress: { ...input.shippingAddress, name: 'x'.repeat(bytes) } }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServiceError);
      expect(String((err as ServiceError).cause?.message)).toMatch(reason);
      await expect(client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    } finally {
      await connection.close();
    }
    expect(await servicesState()).toEqual(before);
  });
});

describe('hostile-looking but valid input', () => {
  it('is kept verbatim as data: an order addressed to an SQL injection, a script tag and unicode completes and the tables survive', async () => {
    const input = order();
    const address = { name: "Robert'); DROP TABLE stock;--", line1: '<script>alert(1)</script>', city: 'Zürich 東京 🚀', postalCode: '8001', country: 'CH' };
    const result = await (await startOrder(testbed.env.client, { ...input, shippingAddress: address }, { taskQueue: testbed.taskQueue })).result();
    expect(result.status).toBe('COMPLETED');
    expect((await testbed.services.shipping.get(input.orderId))?.address).toEqual(address);
    const report = await audit(testbed.services);
    expect(report.stock.map((s) => s.sku)).toEqual(['sku-gadget', 'sku-gizmo', 'sku-limited', 'sku-soldout', 'sku-widget']);
    expect(report.problems).toEqual([]);
  });
});

async function untilWaiting(handle: WorkflowHandle): Promise<VerificationState> {
  for (let i = 0; i < 200; i++) {
    const state = await handle.query(verificationStateQuery);
    if (state.phase === 'waiting') return state;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${handle.workflowId} never waited for its code`);
}

describe('the largest valid cart', () => {
  function largestCart(): OrderInput & { orderId: string } {
    const input = order();
    return { ...input, items: Array.from({ length: 100 }, (_, i) => ({ sku: `sku-max-${i}`, quantity: 10_000, unitPriceCents: 100_000_000 })) };
  }

  it('passes validation with an exact total far below the safe-integer limit', () => {
    const valid = parseOrThrow(orderInputSchema, 'order', largestCart());
    expect(orderTotalCents(valid.items)).toBe(100_000_000_000_000);
    expect(Number.isSafeInteger(orderTotalCents(valid.items) * 90)).toBe(true);
    expect(orderSummary(valid)).toMatch(/1000000 items, 1000000000000\.00 EUR$/);
  });

  it('runs through the saga to a typed refusal (its SKUs are unknown), undoing the payment, with the amount intact', async () => {
    const input = largestCart();
    const err = await (await startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })).result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.InvalidInput);
    const payment = await testbed.services.payments.get(input.orderId);
    if (payment) {
      expect(payment.ledger.find((e) => e.kind === 'authorize')?.amountCents).toBe(100_000_000_000_000);
      expect(payment.status).toBe('voided');
    }
    expect((await audit(testbed.services)).problems).toEqual([]);
  });
});

describe('duplicate workflow ids', () => {
  it('a second start of a running order is refused, and the order is charged once', async () => {
    const input = order();
    const [first, second] = await Promise.allSettled([startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue }), startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })]);
    const started = [first, second].filter((r) => r.status === 'fulfilled');
    const refused = [first, second].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(started).toHaveLength(1);
    expect(refused.map((r) => r.reason as unknown)).toEqual([expect.any(WorkflowExecutionAlreadyStartedError)]);
    await (started[0] as PromiseFulfilledResult<WorkflowHandle>).value.result();

    await expect(startOrder(testbed.env.client, input, { taskQueue: testbed.taskQueue })).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    const payment = await testbed.services.payments.get(input.orderId);
    expect(payment?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture']);
    expect(await testbed.services.inventory.reservations(input.orderId)).toHaveLength(1);
    expect((await audit(testbed.services)).idempotency.duplicateEffects).toEqual([]);
  });

  it('a second registration of a waiting address, spelled in other case, is refused and leaves one account', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await untilWaiting(handle);
    await expect(startRegistration(testbed.env.client, { ...input, userId: `${input.userId}-again`, email: input.email.toUpperCase() }, { taskQueue: testbed.taskQueue })).rejects.toBeInstanceOf(
      WorkflowExecutionAlreadyStartedError,
    );
    expect(registrationWorkflowId(input.email.toUpperCase())).toBe(handle.workflowId);
    await handle.cancel();
    await handle.result().catch(() => undefined);
    const rows = await testbed.services.db.all<{ user_id: string; status: string }>('SELECT user_id, status FROM users WHERE email = ?', [input.email]);
    expect(rows).toEqual([{ user_id: input.userId, status: 'deleted' }]);
  });
});

describe('addresses that look the same', () => {
  /** The address with its local part in full-width letters, which NFKC folds back to ASCII. */
  const fullWidth = (email: string) => {
    const [local, domain] = email.split('@') as [string, string];
    return `${local.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x61 + 0xff41))}@${domain}`;
  };

  it('a full-width spelling of a waiting address is the same registration: refused, one account', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await untilWaiting(handle);
    expect(fullWidth(input.email)).not.toBe(input.email);
    expect(registrationWorkflowId(fullWidth(input.email))).toBe(handle.workflowId);
    await expect(startRegistration(testbed.env.client, { ...input, userId: `${input.userId}-wide`, email: fullWidth(input.email) }, { taskQueue: testbed.taskQueue })).rejects.toBeInstanceOf(
      WorkflowExecutionAlreadyStartedError,
    );
    await handle.cancel();
    await handle.result().catch(() => undefined);
    const rows = await testbed.services.db.all<{ user_id: string }>('SELECT user_id FROM users WHERE user_id LIKE ?', [`${input.userId}%`]);
    expect(rows).toEqual([{ user_id: input.userId }]);
  });

  it('a full-width spelling started directly under another workflow id meets the same account and is refused as EmailTaken', async () => {
    const input = registration();
    const handle = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    await untilWaiting(handle);
    const second = await testbed.env.client.workflow.start('registrationSaga', {
      taskQueue: testbed.taskQueue,
      workflowId: uniqueTaskQueue('nfkc-duplicate'),
      args: [{ ...input, userId: `${input.userId}-wide`, email: fullWidth(input.email) }],
    });
    const err = await second.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.EmailTaken);
    await handle.cancel();
    await handle.result().catch(() => undefined);
    expect(await testbed.services.users.get(`${input.userId}-wide`)).toBeUndefined();
  });
});

describe('unknown and malformed messages to a running saga', () => {
  it('are refused or ignored without a side effect, and the registration still completes with the right code', async () => {
    const input = registration();
    const handle: WorkflowHandle<typeof registrationSaga> = await startRegistration(testbed.env.client, input, { taskQueue: testbed.taskQueue });
    const waiting = await untilWaiting(handle);
    const quiet = await servicesState();

    await handle.signal('noSuchSignal', { code: '123456' });
    await handle.signal(verifyEmailSignal, { code: { $ne: null } } as unknown as { code: string });
    await expect(handle.executeUpdate('noSuchUpdate', { args: [] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(handle.query('noSuchQuery')).rejects.toBeInstanceOf(QueryNotRegisteredError);
    for (const arg of [{ code: 12345678 }, {}, { code: "'; DROP TABLE users; --" }, { code: '<script>' }, { code: '9'.repeat(10_000) }]) {
      await expect(handle.executeUpdate(verifyEmailUpdate, { args: [arg as { code: string }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    }
    await expect(handle.executeUpdate(retryCompensationUpdate)).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(handle.executeUpdate(markCompensatedUpdate, { args: [{ reason: 'nothing to repair' }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);

    expect(await handle.query(verificationStateQuery)).toEqual(waiting);
    expect((await testbed.services.users.get(input.userId))?.failedChecks).toBe(0);
    expect(await servicesState()).toEqual(quiet);

    const code = await testbed.services.mail.latestVerificationCode(input.email);
    expect(await handle.executeUpdate(verifyEmailUpdate, { args: [{ code: code! }] })).toMatchObject({ accepted: true });
    expect((await handle.result()).status).toBe('ACTIVE');
    expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPLETED);
  });
});

describe('personal data in the worker log', () => {
  it('a bounced address and a duplicate account leave ids in the log, never the address or the name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'saga-log-'));
    const logQueue = uniqueTaskQueue('log');
    const worker = await spawnWorker({ address: testbed.env.address, taskQueue: logQueue, databaseUrl: `sqlite:${join(dir, 'services.db')}`, bundlePath: await writeWorkflowBundle(dir) });
    try {
      const stamp = Date.now().toString(36);
      const bounced = { email: `mary.shelley.${stamp}@bounce.test`, name: 'Mary Shelley', verificationTimeout: '10 minutes' };
      const bounceErr = await (await startRegistration(testbed.env.client, bounced, { taskQueue: logQueue })).result().catch((e: unknown) => e);
      expect(bounceErr).toBeInstanceOf(WorkflowFailedError);

      const taken = { userId: `u-first-${stamp}`, email: `ada.byron.${stamp}@example.com`, name: 'Ada Byron', verificationTimeout: '10 minutes' };
      const first = await startRegistration(testbed.env.client, taken, { taskQueue: logQueue });
      await untilWaiting(first);
      const second = await testbed.env.client.workflow.start('registrationSaga', {
        taskQueue: logQueue,
        workflowId: uniqueTaskQueue('duplicate-account'),
        args: [{ ...taken, userId: `u-second-${stamp}` }],
      });
      const takenErr = await second.result().catch((e: unknown) => e);
      expect(takenErr).toBeInstanceOf(WorkflowFailedError);
      await first.cancel();
      await first.result().catch(() => undefined);

      const log = worker.log();
      for (const secret of [bounced.email, taken.email, 'Mary Shelley', 'Ada Byron']) expect(log).not.toContain(secret);
      // The failed attempts were logged, by id: the test would pass vacuously on a silent worker.
      expect(log).toMatch(/"msg":"Activity failed".*bounced/);
      expect(log).toContain(`user u-second-${stamp}`);
      for (const err of [bounceErr, takenErr]) {
        const messages = JSON.stringify(failureMessages(err));
        expect(messages).not.toContain(bounced.email);
        expect(messages).not.toContain(taken.email);
      }
    } finally {
      await worker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Every message along an error's cause chain. */
function failureMessages(err: unknown): string[] {
  const messages: string[] = [];
  for (let e = err as Error | undefined; e; e = e.cause as Error | undefined) messages.push(e.message);
  return messages;
}
