// The orders every benchmark section starts: one fixed basket, shipped to Britain (completes) or to
// Antarctica (no carrier: the shipment, the last compensable step, fails and everything before it is
// undone). Shared by the Temporal sections and the peers, so all of them run the same order.

import type { OrderInput } from '../src/order/contract';

/** How an order run must end: completed, or compensated after the shipment (the last step) failed. */
export type OrderOutcome = 'completed' | 'compensated';

/** The benchmark's order `orderId`, ending as `outcome` asks. */
export function orderInput(orderId: string, outcome: OrderOutcome): OrderInput {
  return {
    orderId,
    customerId: 'bench',
    email: 'bench@example.com',
    items: [
      { sku: 'sku-widget', quantity: 2, unitPriceCents: 1999 },
      { sku: 'sku-gadget', quantity: 1, unitPriceCents: 4999 },
    ],
    payment: { token: 'tok_visa' },
    shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: outcome === 'compensated' ? 'AQ' : 'GB' },
  };
}
