// The small booking service the chaos audit's trips run on: seats and rooms with a fixed capacity,
// payment holds on a card, and itineraries, in tables of its own on the services' database. Every
// change goes through the idempotency barrier in the transaction that makes it: a hold is a try
// (`forwardStep`), making it firm a confirm (`confirmStep`), releasing it a cancel (`cancelStep`), and
// undoing a firm booking (when a parent saga compensates a confirmed child) a forward step of its own,
// once per key. `withTripFaults` puts the services' fault injector around each write.

import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { cancelStep, compensationStep, confirmStep, forwardStep } from '@saga-temporal/barrier';
import type { Db, FaultInjector, Queryable, ServiceName } from '../../../src/services';
import { businessFailure, FailureType } from '../../../src/shared/failures';
import { DECLINED_CARD, TripFailureType, UNSERVED_DESTINATION, type TripLeg } from './trip-contract';

/** Seats and rooms the service starts with (each run's database is fresh). */
export const tripCatalog: readonly { resource: string; total: number }[] = [
  { resource: 'flight-lh400', total: 1_000_000 },
  { resource: 'hotel-grand', total: 1_000_000 },
  // Few rooms for many trips: some win the race, the rest are refused in their try.
  { resource: 'hotel-small', total: 8 },
  // No rooms at all: every try is refused, after the trip's flight is booked.
  { resource: 'hotel-full', total: 0 },
];

/** What a hold is: capacity (seats, rooms) or money on a card. */
export type HoldKind = 'capacity' | 'payment';
/** `held` by a try; then `confirmed` (firm) or `released` (cancelled); a confirmed hold may later be `undone`. */
export type HoldStatus = 'held' | 'confirmed' | 'released' | 'undone';

/** One hold, as the books record it. */
export interface Hold {
  holdId: string;
  key: string;
  tripId: string;
  leg: TripLeg;
  kind: HoldKind;
  resource: string;
  units: number;
  amountCents: number;
  status: HoldStatus;
  confirmedAt: string | null;
  releasedAt: string | null;
  undoneAt: string | null;
}

/** Barrier service names: one per kind of hold, and one for itineraries. */
export const barrierServiceOf: Record<HoldKind | 'itinerary', string> = { capacity: 'trip-capacity', payment: 'trip-payments', itinerary: 'trip-itineraries' };
const undoService = (kind: HoldKind) => `${barrierServiceOf[kind]}-undo`;

const schema = [
  `CREATE TABLE IF NOT EXISTS trip_resources (
    resource TEXT PRIMARY KEY,
    total BIGINT NOT NULL,
    free BIGINT NOT NULL CHECK (free >= 0),
    held BIGINT NOT NULL CHECK (held >= 0),
    confirmed BIGINT NOT NULL CHECK (confirmed >= 0)
  )`,
  // Not unique on the key: the audit must be able to see a key behind two effects.
  `CREATE TABLE IF NOT EXISTS trip_holds (
    hold_id TEXT PRIMARY KEY,
    idem_key TEXT NOT NULL,
    trip_id TEXT NOT NULL,
    leg TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('capacity', 'payment')),
    resource TEXT NOT NULL,
    units BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'undone')),
    created_at TEXT NOT NULL,
    confirmed_at TEXT,
    released_at TEXT,
    undone_at TEXT
  )`,
  'CREATE INDEX IF NOT EXISTS trip_holds_by_key ON trip_holds (idem_key)',
  'CREATE INDEX IF NOT EXISTS trip_holds_by_trip ON trip_holds (trip_id)',
  `CREATE TABLE IF NOT EXISTS trip_itineraries (
    itinerary_id TEXT PRIMARY KEY,
    idem_key TEXT NOT NULL,
    trip_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('issued', 'cancelled')),
    created_at TEXT NOT NULL,
    cancelled_at TEXT
  )`,
];

const now = () => new Date().toISOString();

interface HoldRow {
  hold_id: string;
  idem_key: string;
  trip_id: string;
  leg: TripLeg;
  kind: HoldKind;
  resource: string;
  units: number;
  amount_cents: number;
  status: HoldStatus;
  confirmed_at: string | null;
  released_at: string | null;
  undone_at: string | null;
}

const toHold = (r: HoldRow): Hold => ({
  holdId: r.hold_id,
  key: r.idem_key,
  tripId: r.trip_id,
  leg: r.leg,
  kind: r.kind,
  resource: r.resource,
  units: Number(r.units),
  amountCents: Number(r.amount_cents),
  status: r.status,
  confirmedAt: r.confirmed_at,
  releasedAt: r.released_at,
  undoneAt: r.undone_at,
});

