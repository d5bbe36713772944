// The transactional outbox of order outcomes: the saga (or the reconciler) writes an order's outcome
// into `order_events` in the same transaction as a barrier row under the saga's outcome key, so one
// order has one row however often the write is retried, replayed or reset; the relay
// (src/relay/relay.ts) publishes the rows to the broker and marks them published.
import { randomUUID } from 'node:crypto';
import { forwardStep } from '@saga-temporal/barrier';
import { timestamp } from './clock';
import type { Db, Queryable } from './db';

/** How an order ended, as other systems learn of it. */
export const OrderOutcome = {
  /** Every step ran: the order ships. */
  completed: 'completed',
  /** A step failed (a declined card, no stock, an undeliverable address) or the order was ended, and everything done was undone. */
  compensated: 'compensated',
  /** The customer cancelled before the shipment existed, and everything done was undone. */
  cancelled: 'cancelled',
} as const;

export type OrderOutcome = (typeof OrderOutcome)[keyof typeof OrderOutcome];

/** The barrier's service name for outcome rows: their keys are the sagas' outcome keys. */
export const ORDER_EVENTS_SERVICE = 'order-events';

/** The last part of every order's outcome key, `<workflowId>/<sagaId>/recordOrderOutcome`. */
export const OUTCOME_STEP = 'recordOrderOutcome';

/**
 * What other systems learn of an order's end. No customer data: no card token, no address, no e-mail
 * address, no failure message (messages may quote input); a consumer that needs more looks the order
 * up by its id.
 */
export interface OrderOutcomeEvent {
  /** The outbox row's id, also the broker message's id (its deduplication key). */
  eventId: string;
  orderId: string;
  outcome: OrderOutcome;
  /** For `compensated`: the failure's type (`PaymentDeclined`, `OutOfStock`, `Terminated`…) and the step that failed, if one did. */
  failure?: { type: string; step?: string };
  /** The steps whose effects were undone, in the order they were undone. */
  undone: string[];
  totalCents: number;
  currency: string;
  itemCount: number;
  /** Who decided the outcome: the order saga itself, or the reconciler for a saga that was ended. */
  decidedBy: 'saga' | 'reconciler';
  /** When the order saga started (ISO 8601), when known. */
  startedAt?: string;
  /** When the outcome was written to the outbox (ISO 8601). */
  recordedAt: string;
}

/** An outcome to record: the event without the fields the outbox fills in. */
export type NewOrderOutcome = Omit<OrderOutcomeEvent, 'eventId' | 'recordedAt'>;

/** An outbox row, as the relay reads it. */
export interface OutboxEvent {
  eventId: string;
  orderId: string;
  outcome: OrderOutcome;
  /** The event as JSON, exactly as it is published. */
  payload: string;
  createdAt: string;
}

/**
 * Writes an order's outcome once per `key` (the saga's outcome key), inside one transaction with its
 * barrier row. A repeat under the same key, with whatever outcome, writes nothing and returns the
 * event recorded first: an order ends once.
 */
export function recordOrderOutcome(db: Db, key: string, outcome: NewOrderOutcome): Promise<OrderOutcomeEvent> {
  return db.transaction((tx) => writeOrderOutcome(tx, key, outcome));
}

/** {@link recordOrderOutcome} inside a transaction the caller holds. */
export function writeOrderOutcome(tx: Queryable, key: string, outcome: NewOrderOutcome): Promise<OrderOutcomeEvent> {
  return forwardStep(tx, ORDER_EVENTS_SERVICE, key, async () => {
    const event: OrderOutcomeEvent = { eventId: `evt-${randomUUID()}`, ...outcome, recordedAt: new Date().toISOString() };
    await tx.run('INSERT INTO order_events (event_id, idem_key, order_id, outcome, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      event.eventId,
      key,
      event.orderId,
      event.outcome,
      JSON.stringify(event),
      timestamp(),
    ]);
    return event;
  });
}

/** Options of {@link claimUnpublished}. */
export interface ClaimOptions {
  /** The relay claiming the rows (its lease owner id). */
  owner: string;
  /** Most rows claimed at once. */
  limit: number;
  /** How long the claim keeps other relays off the rows, in ms. */
  leaseMs: number;
}

interface EventRow {
  event_id: string;
  order_id: string;
  outcome: OrderOutcome;
  payload: string;
  created_at: string;
}

/**
 * Claims the oldest unpublished rows that no other relay holds (no lease, or an expired one) for
 * `leaseMs`, and returns them oldest first. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`,
 * so relays claiming at once take different rows; SQLite has one writer at a time.
 */
export async function claimUnpublished(db: Db, { owner, limit, leaseMs }: ClaimOptions): Promise<OutboxEvent[]> {
  const now = new Date();
  const until = new Date(now.getTime() + leaseMs).toISOString();
  const lock = db.engine === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  const rows = await db.transaction(async (tx) => {
    const free = await tx.all<EventRow>(
      `SELECT event_id, order_id, outcome, payload, created_at FROM order_events
       WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < ?)
       ORDER BY created_at, event_id LIMIT ?${lock}`,
      [now.toISOString(), limit],
    );
    for (const row of free) await tx.run('UPDATE order_events SET lease_owner = ?, lease_until = ? WHERE event_id = ?', [owner, until, row.event_id]);
    return free;
  });
  return rows.map((r) => ({ eventId: r.event_id, orderId: r.order_id, outcome: r.outcome, payload: r.payload, createdAt: r.created_at }));
}

/** Marks a row published with its stream sequence; `false` when it was published already (by a relay that took it over). */
export async function markPublished(db: Db, eventId: string, streamSeq: number): Promise<boolean> {
  const changed = await db.run('UPDATE order_events SET published_at = ?, stream_seq = ?, lease_owner = NULL, lease_until = NULL WHERE event_id = ? AND published_at IS NULL', [
    new Date().toISOString(),
    streamSeq,
    eventId,
  ]);
  return changed === 1;
}

/** Gives back the rows `owner` holds and has not published, so the next poll (of any relay) takes them at once. */
export function releaseClaims(db: Db, owner: string): Promise<number> {
  return db.run('UPDATE order_events SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND published_at IS NULL', [owner]);
}

/** Rows not yet published. */
export async function countUnpublished(db: Db): Promise<number> {
  const row = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM order_events WHERE published_at IS NULL');
  return Number(row?.n ?? 0);
}
