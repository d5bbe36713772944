import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Logger } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type Activities } from '../../src/activities';
import { FailureType } from '../../src/shared/failures';
import { audit, createServices, type Services } from '../../src/services';
import { createSqliteDatabase, failureOf, type TestDatabase } from '../postgres';

// The activities on real services (SQLite; the services themselves are tested on both engines). The
// mocked activity info plays the workflow: its workflowId and runId are where the keys come from.

let database: TestDatabase;
let services: Services;
let activities: Activities;
beforeAll(async () => {
  database = await createSqliteDatabase();
  services = await createServices({ databaseUrl: database.url, faults: {}, operatorEmail: 'ops@saga.test' });
  activities = createActivities(services);
});
afterAll(async () => {
  await services?.close();
  await database?.drop();
});

const uid = () => randomUUID().slice(0, 8);

// Business refusals are expected here; the SDK would log each one as a failed activity.
const silent: Logger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Runs one activity as if scheduled by workflow `workflowId` (run `runId`), as activity `activityId`, attempt `attempt`. */
function step<K extends keyof Activities>(
  name: K,
  input: Parameters<Activities[K]>[0],
  info: { workflowId: string; runId?: string; activityId?: string; attempt?: number },
): ReturnType<Activities[K]> {
  const env = new MockActivityEnvironment(
    {
      workflowExecution: { workflowId: info.workflowId, runId: info.runId ?? 'run-1' },
      activityId: info.activityId ?? '1',
      activityType: name,
      attempt: info.attempt ?? 1,
    },
    { logger: silent },
  );
  const fn = activities[name] as (arg: typeof input) => ReturnType<Activities[K]>;
  return env.run(fn, input) as ReturnType<Activities[K]>;
}

const order = () => {
  const orderId = `o-${uid()}`;
  return { workflowId: `order-${orderId}`, orderId, items: [{ sku: 'sku-widget', quantity: 2 }] };
};
const address = { name: 'Ada Lovelace', line1: '1 Analytical Way', city: 'Toronto', postalCode: 'M5V 2T6', country: 'CA' };

/** Rows in every table a step writes to. */
async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['barriers', 'attempts', 'reservations', 'payments', 'payment_ledger', 'shipments', 'users', 'outbox']) {
    counts[table] = (await services.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n;
  }
  return counts;
}

