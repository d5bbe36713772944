import { randomInt, randomUUID } from 'node:crypto';
import { businessFailure, FailureType } from '../shared/failures';
import { compensationStep, forwardStep } from '@saga-temporal/barrier';
import { timestamp } from './clock';
import type { Db } from './db';
import type { StockLine } from './inventory';

/** Where a parcel goes. `country` is an ISO 3166-1 alpha-2 code. */
export interface ShippingAddress {
  name: string;
  line1: string;
  city: string;
  postalCode: string;
  country: string;
}

/** A shipment booked with a carrier. */
export interface Shipment {
  shipmentId: string;
  orderId: string;
  carrier: string;
  trackingNumber: string;
  status: 'created' | 'cancelled';
  address: ShippingAddress;
  items: StockLine[];
  createdAt: string;
  cancelledAt?: string;
}

/** Books parcels with carriers. */
export interface ShippingService {
  /** Books a shipment; a country no carrier serves (`AQ`) is refused with `Undeliverable`. A repeated key returns the first booking. */
  create(input: { key: string; orderId: string; address: ShippingAddress; items: readonly StockLine[] }): Promise<{ shipmentId: string; carrier: string; trackingNumber: string }>;
  /** Compensation of `create` (same key): cancels the booking. */
  cancel(input: { key: string; orderId: string }): Promise<{ cancelled: boolean }>;
  /** The latest shipment of an order. */
  get(orderId: string): Promise<Shipment | undefined>;
}

const europe = new Set('AT BE BG CH CY CZ DE DK EE ES FI FR GB GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK'.split(' '));
const northAmerica = new Set(['US', 'CA', 'MX']);

/** The carrier serving a country, or undefined when none does (Antarctica, `AQ`). */
export function carrierFor(country: string): { name: string; prefix: string } | undefined {
  if (country === 'AQ') return undefined;
  if (europe.has(country)) return { name: 'EuroParcel', prefix: 'EP' };
  if (northAmerica.has(country)) return { name: 'AmeriShip', prefix: 'AS' };
  return { name: 'WorldPost', prefix: 'WP' };
}

interface ShipmentRow {
  shipment_id: string;
  order_id: string;
  carrier: string;
  tracking_number: string;
  status: 'created' | 'cancelled';
  address: string;
  items: string;
  created_at: string;
  cancelled_at: string | null;
}

/** {@link ShippingService} on the shared database. */
export class SqlShipping implements ShippingService {
  constructor(private readonly db: Db) {}

  create(input: { key: string; orderId: string; address: ShippingAddress; items: readonly StockLine[] }): Promise<{ shipmentId: string; carrier: string; trackingNumber: string }> {
    return this.db.transaction((tx) =>
      forwardStep(tx, 'shipping', input.key, async () => {
        const carrier = carrierFor(input.address.country);
        if (!carrier) {
          throw businessFailure(FailureType.Undeliverable, `No carrier delivers to ${input.address.country}`, { country: input.address.country });
        }
        const shipmentId = `shp-${randomUUID()}`;
        const trackingNumber = `${carrier.prefix}${String(randomInt(0, 1e10)).padStart(10, '0')}`;
        const { name, line1, city, postalCode, country } = input.address;
        await tx.run(
          'INSERT INTO shipments (shipment_id, order_id, idem_key, carrier, tracking_number, country, address, items, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [
            shipmentId,
            input.orderId,
            input.key,
            carrier.name,
            trackingNumber,
            country,
            JSON.stringify({ name, line1, city, postalCode, country }),
            JSON.stringify(input.items.map(({ sku, quantity }) => ({ sku, quantity }))),
            'created',
            timestamp(),
          ],
        );
        return { shipmentId, carrier: carrier.name, trackingNumber };
      }),
    );
  }

  cancel(input: { key: string; orderId: string }): Promise<{ cancelled: boolean }> {
    return this.db.transaction((tx) =>
      compensationStep(tx, 'shipping', input.key, { cancelled: false }, async () => {
        const cancelled = await tx.run("UPDATE shipments SET status = 'cancelled', cancelled_at = ? WHERE idem_key = ? AND status = 'created'", [
          timestamp(),
          input.key,
        ]);
        return { cancelled: cancelled > 0 };
      }),
    );
  }

  async get(orderId: string): Promise<Shipment | undefined> {
    const row = await this.db.get<ShipmentRow>(
      'SELECT shipment_id, order_id, carrier, tracking_number, status, address, items, created_at, cancelled_at FROM shipments WHERE order_id = ? ORDER BY created_at DESC, shipment_id DESC',
      [orderId],
    );
    return (
      row && {
        shipmentId: row.shipment_id,
        orderId: row.order_id,
        carrier: row.carrier,
        trackingNumber: row.tracking_number,
        status: row.status,
        address: JSON.parse(row.address) as ShippingAddress,
        items: JSON.parse(row.items) as StockLine[],
        createdAt: row.created_at,
        ...(row.cancelled_at ? { cancelledAt: row.cancelled_at } : {}),
      }
    );
  }
}