/** The booking service. Every method that changes something takes the idempotency key of its participant. */
export class TripBookings {
  constructor(readonly db: Db) {}

  /** Creates the service's tables on `db` if they are missing and seeds {@link tripCatalog}. */
  static async open(db: Db): Promise<TripBookings> {
    for (const statement of schema) await db.run(statement);
    for (const { resource, total } of tripCatalog) {
      await db.run('INSERT INTO trip_resources (resource, total, free, held, confirmed) VALUES (?, ?, ?, 0, 0) ON CONFLICT (resource) DO NOTHING', [resource, total, total]);
    }
    return new TripBookings(db);
  }

  /** Try: holds `units` seats or rooms of `resource`; refuses an unknown resource (`InvalidInput`) and too few free (`OutOfStock`). */
  holdCapacity(input: { key: string; tripId: string; leg: TripLeg; resource: string; units: number }): Promise<{ holdId: string }> {
    return this.db.transaction((tx) =>
      forwardStep(tx, barrierServiceOf.capacity, input.key, async () => {
        const resource = await tx.get<{ free: number }>('SELECT free FROM trip_resources WHERE resource = ?', [input.resource]);
        if (!resource) throw businessFailure(FailureType.InvalidInput, `Unknown resource ${input.resource}`, { resource: input.resource });
        const taken = await tx.run('UPDATE trip_resources SET free = free - ?, held = held + ? WHERE resource = ? AND free >= ?', [input.units, input.units, input.resource, input.units]);
        if (taken === 0) {
          throw businessFailure(FailureType.OutOfStock, `${input.resource}: ${input.units} asked for, ${resource.free} free`, { resource: input.resource, requested: input.units });
        }
        return { holdId: await insertHold(tx, input.key, input.tripId, input.leg, 'capacity', input.resource, input.units, 0) };
      }),
    );
  }

  /** Try: places a hold of `amountCents` on the card; `tok_declined` is refused (`PaymentDeclined`). */
  holdPayment(input: { key: string; tripId: string; leg: TripLeg; card: string; amountCents: number }): Promise<{ holdId: string }> {
    return this.db.transaction((tx) =>
      forwardStep(tx, barrierServiceOf.payment, input.key, async () => {
        if (input.card === DECLINED_CARD) throw businessFailure(FailureType.PaymentDeclined, `The card refused a hold for trip ${input.tripId}`, { tripId: input.tripId });
        return { holdId: await insertHold(tx, input.key, input.tripId, input.leg, 'payment', 'card', 0, input.amountCents) };
      }),
    );
  }

  /** Confirm: makes the hold of `key` firm. Repeated, it changes nothing; after its cancel it is refused (`TccPhaseRefused`). */
  confirm(kind: HoldKind, key: string): Promise<{ confirmed: number }> {
    return this.db.transaction((tx) =>
      confirmStep(tx, barrierServiceOf[kind], key, async () => {
        const hold = await this.liveHold(tx, key, 'held');
        if (!hold) return { confirmed: 0 };
        await tx.run("UPDATE trip_holds SET status = 'confirmed', confirmed_at = ? WHERE hold_id = ?", [now(), hold.holdId]);
        if (kind === 'capacity') await tx.run('UPDATE trip_resources SET held = held - ?, confirmed = confirmed + ? WHERE resource = ?', [hold.units, hold.units, hold.resource]);
        return { confirmed: 1 };
      }),
    );
  }

  /** Cancel: releases the hold of `key`; before its try it records itself (the late try is refused), after the confirm it is refused. */
  release(kind: HoldKind, key: string): Promise<{ released: number }> {
    return this.db.transaction((tx) =>
      cancelStep(tx, barrierServiceOf[kind], key, { released: 0 }, async () => {
        const hold = await this.liveHold(tx, key, 'held');
        if (!hold) return { released: 0 };
        await tx.run("UPDATE trip_holds SET status = 'released', released_at = ? WHERE hold_id = ?", [now(), hold.holdId]);
        if (kind === 'capacity') await tx.run('UPDATE trip_resources SET held = held - ?, free = free + ? WHERE resource = ?', [hold.units, hold.units, hold.resource]);
        return { released: 1 };
      }),
    );
  }