describe('idempotency keys from the activity context', () => {
  it('derives the key from the workflow id, the run id (when no saga id is given) and the step name', async () => {
    const { workflowId, orderId, items } = order();
    await step('reserveStock', { orderId, items }, { workflowId, runId: 'run-a' });
    const barrier = await services.db.get<{ idem_key: string }>("SELECT idem_key FROM barriers WHERE service = 'inventory' AND idem_key LIKE ?", [`${workflowId}/%`]);
    expect(barrier).toEqual({ idem_key: `${workflowId}/run-a/reserveStock` });
  });

  it('returns the first result to a retry of the step (a later attempt in the same run)', async () => {
    const { workflowId, orderId, items } = order();
    const first = await step('reserveStock', { orderId, items }, { workflowId });
    expect(await step('reserveStock', { orderId, items }, { workflowId, attempt: 2 })).toEqual(first);
    expect(await services.inventory.reservations(orderId)).toHaveLength(1);
  });

  it('keys on the saga id in the input, not the run: a run started by a reset finds the first run\'s step', async () => {
    const { workflowId, orderId, items } = order();
    const first = await step('reserveStock', { orderId, items, sagaId: 'run-1' } as never, { workflowId, runId: 'run-1' });
    const afterReset = await step('reserveStock', { orderId, items, sagaId: 'run-1' } as never, { workflowId, runId: 'run-2' });
    expect(afterReset).toEqual(first);
    expect(await step('releaseStock', { orderId, sagaId: 'run-1' } as never, { workflowId, runId: 'run-3' })).toEqual({ released: 2 });
    const barrier = await services.db.get<{ idem_key: string }>("SELECT idem_key FROM barriers WHERE service = 'inventory' AND idem_key LIKE ?", [`${workflowId}/%`]);
    expect(barrier).toEqual({ idem_key: `${workflowId}/run-1/reserveStock` });
  });

  it('treats a new saga under the same workflow id (a new start) as a new step', async () => {
    const { workflowId, orderId, items } = order();
    const first = await step('reserveStock', { orderId, items, sagaId: 'run-1' } as never, { workflowId, runId: 'run-1' });
    const second = await step('reserveStock', { orderId, items, sagaId: 'run-2' } as never, { workflowId, runId: 'run-2' });
    expect(second.reservationId).not.toBe(first.reservationId);
  });

  it('refuses a malformed saga id with InvalidInput, writing nothing', async () => {
    const { workflowId, orderId, items } = order();
    const before = await rowCounts();
    const failure = await failureOf(step('reserveStock', { orderId, items, sagaId: '../x' } as never, { workflowId }));
    expect(failure).toMatchObject({ type: FailureType.InvalidInput, nonRetryable: true });
    expect(await rowCounts()).toEqual(before);
  });

  it('gives a compensation the key of the step it undoes', async () => {
    const { workflowId, orderId, items } = order();
    const ctx = { workflowId };
    await step('reserveStock', { orderId, items }, ctx);
    await step('authorizePayment', { orderId, token: 'tok_visa', amountCents: 1500, currency: 'CAD' }, ctx);
    await step('capturePayment', { orderId }, ctx);
    await step('createShipment', { orderId, address, items }, ctx);

    expect(await step('cancelShipment', { orderId }, ctx)).toEqual({ cancelled: true });
    expect(await step('refundPayment', { orderId }, ctx)).toEqual({ refundedCents: 1500 });
    expect(await step('voidPayment', { orderId }, ctx)).toEqual({ voided: false });
    expect(await step('releaseStock', { orderId }, ctx)).toEqual({ released: 2 });
    // Compensations of another workflow's steps find nothing to undo.
    expect(await step('releaseStock', { orderId }, { workflowId: `${workflowId}-other` })).toEqual({ released: 0 });
    expect((await audit(services)).problems).toEqual([]);
  });

  it('voids an authorization that the saga never captured', async () => {
    const { workflowId, orderId } = order();
    await step('authorizePayment', { orderId, token: 'tok_visa', amountCents: 700, currency: 'EUR' }, { workflowId });
    expect(await step('voidPayment', { orderId }, { workflowId })).toEqual({ voided: true });
  });

  it('records a compensation that ran first, and refuses the forward step after it', async () => {
    const { workflowId, orderId, items } = order();
    expect(await step('releaseStock', { orderId }, { workflowId })).toEqual({ released: 0 });
    const failure = await failureOf(step('reserveStock', { orderId, items }, { workflowId }));
    expect(failure).toMatchObject({ type: FailureType.StepAlreadyCompensated, nonRetryable: true });
    expect(await services.inventory.reservations(orderId)).toEqual([]);
  });

  it('refuses to run a step that no workflow scheduled, writing nothing', async () => {
    const before = await rowCounts();
    // How an activity started on its own (not by a workflow) looks in 1.24.
    const env = new MockActivityEnvironment({ workflowExecution: undefined, inWorkflow: false, activityType: 'reserveStock' }, { logger: silent });
    const failure = await failureOf(env.run(activities.reserveStock, { orderId: 'o-orphan', items: [{ sku: 'sku-widget', quantity: 1 }] }));
    expect(failure).toMatchObject({ type: 'MissingWorkflowContext', nonRetryable: true });
    expect(await rowCounts()).toEqual(before);
  });
});

