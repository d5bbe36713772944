import type { OrderInput } from '../../src/order/contract';

// The order the scripts run when a person watches: one that ships unless told otherwise, and the
// address no carrier serves, which makes the last compensable step fail and everything before it undone.

/** An address in Antarctica: no carrier ships there, so the order is compensated. */
export const UNDELIVERABLE_ADDRESS: OrderInput['shippingAddress'] = { name: 'Station Crew', line1: 'McMurdo Station', city: 'Ross Island', postalCode: '96599', country: 'AQ' };

/** A valid order that completes: two lines, a card that pays, an address in London; `overrides` replace whole fields. */
export function sampleOrder(orderId: string, overrides: Partial<OrderInput> = {}): OrderInput {
  return {
    orderId,
    customerId: 'c-demo',
    email: 'ada@example.com',
    items: [
      { sku: 'sku-widget', quantity: 2, unitPriceCents: 1999 },
      { sku: 'sku-gadget', quantity: 1, unitPriceCents: 4999 },
    ],
    payment: { token: 'tok_visa' },
    shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
    ...overrides,
  };
}
