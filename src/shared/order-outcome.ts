// How an order ends, as other systems learn of it through the order-events stream. Sandbox-safe: the
// order workflow picks the outcome, the outbox stores it, the relay publishes it under its subject.

/** How an order ended. */
export const OrderOutcome = {
  /** Every step ran: the order ships. */
  completed: 'completed',
  /** A step failed (a declined card, no stock, an undeliverable address) or the saga was ended, and everything done was undone. */
  compensated: 'compensated',
  /** The customer cancelled before the shipment existed, and everything done was undone. */
  cancelled: 'cancelled',
} as const;

export type OrderOutcome = (typeof OrderOutcome)[keyof typeof OrderOutcome];

/** The outcomes, for schemas and SQL checks. */
export const orderOutcomes: readonly OrderOutcome[] = Object.values(OrderOutcome);
