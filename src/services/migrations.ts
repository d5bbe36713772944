import { barrierDecisionsTable, barrierSchema } from '@saga-temporal/barrier';
import type { Db } from './db';

/** One schema change, applied once per database and recorded in `schema_migrations`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Portable statements: they must run unchanged on SQLite and PostgreSQL. */
  readonly statements: readonly string[];
}

/** Units each SKU starts with; the migrations seed them and the audit compares against them. */
export const catalog: readonly { sku: string; units: number }[] = [
  { sku: 'sku-widget', units: 1_000_000 },
  { sku: 'sku-gadget', units: 1_000_000 },
  { sku: 'sku-gizmo', units: 1_000_000 },
  { sku: 'sku-limited', units: 10 },
  { sku: 'sku-soldout', units: 0 },
];

// Timestamps are ISO 8601 text and JSON is text: both engines store and compare them the same way.
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'barriers',
    statements: [
      // The barrier's tables, as the barrier package defines them (see its schema for their meaning).
      ...barrierSchema,
    ],
  },
  {
    version: 2,
    name: 'inventory',
    statements: [
      `CREATE TABLE stock (
        sku TEXT PRIMARY KEY,
        initial BIGINT NOT NULL,
        on_hand BIGINT NOT NULL CHECK (on_hand >= 0),
        held BIGINT NOT NULL CHECK (held >= 0)
      )`,
      `CREATE TABLE reservations (
        reservation_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('held', 'released')),
        units BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        released_at TEXT
      )`,
      `CREATE INDEX reservations_by_key ON reservations (idem_key)`,
      `CREATE INDEX reservations_by_order ON reservations (order_id)`,
      `CREATE TABLE reservation_lines (
        reservation_id TEXT NOT NULL REFERENCES reservations (reservation_id),
        sku TEXT NOT NULL REFERENCES stock (sku),
        quantity BIGINT NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (reservation_id, sku)
      )`,
      ...catalog.map(
        ({ sku, units }) => `INSERT INTO stock (sku, initial, on_hand, held) VALUES ('${sku}', ${units}, ${units}, 0) ON CONFLICT (sku) DO NOTHING`,
      ),
    ],
  },
  {
    version: 3,
    name: 'payments',
    statements: [
      `CREATE TABLE payments (
        payment_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        token TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount_cents BIGINT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('authorized', 'voided', 'captured', 'refunded')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE INDEX payments_by_key ON payments (idem_key)`,
      `CREATE INDEX payments_by_order ON payments (order_id)`,
      // The ledger is append-only: every authorization, capture, refund and void is one entry, so the
      // audit can total money movements without trusting the payments' current status.
      `CREATE TABLE payment_ledger (
        entry_id TEXT PRIMARY KEY,
        payment_id TEXT NOT NULL REFERENCES payments (payment_id),
        entry_no INTEGER NOT NULL,
        order_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('authorize', 'capture', 'refund', 'void')),
        amount_cents BIGINT NOT NULL,
        idem_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (payment_id, entry_no)
      )`,
      `CREATE INDEX payment_ledger_by_key ON payment_ledger (idem_key)`,
    ],
  },
  {
    version: 4,
    name: 'shipping',
    statements: [
      `CREATE TABLE shipments (
        shipment_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        carrier TEXT NOT NULL,
        tracking_number TEXT NOT NULL,
        country TEXT NOT NULL,
        address TEXT NOT NULL,
        items TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('created', 'cancelled')),
        created_at TEXT NOT NULL,
        cancelled_at TEXT
      )`,
      `CREATE INDEX shipments_by_key ON shipments (idem_key)`,
      `CREATE INDEX shipments_by_order ON shipments (order_id)`,
    ],
  },
  {
    version: 5,
    name: 'users',
    statements: [
      `CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'deleted')),
        created_key TEXT NOT NULL,
        code_hash TEXT,
        code_salt TEXT,
        code_sequence INTEGER,
        code_issued_at TEXT,
        failed_checks INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      // At most one live account per address, even when two registrations race.
      `CREATE UNIQUE INDEX users_live_email ON users (email) WHERE status <> 'deleted'`,
    ],
  },
  {
    version: 6,
    name: 'mail',
    statements: [
      `CREATE TABLE outbox (
        message_id TEXT PRIMARY KEY,
        idem_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        to_address TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sent', 'bounced')),
        created_at TEXT NOT NULL
      )`,
      `CREATE INDEX outbox_by_key ON outbox (idem_key)`,
      `CREATE INDEX outbox_by_recipient ON outbox (to_address, created_at)`,
    ],
  },
  {
    version: 7,
    name: 'tcc-decisions',
    statements: [barrierDecisionsTable],
  },
  {
    version: 8,
    name: 'mailbox-limits',
    statements: [
      // One row per mailbox (an HMAC of its name, see services/mailbox-limits.ts): the lock that
      // serializes counting and recording for one mailbox.
      `CREATE TABLE mailbox_limits (
        mailbox_key TEXT PRIMARY KEY
      )`,
      // Wrong codes and registration e-mails, with their time in epoch milliseconds; counted over a
      // sliding window and pruned as they leave it. Apart from the users, so reusing an account's
      // row resets nothing.
      `CREATE TABLE mailbox_events (
        mailbox_key TEXT NOT NULL REFERENCES mailbox_limits (mailbox_key),
        kind TEXT NOT NULL CHECK (kind IN ('wrong-code', 'registration-mail')),
        at_ms BIGINT NOT NULL
      )`,
      `CREATE INDEX mailbox_events_by_key ON mailbox_events (mailbox_key, kind, at_ms)`,
    ],
  },
  {
    version: 9,
    name: 'order-events',
    statements: [
      // The outbox of order outcomes (services/order-events.ts): written with the barrier row of the
      // saga's outcome key, read by the relay oldest first. A lease (owner, until) keeps a row claimed
      // by one relay while it publishes; `published_at` is set once the broker acknowledged the row.
      `CREATE TABLE order_events (
        event_id TEXT PRIMARY KEY,
        idem_key TEXT NOT NULL UNIQUE,
        order_id TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'compensated', 'cancelled')),
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        lease_owner TEXT,
        lease_until TEXT,
        published_at TEXT,
        stream_seq BIGINT
      )`,
      `CREATE INDEX order_events_unpublished ON order_events (published_at, created_at, event_id)`,
      `CREATE INDEX order_events_by_order ON order_events (order_id)`,
    ],
  },
];

/**
 * Applies the migrations `db` lacks, each in its own transaction with its `schema_migrations` row.
 * Two processes starting at once are safe: the second one's insert of the same version waits for the
 * first to commit, then finds it applied and skips it.
 */
export async function migrate(db: Db, all: readonly Migration[] = migrations): Promise<number[]> {
  await createMigrationsTable(db);
  const applied: number[] = [];
  for (const migration of all) {
    const fresh = await db.transaction(async (tx) => {
      const claimed = await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [
        migration.version,
        migration.name,
        new Date().toISOString(),
      ]);
      if (claimed === 0) return false;
      for (const statement of migration.statements) await tx.run(statement);
      return true;
    });
    if (fresh) applied.push(migration.version);
  }
  return applied;
}

async function createMigrationsTable(db: Db): Promise<void> {
  const ddl = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)';
  try {
    await db.run(ddl);
  } catch (err) {
    // PostgreSQL's IF NOT EXISTS is not atomic: a concurrent creator can win between check and create
    // (a unique violation in the catalog), after which the table exists.
    if ((err as { code?: unknown }).code !== '23505') throw err;
    await db.run(ddl);
  }
}
