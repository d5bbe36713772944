// The order saga's steps as plain functions on the services, for the peers: the same service calls,
// idempotency keys (saga id + step, so a retried step or compensation hits the barrier) and business
// failures as the Temporal activities, without the Temporal activity context. Each peer drives them
// with its own durable-step API, the way its documentation writes a saga.

import { ApplicationFailure } from '@temporalio/common';
import { orderInputSchema, orderTotalCents, type OrderInput, type ValidOrderInput } from '../../src/order/contract';
import { parseOrThrow } from '../../src/shared/validation';
import type { Services } from '../../src/services';
import { orderConfirmationMail } from '../../src/services/mail-templates';

/** What every peer's order saga returns when it completes. */
export interface PeerOrderResult {
  orderId: string;
  status: 'COMPLETED';
  paymentId: string;
  shipmentId: string;
  confirmationSent: boolean;
}

/** Whether a step's error is a business outcome (declined, out of stock, undeliverable): never retried. */
export function isBusinessFailure(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.nonRetryable === true;
}

/** The failure type of a business failure, for the peers' terminal errors. */
export function failureType(err: unknown): string | undefined {
  return err instanceof ApplicationFailure ? (err.type ?? undefined) : undefined;
}

/** Validates an order as the Temporal saga does at its start. */
export function parseOrder(input: OrderInput): ValidOrderInput {
  return parseOrThrow(orderInputSchema, 'order', input);
}

/** The order's steps and compensations on `services`, keyed by `sagaId`. */
export function orderSteps(services: Services, sagaId: string, order: ValidOrderInput) {
  const { orderId, currency } = order;
  const key = (step: string) => `${sagaId}/${step}`;
  const items = order.items.map(({ sku, quantity }) => ({ sku, quantity }));
  const totalCents = orderTotalCents(order.items);
  const itemCount = items.reduce((n, i) => n + i.quantity, 0);
  return {
    reserveStock: () => services.inventory.reserve({ key: key('reserveStock'), orderId, items }),
    releaseStock: () => services.inventory.release({ key: key('reserveStock'), orderId }),
    authorizePayment: () => services.payments.authorize({ key: key('authorizePayment'), orderId, token: order.payment.token, amountCents: totalCents, currency }),
    voidPayment: () => services.payments.void({ key: key('authorizePayment'), orderId }),
    capturePayment: () => services.payments.capture({ key: key('capturePayment'), authorizationKey: key('authorizePayment'), orderId }),
    refundPayment: () => services.payments.refund({ key: key('capturePayment'), orderId }),
    createShipment: () => services.shipping.create({ key: key('createShipment'), orderId, address: order.shippingAddress, items }),
    cancelShipment: () => services.shipping.cancel({ key: key('createShipment'), orderId }),
    sendConfirmation: () =>
      services.mail.send({
        key: key(`mail/order-confirmation/${orderId}`),
        kind: 'order-confirmation',
        to: order.email,
        ...orderConfirmationMail({ orderId, totalCents, currency, itemCount }),
      }),
  };
}
