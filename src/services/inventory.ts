import { randomUUID } from 'node:crypto';
import { businessFailure, FailureType } from '../shared/failures';
import { compensationStep, forwardStep } from '@saga-temporal/barrier';
import { timestamp } from './clock';
import type { Db } from './db';

/** A quantity of one SKU. */
export interface StockLine {
  sku: string;
  quantity: number;
}

/** Stock of one SKU. `initial = onHand + held` holds at all times. */
export interface StockLevel {
  sku: string;
  /** Units the catalog was seeded with. */
  initial: number;
  /** Units free to reserve. */
  onHand: number;
  /** Units held by reservations that were not released. */
  held: number;
}

/** Stock held for one order by one reserve call. */
export interface Reservation {
  reservationId: string;
  orderId: string;
  status: 'held' | 'released';
  units: number;
  lines: StockLine[];
  createdAt: string;
  releasedAt?: string;
}

/** Stock and reservations. Every change is keyed by an idempotency key (see `barrier.ts`). */
export interface InventoryService {
  /**
   * Holds every line or nothing. Refuses unknown SKUs (`InvalidInput`) and lines beyond the stock on
   * hand (`OutOfStock`); a repeated key returns the first reservation.
   */
  reserve(input: { key: string; orderId: string; items: readonly StockLine[] }): Promise<{ reservationId: string; units: number }>;
  /** Compensation of `reserve` with the same key: returns the held units to stock. */
  release(input: { key: string; orderId: string }): Promise<{ released: number }>;
  /** Current stock of a SKU, or undefined when the catalog does not know it. */
  stock(sku: string): Promise<StockLevel | undefined>;
  /** Reservations made for an order, oldest first. */
  reservations(orderId: string): Promise<Reservation[]>;
}

interface StockRow {
  sku: string;
  initial: number;
  on_hand: number;
  held: number;
}

interface ReservationRow {
  reservation_id: string;
  order_id: string;
  status: 'held' | 'released';
  units: number;
  created_at: string;
  released_at: string | null;
}

/** {@link InventoryService} on the shared database. */
export class SqlInventory implements InventoryService {
  constructor(private readonly db: Db) {}

  async reserve(input: { key: string; orderId: string; items: readonly StockLine[] }): Promise<{ reservationId: string; units: number }> {
    const lines = mergeLines(input.items);
    if (lines.length === 0 || lines.some((line) => !Number.isSafeInteger(line.quantity) || line.quantity < 1)) {
      throw businessFailure(FailureType.InvalidInput, 'A reservation needs at least one line, each with a positive whole quantity');
    }
    return this.db.transaction((tx) =>
      forwardStep(tx, 'inventory', input.key, async () => {
        for (const line of lines) {
          if (!(await tx.get('SELECT sku FROM stock WHERE sku = ?', [line.sku]))) {
            throw businessFailure(FailureType.InvalidInput, `Unknown SKU ${line.sku}: it is not in the catalog`, { sku: line.sku });
          }
        }
        // Lines are taken in SKU order so that two orders sharing SKUs lock their rows in the same order.
        for (const line of lines) {
          const taken = await tx.run('UPDATE stock SET on_hand = on_hand - ?, held = held + ? WHERE sku = ? AND on_hand >= ?', [
            line.quantity,
            line.quantity,
            line.sku,
            line.quantity,
          ]);
          if (taken === 0) {
            const row = await tx.get<StockRow>('SELECT on_hand FROM stock WHERE sku = ?', [line.sku]);
            throw businessFailure(
              FailureType.OutOfStock,
              `Out of stock: ${line.quantity} × ${line.sku} asked for, ${row?.on_hand ?? 0} on hand`,
              { sku: line.sku, requested: line.quantity, onHand: row?.on_hand ?? 0 },
            );
          }
        }
        const reservationId = `res-${randomUUID()}`;
        const units = lines.reduce((n, line) => n + line.quantity, 0);
        await tx.run('INSERT INTO reservations (reservation_id, order_id, idem_key, status, units, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
          reservationId,
          input.orderId,
          input.key,
          'held',
          units,
          timestamp(),
        ]);
        for (const line of lines) {
          await tx.run('INSERT INTO reservation_lines (reservation_id, sku, quantity) VALUES (?, ?, ?)', [reservationId, line.sku, line.quantity]);
        }
        return { reservationId, units };
      }),
    );
  }

  release(input: { key: string; orderId: string }): Promise<{ released: number }> {
    return this.db.transaction((tx) =>
      compensationStep(tx, 'inventory', input.key, { released: 0 }, async () => {
        const reservation = await tx.get<ReservationRow>("SELECT reservation_id, units FROM reservations WHERE idem_key = ? AND status = 'held'", [input.key]);
        if (!reservation) return { released: 0 };
        // Conditional, so that stock is returned at most once per reservation whatever the interleaving.
        const released = await tx.run("UPDATE reservations SET status = 'released', released_at = ? WHERE reservation_id = ? AND status = 'held'", [
          timestamp(),
          reservation.reservation_id,
        ]);
        if (released === 0) return { released: 0 };
        const lines = await tx.all<StockLine>('SELECT sku, quantity FROM reservation_lines WHERE reservation_id = ? ORDER BY sku', [reservation.reservation_id]);
        for (const line of lines) {
          await tx.run('UPDATE stock SET on_hand = on_hand + ?, held = held - ? WHERE sku = ?', [line.quantity, line.quantity, line.sku]);
        }
        return { released: reservation.units };
      }),
    );
  }

  async stock(sku: string): Promise<StockLevel | undefined> {
    const row = await this.db.get<StockRow>('SELECT sku, initial, on_hand, held FROM stock WHERE sku = ?', [sku]);
    return row && { sku: row.sku, initial: row.initial, onHand: row.on_hand, held: row.held };
  }

  async reservations(orderId: string): Promise<Reservation[]> {
    const rows = await this.db.all<ReservationRow>(
      'SELECT reservation_id, order_id, status, units, created_at, released_at FROM reservations WHERE order_id = ? ORDER BY created_at, reservation_id',
      [orderId],
    );
    const reservations: Reservation[] = [];
    for (const row of rows) {
      const lines = await this.db.all<StockLine>('SELECT sku, quantity FROM reservation_lines WHERE reservation_id = ? ORDER BY sku', [row.reservation_id]);
      reservations.push({
        reservationId: row.reservation_id,
        orderId: row.order_id,
        status: row.status,
        units: row.units,
        lines,
        createdAt: row.created_at,
        ...(row.released_at ? { releasedAt: row.released_at } : {}),
      });
    }
    return reservations;
  }
}

function mergeLines(items: readonly StockLine[]): StockLine[] {
  const bySku = new Map<string, number>();
  for (const { sku, quantity } of items) bySku.set(sku, (bySku.get(sku) ?? 0) + quantity);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity })).sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
}