describe('input validation', () => {
  const widget = [{ sku: 'sku-widget', quantity: 1 }];
  const cases: [string, () => Promise<unknown>][] = [
    ['a negative quantity', () => step('reserveStock', { orderId: 'o-neg', items: [{ sku: 'sku-widget', quantity: -1 }] }, { workflowId: 'wf-neg' })],
    ['a fractional quantity', () => step('reserveStock', { orderId: 'o-frac', items: [{ sku: 'sku-widget', quantity: 1.5 }] }, { workflowId: 'wf-frac' })],
    ['an empty cart', () => step('reserveStock', { orderId: 'o-empty', items: [] }, { workflowId: 'wf-empty' })],
    ['an unknown SKU', () => step('reserveStock', { orderId: 'o-unknown', items: [{ sku: 'sku-unicorn', quantity: 1 }] }, { workflowId: 'wf-unknown' })],
    ['a SKU listed twice', () => step('reserveStock', { orderId: 'o-twice', items: [...widget, ...widget] }, { workflowId: 'wf-twice' })],
    ['more than 100 order lines', () => step('createShipment', { orderId: 'o-big', address, items: Array.from({ length: 101 }, (_, i) => ({ sku: `sku-x${i}`, quantity: 1 })) }, { workflowId: 'wf-big' })],
    ['a malformed order id', () => step('authorizePayment', { orderId: '../etc', token: 'tok_visa', amountCents: 1, currency: 'EUR' }, { workflowId: 'wf-id' })],
    ['a malformed payment token', () => step('authorizePayment', { orderId: 'o-tok', token: 'visa', amountCents: 1, currency: 'EUR' }, { workflowId: 'wf-tok' })],
    ['a zero amount', () => step('authorizePayment', { orderId: 'o-zero', token: 'tok_visa', amountCents: 0, currency: 'EUR' }, { workflowId: 'wf-zero' })],
    ['a country of three letters', () => step('createShipment', { orderId: 'o-country', address: { ...address, country: 'CAN' }, items: widget }, { workflowId: 'wf-country' })],
    ['an invalid e-mail address', () => step('createUser', { userId: 'u-bad-mail', email: 'not-an-address', name: 'Grace' }, { workflowId: 'wf-mail' })],
    ['an oversized name', () => step('createUser', { userId: 'u-long', email: 'long@example.com', name: 'x'.repeat(10_000) }, { workflowId: 'wf-long' })],
    ['a code of 65 characters', () => step('checkVerificationCode', { userId: 'u-code', code: '1'.repeat(65) }, { workflowId: 'wf-code' })],
  ];

  it.each(cases)('rejects %s with InvalidInput before writing anything', async (_what, call) => {
    const before = await rowCounts();
    const failure = await failureOf(call());
    expect(failure).toMatchObject({ type: FailureType.InvalidInput, nonRetryable: true });
    expect(await rowCounts()).toEqual(before);
  });
});

describe('fixture outcomes through the activities', () => {
  it('lets tok_flaky fail its first two attempts retryably and succeed on the third', async () => {
    const { workflowId, orderId } = order();
    const authorize = (attempt: number) => step('authorizePayment', { orderId, token: 'tok_flaky', amountCents: 300, currency: 'EUR' }, { workflowId, attempt });
    expect(await failureOf(authorize(1))).toMatchObject({ nonRetryable: false });
    expect(await failureOf(authorize(2))).toMatchObject({ nonRetryable: false });
    expect(await authorize(3)).toMatchObject({ authorizedCents: 300 });
  });

  it.each([
    ['tok_declined', FailureType.PaymentDeclined, (o: ReturnType<typeof order>) => step('authorizePayment', { orderId: o.orderId, token: 'tok_declined', amountCents: 300, currency: 'EUR' }, o)],
    ['sku-soldout', FailureType.OutOfStock, (o: ReturnType<typeof order>) => step('reserveStock', { orderId: o.orderId, items: [{ sku: 'sku-soldout', quantity: 1 }] }, o)],
    ['country AQ', FailureType.Undeliverable, (o: ReturnType<typeof order>) => step('createShipment', { orderId: o.orderId, address: { ...address, country: 'AQ' }, items: o.items }, o)],
    [
      'an address at bounce.test',
      FailureType.MailBounced,
      (o: ReturnType<typeof order>) => step('sendOrderConfirmation', { orderId: o.orderId, email: 'nobody@bounce.test', totalCents: 100, currency: 'EUR', itemCount: 1 }, o),
    ],
  ])('fails %s with %s', async (_input, type, call) => {
    expect(await failureOf(call(order()))).toMatchObject({ type, nonRetryable: true });
  });

  it('mails the order confirmation once per order', async () => {
    const o = order();
    const email = `${o.orderId}@example.com`;
    const input = { orderId: o.orderId, email, totalCents: 5997, currency: 'EUR', itemCount: 3 };
    const first = await step('sendOrderConfirmation', input, o);
    expect(await step('sendOrderConfirmation', input, { ...o, attempt: 2 })).toEqual(first);
    const [message] = await services.mail.outbox({ to: email });
    expect(message).toMatchObject({ kind: 'order-confirmation', subject: `Your order ${o.orderId} is confirmed` });
    expect(message!.text).toContain('59.97 EUR');
  });
});

