// The barrier's tables, for an application's migrations. The DDL is portable: it runs unchanged on
// SQLite and PostgreSQL.

/**
 * `barriers`: one row per (service, key, op). A compensation that finds no forward row writes the
 * forward row itself (written_by = 'cancel'), so the late forward call collides with it and is refused.
 */
export const barriersTable = `CREATE TABLE barriers (
        service TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('try', 'cancel')),
        written_by TEXT NOT NULL CHECK (written_by IN ('try', 'cancel')),
        result TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (service, idem_key, op)
      )`;

/** `attempts`: how many times each key was tried, for `countAttempt`. */
export const attemptsTable = `CREATE TABLE attempts (
        service TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        PRIMARY KEY (service, idem_key)
      )`;

/** Every statement that creates the barrier's tables, in order. */
export const barrierSchema: readonly string[] = [barriersTable, attemptsTable];