  /** Compensation of a confirmed participant: gives the seats or the money back, once per key; nothing when it was never confirmed. */
  undo(kind: HoldKind, key: string): Promise<{ undone: number }> {
    return this.db.transaction((tx) =>
      forwardStep(tx, undoService(kind), key, async () => {
        const hold = await this.liveHold(tx, key, 'confirmed');
        if (!hold) return { undone: 0 };
        await tx.run("UPDATE trip_holds SET status = 'undone', undone_at = ? WHERE hold_id = ?", [now(), hold.holdId]);
        if (kind === 'capacity') await tx.run('UPDATE trip_resources SET confirmed = confirmed - ?, free = free + ? WHERE resource = ?', [hold.units, hold.units, hold.resource]);
        return { undone: 1 };
      }),
    );
  }

  /** The parent's own step: issues the trip's itinerary; an unserved destination is refused (`ItineraryRefused`). */
  issueItinerary(input: { key: string; tripId: string; destination: string }): Promise<{ itineraryId: string }> {
    return this.db.transaction((tx) =>
      forwardStep(tx, barrierServiceOf.itinerary, input.key, async () => {
        if (input.destination === UNSERVED_DESTINATION) {
          throw ApplicationFailure.create({ type: TripFailureType.ItineraryRefused, message: `No itinerary can be issued for trip ${input.tripId}`, nonRetryable: true });
        }
        const itineraryId = `it-${randomUUID()}`;
        await tx.run("INSERT INTO trip_itineraries (itinerary_id, idem_key, trip_id, destination, status, created_at) VALUES (?, ?, ?, ?, 'issued', ?)", [
          itineraryId,
          input.key,
          input.tripId,
          input.destination,
          now(),
        ]);
        return { itineraryId };
      }),
    );
  }

  /** Compensation of {@link TripBookings.issueItinerary}. */
  cancelItinerary(key: string): Promise<{ cancelled: number }> {
    return this.db.transaction((tx) =>
      compensationStep(tx, barrierServiceOf.itinerary, key, { cancelled: 0 }, async () => {
        const changed = await tx.run("UPDATE trip_itineraries SET status = 'cancelled', cancelled_at = ? WHERE idem_key = ? AND status = 'issued'", [now(), key]);
        return { cancelled: changed };
      }),
    );
  }

  /** Every hold of a trip (both legs), oldest first. */
  async holdsOf(tripId: string): Promise<Hold[]> {
    return (await this.db.all<HoldRow>('SELECT * FROM trip_holds WHERE trip_id = ? ORDER BY created_at', [tripId])).map(toHold);
  }

  private async liveHold(tx: Queryable, key: string, status: HoldStatus): Promise<Hold | undefined> {
    const row = await tx.get<HoldRow>('SELECT * FROM trip_holds WHERE idem_key = ? AND status = ?', [key, status]);
    return row && toHold(row);
  }
}

async function insertHold(tx: Queryable, key: string, tripId: string, leg: TripLeg, kind: HoldKind, resource: string, units: number, amountCents: number): Promise<string> {
  const holdId = `hold-${randomUUID()}`;
  await tx.run("INSERT INTO trip_holds (hold_id, idem_key, trip_id, leg, kind, resource, units, amount_cents, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'held', ?)", [
    holdId,
    key,
    tripId,
    leg,
    kind,
    resource,
    units,
    amountCents,
    now(),
  ]);
  return holdId;
}

// The booking's writes and the service whose fault settings they take: seats and rooms fail like the
// inventory, payment holds like the payments, itineraries like the shipping.
const faultedOperations: Readonly<Record<string, (args: unknown[]) => ServiceName>> = {
  holdCapacity: () => 'inventory',
  holdPayment: () => 'payments',
  confirm: ([kind]) => (kind === 'payment' ? 'payments' : 'inventory'),
  release: ([kind]) => (kind === 'payment' ? 'payments' : 'inventory'),
  undo: ([kind]) => (kind === 'payment' ? 'payments' : 'inventory'),
  issueItinerary: () => 'shipping',
  cancelItinerary: () => 'shipping',
};

/**
 * Returns `bookings` with each write run under `faults.around`, the injector the services use: latency,
 * a transient failure before the write, a lost reply after its commit. The booking's operations are not
 * among the product services' `faultableOperations`, so they are listed here; reads pass through.
 */
export function withTripFaults(bookings: TripBookings, faults: FaultInjector): TripBookings {
  return new Proxy(bookings, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      const serviceOf = typeof property === 'string' ? faultedOperations[property] : undefined;
      if (!serviceOf || typeof value !== 'function') return value;
      return (...args: unknown[]) => faults.around(serviceOf(args), property as string, () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}
