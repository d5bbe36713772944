import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { FailureType } from '../../src/shared/failures';
import { audit, type Services } from '../../src/services';
import { failureOf, testEngines, useTestServices } from '../postgres';

// Stock and money limits pinned from both sides: the last unit that may be taken is taken, the one
// after it is refused, and a refusal leaves nothing behind. `sku-limited` is seeded with 10 units; a
// group that needs them all first releases what earlier groups hold, through the service.

const uid = () => randomUUID().slice(0, 8);
const keyOf = (step: string) => `wf-${uid()}/run-1/${step}`;

async function releaseLimited({ db, inventory }: Services): Promise<void> {
  const held = await db.all<{ idem_key: string; order_id: string }>(
    "SELECT DISTINCT r.idem_key, r.order_id FROM reservations r JOIN reservation_lines l ON l.reservation_id = r.reservation_id WHERE r.status = 'held' AND l.sku = 'sku-limited'",
  );
  for (const { idem_key: key, order_id: orderId } of held) await inventory.release({ key, orderId });
  expect(await inventory.stock('sku-limited')).toMatchObject({ onHand: 10, held: 0 });
}

describe.each(testEngines())('stock and money limits on $name', (engine) => {
  const services = useTestServices(engine);

  describe.skipIf(!engine.create)('the last unit of sku-limited', () => {
    beforeAll(() => releaseLimited(services()));

    it('reserves exactly the 10 units on hand and leaves none', async () => {
      const { inventory } = services();
      const orderId = `o-${uid()}`;
      expect(await inventory.reserve({ key: keyOf('reserveStock'), orderId, items: [{ sku: 'sku-limited', quantity: 10 }] })).toMatchObject({ units: 10 });
      expect(await inventory.stock('sku-limited')).toEqual({ sku: 'sku-limited', initial: 10, onHand: 0, held: 10 });
    });

    it('refuses the 11th unit with OutOfStock, naming what is on hand, and holds nothing for it', async () => {
      const { inventory } = services();
      const orderId = `o-${uid()}`;
      const failure = await failureOf(inventory.reserve({ key: keyOf('reserveStock'), orderId, items: [{ sku: 'sku-limited', quantity: 1 }] }));
      expect(failure).toMatchObject({ type: FailureType.OutOfStock, nonRetryable: true });
      expect(failure.message).toContain('0 on hand');
      expect(await inventory.reservations(orderId)).toEqual([]);
      expect(await inventory.stock('sku-limited')).toMatchObject({ onHand: 0, held: 10 });
    });

    it('makes a released unit reservable again, and only that unit', async () => {
      const { inventory } = services();
      const key = keyOf('reserveStock');
      const orderId = `o-${uid()}`;
      // The 10 units taken by the first test come back, and are taken again as 9 + 1.
      const [held] = await services().db.all<{ idem_key: string; order_id: string }>("SELECT idem_key, order_id FROM reservations WHERE status = 'held'");
      expect(await inventory.release({ key: held!.idem_key, orderId: held!.order_id })).toEqual({ released: 10 });
      expect((await inventory.reservations(held!.order_id))[0]).toMatchObject({ status: 'released', releasedAt: expect.any(String) });
      expect(await inventory.reserve({ key, orderId, items: [{ sku: 'sku-limited', quantity: 9 }] })).toMatchObject({ units: 9 });
      expect(await inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items: [{ sku: 'sku-limited', quantity: 1 }] })).toMatchObject({ units: 1 });
      expect((await failureOf(inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items: [{ sku: 'sku-limited', quantity: 1 }] }))).type).toBe(FailureType.OutOfStock);
      expect((await audit(services())).problems).toEqual([]);
    });
  });

  describe.skipIf(!engine.create)('lines of one SKU counted together', () => {
    beforeAll(() => releaseLimited(services()));

    it('refuses two lines that add up to one unit more than on hand, even though each fits', async () => {
      const { inventory } = services();
      const orderId = `o-${uid()}`;
      const failure = await failureOf(
        inventory.reserve({ key: keyOf('reserveStock'), orderId, items: [{ sku: 'sku-limited', quantity: 6 }, { sku: 'sku-limited', quantity: 5 }] }),
      );
      expect(failure.type).toBe(FailureType.OutOfStock);
      expect(failure.message).toContain('11 × sku-limited');
      expect(await inventory.stock('sku-limited')).toMatchObject({ onHand: 10, held: 0 });
    });

    it('reserves two lines that add up to exactly the stock on hand as one line', async () => {
      const { inventory } = services();
      const orderId = `o-${uid()}`;
      const reservation = await inventory.reserve({ key: keyOf('reserveStock'), orderId, items: [{ sku: 'sku-limited', quantity: 6 }, { sku: 'sku-limited', quantity: 4 }] });
      expect(reservation.units).toBe(10);
      expect((await inventory.reservations(orderId))[0]!.lines).toEqual([{ sku: 'sku-limited', quantity: 10 }]);
      expect(await inventory.stock('sku-limited')).toMatchObject({ onHand: 0, held: 10 });
    });
  });

  describe.skipIf(!engine.create)('all or nothing across SKUs', () => {
    beforeAll(() => releaseLimited(services()));

    it('takes lines in SKU order, so the first short SKU in that order is the one refused, whatever the cart order', async () => {
      const { inventory } = services();
      const soldout = { sku: 'sku-soldout', quantity: 1 };
      const limited = { sku: 'sku-limited', quantity: 11 };
      for (const items of [
        [soldout, limited],
        [limited, soldout],
      ]) {
        const failure = await failureOf(inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items }));
        expect(failure.details).toEqual([{ sku: 'sku-limited', requested: 11, onHand: 10 }]);
      }
    });

    it('takes nothing of any line when one line is one unit past its stock', async () => {
      const { inventory } = services();
      const widgets = await inventory.stock('sku-widget');
      const orderId = `o-${uid()}`;
      const failure = await failureOf(
        inventory.reserve({ key: keyOf('reserveStock'), orderId, items: [{ sku: 'sku-widget', quantity: 5 }, { sku: 'sku-limited', quantity: 11 }] }),
      );
      expect(failure.type).toBe(FailureType.OutOfStock);
      expect(await inventory.stock('sku-widget')).toEqual(widgets);
      expect(await inventory.stock('sku-limited')).toMatchObject({ onHand: 10, held: 0 });
      expect(await inventory.reservations(orderId)).toEqual([]);
    });
  });

  describe.skipIf(!engine.create)('quantities', () => {

    it.each([
      ['zero', 0],
      ['negative', -1],
      ['fractional', 1.5],
      ['beyond a safe integer', Number.MAX_SAFE_INTEGER + 1],
    ])('refuses a %s quantity with InvalidInput before touching stock', async (_, quantity) => {
      const { inventory } = services();
      const before = await inventory.stock('sku-widget');
      const failure = await failureOf(inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items: [{ sku: 'sku-widget', quantity }] }));
      expect(failure).toMatchObject({ type: FailureType.InvalidInput, nonRetryable: true });
      expect(failure.message).toBe('A reservation needs at least one line, each with a positive whole quantity');
      expect(await inventory.stock('sku-widget')).toEqual(before);
    });

    it('refuses a reservation with one bad quantity among good lines, taking none of them', async () => {
      const { inventory } = services();
      const before = await inventory.stock('sku-widget');
      const items = [
        { sku: 'sku-widget', quantity: 2 },
        { sku: 'sku-gadget', quantity: 0 },
      ];
      expect((await failureOf(inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items }))).type).toBe(FailureType.InvalidInput);
      expect(await inventory.stock('sku-widget')).toEqual(before);
    });

    it('names the unknown SKU it refuses', async () => {
      const failure = await failureOf(services().inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items: [{ sku: 'sku-unicorn', quantity: 1 }] }));
      expect(failure.message).toBe('Unknown SKU sku-unicorn: it is not in the catalog');
      expect(failure.details).toEqual([{ sku: 'sku-unicorn' }]);
    });

    it('reserves a quantity of one, the smallest there is', async () => {
      const { inventory } = services();
      const before = await inventory.stock('sku-widget');
      expect(await inventory.reserve({ key: keyOf('reserveStock'), orderId: `o-${uid()}`, items: [{ sku: 'sku-widget', quantity: 1 }] })).toMatchObject({ units: 1 });
      expect(await inventory.stock('sku-widget')).toMatchObject({ onHand: before!.onHand - 1, held: before!.held + 1 });
    });
  });

  describe.skipIf(!engine.create)('money', () => {

    it('captures exactly the authorized amount, refunds exactly the captured amount, and never charges a key twice', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const authKey = keyOf('authorizePayment');
      const captureKey = keyOf('capturePayment');
      await payments.authorize({ key: authKey, orderId, token: 'tok_visa', amountCents: 12_345, currency: 'EUR' });
      expect(await payments.capture({ key: captureKey, authorizationKey: authKey, orderId })).toMatchObject({ capturedCents: 12_345 });
      expect(await payments.capture({ key: captureKey, authorizationKey: authKey, orderId })).toMatchObject({ capturedCents: 12_345 });
      expect(await payments.capture({ key: keyOf('capturePayment'), authorizationKey: authKey, orderId })).toMatchObject({ capturedCents: 12_345 });
      expect(await payments.refund({ key: captureKey, orderId })).toEqual({ refundedCents: 12_345 });
      expect(await payments.refund({ key: captureKey, orderId })).toEqual({ refundedCents: 12_345 });
      const payment = await payments.get(orderId);
      expect(payment?.ledger.map((e) => [e.kind, e.amountCents])).toEqual([
        ['authorize', 12_345],
        ['capture', 12_345],
        ['refund', 12_345],
      ]);
      expect(payment?.status).toBe('refunded');
    });

    it('refunds nothing under a second capture key that found the payment already captured, and keeps one refund', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const authKey = keyOf('authorizePayment');
      const first = keyOf('capturePayment');
      const second = keyOf('capturePayment');
      await payments.authorize({ key: authKey, orderId, token: 'tok_visa', amountCents: 900, currency: 'EUR' });
      await payments.capture({ key: first, authorizationKey: authKey, orderId });
      expect(await payments.capture({ key: second, authorizationKey: authKey, orderId })).toMatchObject({ capturedCents: 900 });
      expect(await payments.refund({ key: second, orderId })).toEqual({ refundedCents: 0 });
      expect(await payments.refund({ key: first, orderId })).toEqual({ refundedCents: 900 });
      expect((await payments.get(orderId))?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture', 'refund']);
    });

    it('declines tok_declined naming the order, and fails tok_flaky naming the attempt', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const declined = await failureOf(payments.authorize({ key: keyOf('authorizePayment'), orderId, token: 'tok_declined', amountCents: 100, currency: 'EUR' }));
      expect(declined.message).toBe(`Payment declined for order ${orderId}`);
      expect(declined.details).toEqual([{ orderId }]);
      const flaky = await failureOf(payments.authorize({ key: keyOf('authorizePayment'), orderId, token: 'tok_flaky', amountCents: 100, currency: 'EUR' }));
      expect(flaky).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false });
      expect(flaky.message).toBe('Payment provider unavailable (tok_flaky, attempt 1)');
      const missing = await failureOf(payments.capture({ key: keyOf('capturePayment'), authorizationKey: keyOf('authorizePayment'), orderId }));
      expect(missing.message).toBe(`Order ${orderId} has no authorization to capture`);
    });

    it.each([
      ['payments', 'authorize'],
      ['payments', 'capture'],
      ['payments', 'void'],
      ['payments', 'refund'],
      ['inventory', 'reserve'],
      ['inventory', 'release'],
    ] as const)('lets fault injection reach %s %s by its name', async (service, operation) => {
      const { faults, payments, inventory } = services();
      const orderId = `o-${uid()}`;
      const calls = {
        authorize: () => payments.authorize({ key: keyOf('authorizePayment'), orderId, token: 'tok_visa', amountCents: 100, currency: 'EUR' }),
        capture: () => payments.capture({ key: keyOf('capturePayment'), authorizationKey: keyOf('authorizePayment'), orderId }),
        void: () => payments.void({ key: keyOf('authorizePayment'), orderId }),
        refund: () => payments.refund({ key: keyOf('capturePayment'), orderId }),
        reserve: () => inventory.reserve({ key: keyOf('reserveStock'), orderId, items: [{ sku: 'sku-widget', quantity: 1 }] }),
        release: () => inventory.release({ key: keyOf('reserveStock'), orderId }),
      };
      faults.set(service, { failOperations: [operation] });
      try {
        expect((await failureOf(calls[operation]())).nonRetryable).toBe(false);
      } finally {
        faults.set(service, undefined);
      }
    });

    it('authorizes and captures an order of zero cents, the smallest amount', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const authKey = keyOf('authorizePayment');
      expect(await payments.authorize({ key: authKey, orderId, token: 'tok_visa', amountCents: 0, currency: 'EUR' })).toMatchObject({ authorizedCents: 0 });
      expect(await payments.capture({ key: keyOf('capturePayment'), authorizationKey: authKey, orderId })).toMatchObject({ capturedCents: 0 });
    });

    it('refunds nothing for a capture key that never captured, and voids nothing once captured', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const authKey = keyOf('authorizePayment');
      await payments.authorize({ key: authKey, orderId, token: 'tok_visa', amountCents: 500, currency: 'EUR' });
      await payments.capture({ key: keyOf('capturePayment'), authorizationKey: authKey, orderId });
      expect(await payments.refund({ key: keyOf('capturePayment'), orderId })).toEqual({ refundedCents: 0 });
      expect(await payments.void({ key: authKey, orderId })).toEqual({ voided: false });
      const payment = await payments.get(orderId);
      expect(payment?.status).toBe('captured');
      expect(payment?.ledger.map((e) => e.kind)).toEqual(['authorize', 'capture']);
    });

    it('refuses to capture a voided authorization, keeping the ledger at authorize and void', async () => {
      const { payments } = services();
      const orderId = `o-${uid()}`;
      const authKey = keyOf('authorizePayment');
      await payments.authorize({ key: authKey, orderId, token: 'tok_visa', amountCents: 700, currency: 'EUR' });
      expect(await payments.void({ key: authKey, orderId })).toEqual({ voided: true });
      const failure = await failureOf(payments.capture({ key: keyOf('capturePayment'), authorizationKey: authKey, orderId }));
      expect(failure).toMatchObject({ type: FailureType.StepAlreadyCompensated, nonRetryable: true });
      expect(failure.message).toContain('voided');
      expect(failure.details).toEqual([{ paymentId: expect.stringMatching(/^pay-/), status: 'voided' }]);
      expect((await payments.get(orderId))?.ledger.map((e) => [e.kind, e.amountCents])).toEqual([
        ['authorize', 700],
        ['void', 700],
      ]);
    });
  });
});
