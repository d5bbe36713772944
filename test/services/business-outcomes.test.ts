import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FailureType } from '../../src/shared/failures';
import { audit, createServices } from '../../src/services';
import { migrate } from '../../src/services/migrations';
import { verificationMail } from '../../src/services/mail-templates';
import { failureOf, testEngines, useTestServices } from '../postgres';

const uid = () => randomUUID().slice(0, 8);
const keyOf = (step: string) => `wf-${uid()}/run-1/${step}`;
const address = { name: 'Ada Lovelace', line1: '1 Analytical Way', city: 'London', postalCode: 'N1 9GU', country: 'GB' };

describe.each(testEngines())('services on $name', (engine) => {
  const services = useTestServices(engine);

  describe.skipIf(!engine.create)('catalog and migrations', () => {
    it('seeds sku-widget and sku-gadget with 1,000,000 units and sku-soldout with none', async () => {
      const { inventory } = services();
      expect(await inventory.stock('sku-widget')).toMatchObject({ initial: 1_000_000 });
      expect(await inventory.stock('sku-gadget')).toMatchObject({ initial: 1_000_000 });
      expect(await inventory.stock('sku-soldout')).toEqual({ sku: 'sku-soldout', initial: 0, onHand: 0, held: 0 });
      expect(await inventory.stock('sku-unknown')).toBeUndefined();
    });

    it('applies each migration once, however often the services start', async () => {
      const { db } = services();
      expect(await migrate(db)).toEqual([]);
      const rows = await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM stock WHERE sku = 'sku-widget'")).toEqual({ n: 1 });
    });
  });

  describe.skipIf(!engine.create)('inventory', () => {
    it('holds every line of a reservation and returns it all on release', async () => {
      const { inventory } = services();
      const before = await inventory.stock('sku-gadget');
      const key = keyOf('reserveStock');
      const orderId = `o-${uid()}`;
      const reservation = await inventory.reserve({ key, orderId, items: [{ sku: 'sku-gadget', quantity: 3 }, { sku: 'sku-gizmo', quantity: 2 }] });
      expect(reservation).toEqual({ reservationId: expect.stringMatching(/^res-/), units: 5 });
      expect(await inventory.stock('sku-gadget')).toMatchObject({ onHand: before!.onHand - 3, held: before!.held + 3 });
      expect((await inventory.reservations(orderId))[0]).toMatchObject({ status: 'held', lines: [{ sku: 'sku-gadget', quantity: 3 }, { sku: 'sku-gizmo', quantity: 2 }] });

      expect(await inventory.release({ key, orderId })).toEqual({ released: 5 });
      expect(await inventory.stock('sku-gadget')).toEqual(before);
      expect((await inventory.reservations(orderId))[0]).toMatchObject({ status: 'released' });
    });

    it('refuses sku-soldout with OutOfStock and reserves nothing', async () => {
      const { inventory } = services();
      const widgets = await inventory.stock('sku-widget');
      const orderId = `o-${uid()}`;
      const failure = await failureOf(inventory.reserve({ key: keyOf('reserveStock'), orderId, items: [{ sku: 'sku-widget', quantity: 1 }, { sku: 'sku-soldout', quantity: 1 }] }));
      expect(failure).toMatchObject({ type: FailureType.OutOfStock, nonRetryable: true });
      expect(await inventory.stock('sku-widget')).toEqual(widgets);
      expect(await inventory.reservations(orderId)).toEqual([]);
    });

    it('refuses a quantity above the stock on hand with OutOfStock', async () => {
      const { inventory } = services();
      const failure = await failureOf(inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items: [{ sku: 'sku-limited', quantity: 11 }] }));
      expect(failure.type).toBe(FailureType.OutOfStock);
      expect(failure.message).toContain('10 on hand');
      expect(await inventory.stock('sku-limited')).toMatchObject({ onHand: 10, held: 0 });
    });

    it('refuses a SKU the catalog does not know with InvalidInput', async () => {
      const failure = await failureOf(services().inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items: [{ sku: 'sku-unicorn', quantity: 1 }] }));
      expect(failure).toMatchObject({ type: FailureType.InvalidInput, nonRetryable: true });
    });

    it('refuses an empty reservation with InvalidInput', async () => {
      const failure = await failureOf(services().inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items: [] }));
      expect(failure.type).toBe(FailureType.InvalidInput);
    });
  });

  describe.skipIf(!engine.create)('payments', () => {
    it('authorizes, captures and refunds tok_visa, recording each movement in the ledger', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const authKey = keyOf('authorizePayment');
      const captureKey = authKey.replace('authorizePayment', 'capturePayment');
      const auth = await payments.authorize({ key: authKey, orderId, token: 'tok_visa', amountCents: 5997, currency: 'EUR' });
      expect(auth).toEqual({ paymentId: expect.stringMatching(/^pay-/), authorizedCents: 5997 });
      expect(await payments.capture({ key: captureKey, authorizationKey: authKey, orderId })).toEqual({ paymentId: auth.paymentId, capturedCents: 5997 });
      expect(await payments.refund({ key: captureKey, orderId })).toEqual({ refundedCents: 5997 });
      // Refunded, so there is no authorization left to void.
      expect(await payments.void({ key: authKey, orderId })).toEqual({ voided: false });
      const payment = await payments.get(orderId);
      expect(payment).toMatchObject({ status: 'refunded', amountCents: 5997, currency: 'EUR', token: 'tok_visa' });
      expect(payment!.ledger.map((e) => [e.kind, e.amountCents])).toEqual([
        ['authorize', 5997],
        ['capture', 5997],
        ['refund', 5997],
      ]);
    });

    it('voids an authorization that was never captured, and then refuses to capture it', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const authKey = keyOf('authorizePayment');
      await payments.authorize({ key: authKey, orderId, token: 'tok_visa', amountCents: 100, currency: 'USD' });
      expect(await payments.void({ key: authKey, orderId })).toEqual({ voided: true });
      const failure = await failureOf(payments.capture({ key: keyOf('capturePayment'), authorizationKey: authKey, orderId }));
      expect(failure).toMatchObject({ type: FailureType.StepAlreadyCompensated, nonRetryable: true });
      expect((await payments.get(orderId))!.ledger.map((e) => e.kind)).toEqual(['authorize', 'void']);
    });

    it('declines tok_declined with PaymentDeclined and records no payment', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const failure = await failureOf(payments.authorize({ key: keyOf('authorizePayment'), orderId, token: 'tok_declined', amountCents: 100, currency: 'EUR' }));
      expect(failure).toMatchObject({ type: FailureType.PaymentDeclined, nonRetryable: true });
      expect(await payments.get(orderId)).toBeUndefined();
    });

    it('fails tok_flaky transiently on the first two attempts of a key, then authorizes it', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const key = keyOf('authorizePayment');
      const call = () => payments.authorize({ key, orderId, token: 'tok_flaky', amountCents: 250, currency: 'EUR' });
      for (let attempt = 1; attempt <= 2; attempt++) {
        const failure = await failureOf(call());
        expect(failure.nonRetryable).toBe(false);
        expect(failure.message).toContain(`attempt ${attempt}`);
      }
      expect(await call()).toMatchObject({ authorizedCents: 250 });
      // Another key starts counting afresh.
      expect((await failureOf(payments.authorize({ key: keyOf('authorizePayment'), orderId, token: 'tok_flaky', amountCents: 250, currency: 'EUR' }))).nonRetryable).toBe(false);
    });

    it('refuses to capture an order that has no authorization', async () => {
      const failure = await failureOf(services().payments.capture({ key: keyOf('capturePayment'), authorizationKey: keyOf('authorizePayment'), orderId: `o-${uid()}` }));
      expect(failure).toMatchObject({ type: 'PaymentNotAuthorized', nonRetryable: true });
    });
  });

  describe.skipIf(!engine.create)('shipping', () => {
    it('books a shipment with the carrier serving the country and cancels it', async () => {
      const { shipping } = services();
      const orderId = `o-${uid()}`;
      const key = keyOf('createShipment');
      const shipment = await shipping.create({ key, orderId, address, items: [{ sku: 'sku-widget', quantity: 2 }] });
      expect(shipment).toEqual({ shipmentId: expect.stringMatching(/^shp-/), carrier: 'EuroParcel', trackingNumber: expect.stringMatching(/^EP\d{10}$/) });
      expect(await shipping.get(orderId)).toMatchObject({ status: 'created', address, items: [{ sku: 'sku-widget', quantity: 2 }] });
      expect(await shipping.cancel({ key, orderId })).toEqual({ cancelled: true });
      expect(await shipping.get(orderId)).toMatchObject({ status: 'cancelled', cancelledAt: expect.any(String) });
    });

    it('refuses country AQ with Undeliverable and books nothing', async () => {
      const { shipping } = services();
      const orderId = `o-${uid()}`;
      const failure = await failureOf(shipping.create({ key: keyOf('createShipment'), orderId, address: { ...address, country: 'AQ' }, items: [{ sku: 'sku-widget', quantity: 1 }] }));
      expect(failure).toMatchObject({ type: FailureType.Undeliverable, nonRetryable: true });
      expect(await shipping.get(orderId)).toBeUndefined();
    });
  });

  describe.skipIf(!engine.create)('users and verification', () => {
    const register = async () => {
      const { users } = services();
      const userId = `u-${uid()}`;
      const email = `${userId}@example.com`;
      const createKey = `wf-${userId}/run-1/createUser`;
      await users.create({ key: createKey, userId, email, name: 'Grace' });
      return { userId, email, createKey };
    };
    const issue = (userId: string, email: string, sequence: number, code: string) =>
      services().users.issueVerificationCode({
        key: `wf-${userId}/run-1/mail/verification/${sequence}`,
        userId,
        sequence,
        code,
        to: email,
        message: verificationMail({ name: 'Grace', code, sequence }),
      });

    it('creates a pending user, verifies the mailed code once, and activates the user', async () => {
      const { users, mail } = services();
      const { userId, email } = await register();
      expect(await users.get(userId)).toMatchObject({ status: 'pending', email, codeOutstanding: false });
      const { messageId } = await issue(userId, email, 1, '123456');
      expect((await mail.outbox({ to: email }))[0]).toMatchObject({ messageId, kind: 'verification', status: 'sent' });
      expect(await mail.latestVerificationCode(email)).toBe('123456');
      expect(await users.get(userId)).toMatchObject({ codeOutstanding: true, verificationSequence: 1 });

      expect(await users.checkVerificationCode({ key: `${userId}/check/1`, userId, code: '654321' })).toEqual({ accepted: false });
      expect(await users.checkVerificationCode({ key: `${userId}/check/2`, userId, code: '123456' })).toEqual({ accepted: true });
      expect(await users.checkVerificationCode({ key: `${userId}/check/3`, userId, code: '123456' })).toEqual({ accepted: false });
      expect(await users.get(userId)).toMatchObject({ failedChecks: 1, codeOutstanding: false });

      expect(await users.activate({ key: `${userId}/activate`, userId })).toEqual({ status: 'active' });
      expect(await users.get(userId)).toMatchObject({ status: 'active' });
    });

    it('stores only a peppered hash of the code, never the code', async () => {
      const { db } = services();
      const { userId, email } = await register();
      await issue(userId, email, 1, '424242');
      const row = await db.get<Record<string, unknown>>('SELECT * FROM users WHERE user_id = ?', [userId]);
      expect(JSON.stringify(row)).not.toContain('424242');
      expect(row).toMatchObject({ code_hash: expect.stringMatching(/^p1:[0-9a-f]{64}$/), code_salt: expect.stringMatching(/^[0-9a-f]{32}$/) });
    });

    it('accepts only the latest code once a new one is issued, and never revives an older one', async () => {
      const { users } = services();
      const { userId, email } = await register();
      await issue(userId, email, 1, '111111');
      await issue(userId, email, 2, '222222');
      // Sequence 1 again under another key (a stale attempt): refused, and code 2 stays in force.
      const stale = await failureOf(
        services().users.issueVerificationCode({
          key: `wf-${userId}/run-2/mail/verification/1`,
          userId,
          sequence: 1,
          code: '333333',
          to: email,
          message: verificationMail({ name: 'Grace', code: '333333', sequence: 1 }),
        }),
      );
      expect(stale).toMatchObject({ type: FailureType.InvalidInput, message: expect.stringContaining('stale') });
      expect(await services().mail.latestVerificationCode(email)).toBe('222222');
      expect(await users.checkVerificationCode({ key: `${userId}/check/a`, userId, code: '111111' })).toEqual({ accepted: false });
      expect(await users.checkVerificationCode({ key: `${userId}/check/b`, userId, code: '222222' })).toEqual({ accepted: true });
    });

    it('refuses a second live account for an address with EmailTaken, and frees the address on deletion', async () => {
      const { users } = services();
      const { userId, email, createKey } = await register();
      const other = `u-${uid()}`;
      const taken = await failureOf(users.create({ key: `wf-${other}/run-1/createUser`, userId: other, email: email.toUpperCase(), name: 'Eve' }));
      expect(taken).toMatchObject({ type: FailureType.EmailTaken, nonRetryable: true });

      expect(await users.delete({ key: createKey, userId })).toEqual({ deleted: true });
      expect(await users.get(userId)).toMatchObject({ status: 'deleted', codeOutstanding: false });
      expect(await users.create({ key: `wf-${other}/run-2/createUser`, userId: other, email, name: 'Eve' })).toEqual({ userId: other, status: 'pending' });
    });

    it('refuses to activate or mail a code to a deleted user with StepAlreadyCompensated', async () => {
      const { users } = services();
      const { userId, email, createKey } = await register();
      await users.delete({ key: createKey, userId });
      expect((await failureOf(users.activate({ key: `${userId}/activate`, userId }))).type).toBe(FailureType.StepAlreadyCompensated);
      expect((await failureOf(issue(userId, email, 1, '123456'))).type).toBe(FailureType.StepAlreadyCompensated);
    });
  });

  describe.skipIf(!engine.create)('mail', () => {
    it('keeps every delivered message in the outbox', async () => {
      const { mail } = services();
      const to = `m-${uid()}@Example.com`;
      const { messageId } = await mail.send({ key: keyOf('mail/welcome/x'), kind: 'welcome', to, subject: 'Hi', text: 'Hello' });
      expect(await mail.outbox({ to })).toEqual([
        { messageId, kind: 'welcome', to: to.toLowerCase(), subject: 'Hi', text: 'Hello', status: 'sent', createdAt: expect.any(String) },
      ]);
    });

    it('bounces mail to bounce.test with MailBounced, keeping the bounce in the outbox', async () => {
      const { mail } = services();
      const to = `m-${uid()}@bounce.test`;
      const key = keyOf('mail/welcome/x');
      const failure = await failureOf(mail.send({ key, kind: 'welcome', to, subject: 'Hi', text: 'Hello' }));
      expect(failure).toMatchObject({ type: FailureType.MailBounced, nonRetryable: true });
      expect((await failureOf(mail.send({ key, kind: 'welcome', to, subject: 'Hi', text: 'Hello' }))).type).toBe(FailureType.MailBounced);
      expect(await mail.outbox({ to })).toEqual([expect.objectContaining({ status: 'bounced' })]);
    });
  });

  describe.skipIf(!engine.create)('audit', () => {
    it('finds the books balanced after all of the above', async () => {
      const report = await audit(services());
      expect(report.problems).toEqual([]);
      expect(report.stock.find((s) => s.sku === 'sku-widget')).toMatchObject({ initial: 1_000_000 });
      expect(report.payments.totals.capturedCents).toBeGreaterThan(0);
      expect(report.payments.totals.refundedCents).toBeLessThanOrEqual(report.payments.totals.capturedCents);
      expect(report.users.deleted).toBeGreaterThan(0);
      expect(report.outbox.bounced.welcome).toBe(1);
    });

    it('reports stock that does not add up', async () => {
      const { db } = services();
      await db.run("UPDATE stock SET on_hand = on_hand - 1 WHERE sku = 'sku-gizmo'");
      try {
        expect((await audit(services())).problems).toEqual([expect.stringContaining('sku-gizmo')]);
      } finally {
        await db.run("UPDATE stock SET on_hand = on_hand + 1 WHERE sku = 'sku-gizmo'");
      }
    });
  });
});

describe('database URLs', () => {
  it('refuses an unsupported URL before touching anything', async () => {
    await expect(createServices({ databaseUrl: 'mysql://localhost/saga', faults: {} })).rejects.toThrow(/Unsupported database URL/);
  });
});
