import type { Db } from './db';
import type { MailKind } from './mail';
import type { UserStatus } from './users';

/** Money moved for one order, or overall, in integer cents. */
export interface MoneyTotals {
  authorizedCents: number;
  capturedCents: number;
  refundedCents: number;
  voidedCents: number;
}

/** An idempotency key behind more than one effect of the same kind. */
export interface DuplicateEffect {
  table: string;
  key: string;
  kind?: string;
  count: number;
}

/** An effect whose forward step was compensated before it ran: it should have been refused. */
export interface EffectAfterCompensation {
  table: string;
  key: string;
}

/** The state of every service, and every invariant that does not hold. */
export interface AuditReport {
  /** Per SKU: seeded units, units free, units held, and units held according to the open reservations. */
  stock: { sku: string; initial: number; onHand: number; held: number; heldByReservations: number }[];
  /** The payment ledger, summed per order and overall. */
  payments: { byOrder: ({ orderId: string } & MoneyTotals)[]; totals: MoneyTotals };
  /** Shipments not cancelled (`live`) and cancelled. */
  shipments: { live: number; cancelled: number };
  users: Record<UserStatus, number>;
  /** Outbox messages per kind, delivered and bounced. */
  outbox: { sent: Partial<Record<MailKind, number>>; bounced: Partial<Record<MailKind, number>> };
  idempotency: { duplicateEffects: DuplicateEffect[]; effectsAfterCompensation: EffectAfterCompensation[] };
  /** One sentence per broken invariant; empty when everything adds up. */
  problems: string[];
}

const zeroTotals = (): MoneyTotals => ({ authorizedCents: 0, capturedCents: 0, refundedCents: 0, voidedCents: 0 });

const ledgerField = { authorize: 'authorizedCents', capture: 'capturedCents', refund: 'refundedCents', void: 'voidedCents' } as const;

/** Effect tables, the column holding the key of the forward step that made the row, and its service. */
const effectTables = [
  { table: 'reservations', keyColumn: 'idem_key', kindColumn: undefined, service: 'inventory' },
  { table: 'payment_ledger', keyColumn: 'idem_key', kindColumn: 'kind', service: 'payments' },
  { table: 'shipments', keyColumn: 'idem_key', kindColumn: undefined, service: 'shipping' },
  { table: 'users', keyColumn: 'created_key', kindColumn: undefined, service: 'users' },
  { table: 'outbox', keyColumn: 'idem_key', kindColumn: undefined, service: 'mail' },
] as const;

/**
 * Reads the whole state and checks the invariants a chaos run must preserve: stock adds up, no order
 * moved more money back than forward, no key produced two effects, and no step ran after its compensation.
 */
export async function audit(services: { db: Db }): Promise<AuditReport> {
  const { db } = services;
  const problems: string[] = [];

  const heldRows = await db.all<{ sku: string; units: number }>(
    "SELECT l.sku AS sku, SUM(l.quantity) AS units FROM reservation_lines l JOIN reservations r ON r.reservation_id = l.reservation_id WHERE r.status = 'held' GROUP BY l.sku",
  );
  const heldBySku = new Map(heldRows.map((r) => [r.sku, r.units]));
  const stockRows = await db.all<{ sku: string; initial: number; on_hand: number; held: number }>('SELECT sku, initial, on_hand, held FROM stock ORDER BY sku');
  const stock = stockRows.map((r) => ({ sku: r.sku, initial: r.initial, onHand: r.on_hand, held: r.held, heldByReservations: heldBySku.get(r.sku) ?? 0 }));
  for (const s of stock) {
    if (s.onHand + s.held !== s.initial) problems.push(`${s.sku}: ${s.onHand} on hand + ${s.held} held ≠ ${s.initial} initial`);
    if (s.held !== s.heldByReservations) problems.push(`${s.sku}: ${s.held} held but open reservations hold ${s.heldByReservations}`);
  }

  const ledgerRows = await db.all<{ order_id: string; kind: keyof typeof ledgerField; cents: number }>(
    'SELECT order_id, kind, SUM(amount_cents) AS cents FROM payment_ledger GROUP BY order_id, kind ORDER BY order_id',
  );
  const byOrder = new Map<string, { orderId: string } & MoneyTotals>();
  const totals = zeroTotals();
  for (const row of ledgerRows) {
    let order = byOrder.get(row.order_id);
    if (!order) {
      order = { orderId: row.order_id, ...zeroTotals() };
      byOrder.set(row.order_id, order);
    }
    order[ledgerField[row.kind]] += row.cents;
    totals[ledgerField[row.kind]] += row.cents;
  }
  for (const o of byOrder.values()) {
    if (o.capturedCents + o.voidedCents > o.authorizedCents) problems.push(`order ${o.orderId}: captured + voided exceeds authorized`);
    if (o.refundedCents > o.capturedCents) problems.push(`order ${o.orderId}: refunded exceeds captured`);
  }

  const shipmentRows = await db.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM shipments GROUP BY status');
  const shipments = { live: 0, cancelled: 0 };
  for (const row of shipmentRows) shipments[row.status === 'created' ? 'live' : 'cancelled'] += row.n;

  const users: Record<UserStatus, number> = { pending: 0, active: 0, deleted: 0 };
  for (const row of await db.all<{ status: UserStatus; n: number }>('SELECT status, COUNT(*) AS n FROM users GROUP BY status')) users[row.status] = row.n;

  const outbox: AuditReport['outbox'] = { sent: {}, bounced: {} };
  for (const row of await db.all<{ kind: MailKind; status: 'sent' | 'bounced'; n: number }>('SELECT kind, status, COUNT(*) AS n FROM outbox GROUP BY kind, status')) {
    outbox[row.status][row.kind] = row.n;
  }

  const duplicateEffects: DuplicateEffect[] = [];
  const effectsAfterCompensation: EffectAfterCompensation[] = [];
  for (const { table, keyColumn, kindColumn, service } of effectTables) {
    const kind = kindColumn ? `, ${kindColumn}` : '';
    const duplicates = await db.all<{ effect_key: string; kind?: string; n: number }>(
      `SELECT ${keyColumn} AS effect_key${kindColumn ? `, ${kindColumn} AS kind` : ''}, COUNT(*) AS n FROM ${table} GROUP BY ${keyColumn}${kind} HAVING COUNT(*) > 1`,
    );
    for (const d of duplicates) {
      duplicateEffects.push({ table, key: d.effect_key, ...(d.kind ? { kind: d.kind } : {}), count: d.n });
      problems.push(`${table}: key ${d.effect_key}${d.kind ? ` (${d.kind})` : ''} produced ${d.n} effects`);
    }
    // Compensation effects (refunds, voids) carry the forward key by design; only forward effects count.
    const forwardOnly = table === 'payment_ledger' ? " AND e.kind IN ('authorize', 'capture')" : '';
    const late = await db.all<{ effect_key: string }>(
      `SELECT DISTINCT e.${keyColumn} AS effect_key FROM ${table} e JOIN barriers b ON b.service = ? AND b.idem_key = e.${keyColumn} AND b.op = 'try' AND b.written_by = 'cancel'${forwardOnly}`,
      [service],
    );
    for (const l of late) {
      effectsAfterCompensation.push({ table, key: l.effect_key });
      problems.push(`${table}: key ${l.effect_key} took effect after its compensation`);
    }
  }

  return {
    stock,
    payments: { byOrder: [...byOrder.values()], totals },
    shipments,
    users,
    outbox,
    idempotency: { duplicateEffects, effectsAfterCompensation },
    problems,
  };
}
