// The orders every benchmark section starts: one fixed basket, shipped to Britain (completes) or to
// Antarctica (no carrier: the shipment, the last compensable step, fails and everything before it is
// undone). Shared by the Temporal sections and the peers, so all of them run the same order.

import type { OrderInput } from '../src/order/contract';
import { sampleOrder, UNDELIVERABLE_ADDRESS } from '../scripts/lib/sample-order';

/** How an order run must end: completed, or compensated after the shipment (the last step) failed. */
export type OrderOutcome = 'completed' | 'compensated';

/** The benchmark's order `orderId`, ending as `outcome` asks. */
export function orderInput(orderId: string, outcome: OrderOutcome): OrderInput {
  return sampleOrder(orderId, { customerId: 'bench', email: 'bench@example.com', ...(outcome === 'compensated' ? { shippingAddress: UNDELIVERABLE_ADDRESS } : {}) });
}
