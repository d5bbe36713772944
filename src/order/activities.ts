import { idempotencyKey } from '../activities/keys';
import type { InventoryService, MailService, OrderEventsService, OrderOutcomeEvent, PaymentsService, ShippingAddress, ShippingService, StockLine } from '../services';
import { OUTCOME_STEP } from '../services/order-events';
import { orderConfirmationMail } from '../services/mail-templates';
import { parseOrFail } from '../shared/validation';
import { authorizePaymentInput, createShipmentInput, orderConfirmationInput, orderRefInput, recordOrderOutcomeInput, reserveStockInput, type RecordOrderOutcomeInput } from './contract';

/** The services the order's steps call. */
export interface OrderServices {
  inventory: InventoryService;
  payments: PaymentsService;
  shipping: ShippingService;
  mail: MailService;
  orderEvents: OrderEventsService;
}

/**
 * The order saga's steps and compensations. Each validates its input (`InvalidInput` before any
 * write), derives its idempotency key from the activity context and calls one service; a compensation
 * uses the key of the step it undoes.
 */
export function createOrderActivities({ inventory, payments, shipping, mail, orderEvents }: OrderServices) {
  return {
    /** Holds stock for every line of an order, or nothing (`OutOfStock`). */
    async reserveStock(input: { orderId: string; items: StockLine[] }): Promise<{ reservationId: string; units: number }> {
      const { orderId, items } = parseOrFail(reserveStockInput, 'reserveStock input', input);
      return inventory.reserve({ key: idempotencyKey('reserveStock'), orderId, items });
    },

    /** Compensation of {@link reserveStock}. */
    async releaseStock(input: { orderId: string }): Promise<{ released: number }> {
      const { orderId } = parseOrFail(orderRefInput, 'releaseStock input', input);
      return inventory.release({ key: idempotencyKey('reserveStock'), orderId });
    },

    /** Authorizes the order's total (`PaymentDeclined` for `tok_declined`). */
    async authorizePayment(input: { orderId: string; token: string; amountCents: number; currency: string }): Promise<{ paymentId: string; authorizedCents: number }> {
      const valid = parseOrFail(authorizePaymentInput, 'authorizePayment input', input);
      return payments.authorize({ key: idempotencyKey('authorizePayment'), ...valid });
    },

    /** Compensation of {@link authorizePayment}: voids an authorization that was not captured. */
    async voidPayment(input: { orderId: string }): Promise<{ voided: boolean }> {
      const { orderId } = parseOrFail(orderRefInput, 'voidPayment input', input);
      return payments.void({ key: idempotencyKey('authorizePayment'), orderId });
    },

    /** Captures the authorization made by this saga's {@link authorizePayment}. */
    async capturePayment(input: { orderId: string }): Promise<{ paymentId: string; capturedCents: number }> {
      const { orderId } = parseOrFail(orderRefInput, 'capturePayment input', input);
      return payments.capture({ key: idempotencyKey('capturePayment'), authorizationKey: idempotencyKey('authorizePayment'), orderId });
    },

    /** Compensation of {@link capturePayment}. */
    async refundPayment(input: { orderId: string }): Promise<{ refundedCents: number }> {
      const { orderId } = parseOrFail(orderRefInput, 'refundPayment input', input);
      return payments.refund({ key: idempotencyKey('capturePayment'), orderId });
    },

    /** Books a shipment (`Undeliverable` for country `AQ`). */
    async createShipment(input: { orderId: string; address: ShippingAddress; items: StockLine[] }): Promise<{ shipmentId: string; carrier: string; trackingNumber: string }> {
      const { orderId, address, items } = parseOrFail(createShipmentInput, 'createShipment input', input);
      return shipping.create({ key: idempotencyKey('createShipment'), orderId, address, items });
    },

    /** Compensation of {@link createShipment}. */
    async cancelShipment(input: { orderId: string }): Promise<{ cancelled: boolean }> {
      const { orderId } = parseOrFail(orderRefInput, 'cancelShipment input', input);
      return shipping.cancel({ key: idempotencyKey('createShipment'), orderId });
    },

    /** Mails the order confirmation (`MailBounced` for addresses at `bounce.test`). */
    async sendOrderConfirmation(input: { orderId: string; email: string; totalCents: number; currency: string; itemCount: number }): Promise<{ messageId: string }> {
      const v = parseOrFail(orderConfirmationInput, 'sendOrderConfirmation input', input);
      return mail.send({ key: idempotencyKey(`mail/order-confirmation/${v.orderId}`), kind: 'order-confirmation', to: v.email, ...orderConfirmationMail(v) });
    },

    /**
     * Writes how the order ended to the outbox of order events, under the saga's outcome key: once per
     * saga, however often it is retried, replayed or reset (a repeat returns the event written first).
     * The relay publishes it. Returns only the event's id and the outcome that stands.
     */
    async recordOrderOutcome(input: RecordOrderOutcomeInput): Promise<{ eventId: string; outcome: OrderOutcomeEvent['outcome'] }> {
      const { failure, startedAt, ...rest } = parseOrFail(recordOrderOutcomeInput, 'recordOrderOutcome input', input);
      const event = await orderEvents.record({
        key: idempotencyKey(OUTCOME_STEP),
        outcome: { ...rest, ...(failure ? { failure: { type: failure.type, ...(failure.step ? { step: failure.step } : {}) } } : {}), ...(startedAt ? { startedAt } : {}), decidedBy: 'saga' },
      });
      return { eventId: event.eventId, outcome: event.outcome };
    },
  };
}