describe('registration through the activities', () => {
  const registration = async () => {
    const userId = `u-${uid()}`;
    const user = { userId, email: `${userId}@example.com`, name: 'Grace Hopper' };
    const workflowId = `registration-${userId}`;
    expect(await step('createUser', user, { workflowId })).toEqual({ userId, status: 'pending' });
    return { user, workflowId };
  };

  it('mails a code that appears in neither the input nor the result of the activity', async () => {
    const { user, workflowId } = await registration();
    const result = await step('sendVerificationEmail', { ...user, sequence: 1 }, { workflowId });
    expect(Object.keys(result)).toEqual(['messageId']);
    const code = await services.mail.latestVerificationCode(user.email);
    expect(code).toMatch(/^\d{6}$/);
    expect(JSON.stringify(result)).not.toContain(code);
  });

  it('verifies the mailed code once; a retried check keeps its answer', async () => {
    const { user, workflowId } = await registration();
    await step('sendVerificationEmail', { ...user, sequence: 1 }, { workflowId });
    const code = (await services.mail.latestVerificationCode(user.email))!;
    const check = { userId: user.userId, code };
    expect(await step('checkVerificationCode', check, { workflowId, activityId: '5' })).toEqual({ accepted: true });
    expect(await step('checkVerificationCode', check, { workflowId, activityId: '5', attempt: 2 })).toEqual({ accepted: true });
    expect(await step('checkVerificationCode', check, { workflowId, activityId: '6' })).toEqual({ accepted: false });
    expect(await step('activateUser', { userId: user.userId }, { workflowId })).toEqual({ status: 'active' });
    expect(await step('sendWelcomeEmail', user, { workflowId })).toEqual({ messageId: expect.any(String) });
    expect((await services.users.get(user.userId))?.status).toBe('active');
  });

  it('sends each verification e-mail once per sequence number, and only the newest code counts', async () => {
    const { user, workflowId } = await registration();
    const first = await step('sendVerificationEmail', { ...user, sequence: 1 }, { workflowId });
    const firstCode = await services.mail.latestVerificationCode(user.email);
    expect(await step('sendVerificationEmail', { ...user, sequence: 1 }, { workflowId, attempt: 2 })).toEqual(first);
    expect(await services.mail.latestVerificationCode(user.email)).toBe(firstCode);

    await step('sendVerificationEmail', { ...user, sequence: 2 }, { workflowId, activityId: '2' });
    const secondCode = (await services.mail.latestVerificationCode(user.email))!;
    expect(await services.mail.outbox({ to: user.email, kind: 'verification' })).toHaveLength(2);
    if (secondCode !== firstCode) {
      expect(await step('checkVerificationCode', { userId: user.userId, code: firstCode! }, { workflowId, activityId: '3' })).toEqual({ accepted: false });
    }
    expect(await step('checkVerificationCode', { userId: user.userId, code: secondCode }, { workflowId, activityId: '4' })).toEqual({ accepted: true });
  });

  it('undoes a failed registration: error e-mail, then the account is deleted', async () => {
    const { user, workflowId } = await registration();
    await step('sendRegistrationFailedEmail', { ...user, reason: 'the address was not verified within 24h' }, { workflowId });
    expect(await step('deleteUser', { userId: user.userId }, { workflowId })).toEqual({ deleted: true });
    expect(await step('deleteUser', { userId: user.userId }, { workflowId, attempt: 2 })).toEqual({ deleted: true });
    expect((await services.users.get(user.userId))?.status).toBe('deleted');
    const [message] = await services.mail.outbox({ to: user.email, kind: 'registration-failed' });
    expect(message?.text).toContain('the address was not verified within 24h.');
  });

  it('refuses a second registration of the same address with EmailTaken', async () => {
    const { user } = await registration();
    const failure = await failureOf(step('createUser', { ...user, userId: `u-${uid()}` }, { workflowId: `registration-${uid()}` }));
    expect(failure).toMatchObject({ type: FailureType.EmailTaken, nonRetryable: true });
  });

  it('mails operator alerts to the configured address, one per scheduled alert', async () => {
    const workflowId = `order-${uid()}`;
    const alert = { workflowId, subject: `Saga ${workflowId} needs an operator`, body: 'refundPayment failed' };
    await step('sendOperatorAlert', alert, { workflowId, activityId: '9' });
    await step('sendOperatorAlert', alert, { workflowId, activityId: '9', attempt: 2 });
    await step('sendOperatorAlert', alert, { workflowId, activityId: '12' });
    const alerts = (await services.mail.outbox({ to: 'ops@saga.test', kind: 'operator-alert' })).filter((m) => m.subject === alert.subject);
    expect(alerts).toHaveLength(2);
    expect(alerts[0]?.text).toContain('refundPayment failed');
  });
});
