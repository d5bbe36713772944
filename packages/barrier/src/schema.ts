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

/**
 * `barrier_decisions`: the one decision of a try-confirm-cancel participant. `confirmStep` and
 * `cancelStep` both claim this row, so whichever commits first wins and the other is refused, even
 * when they race. A separate statement so that applications that created the first two tables before
 * it existed add it in a migration of their own.
 */
export const barrierDecisionsTable = `CREATE TABLE barrier_decisions (
        service TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('confirm', 'cancel')),
        result TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (service, idem_key)
      )`;

/** Every statement that creates the barrier's tables (forward/compensation steps and attempts), in order; `barrierDecisionsTable` comes on top for try-confirm-cancel. */
export const barrierSchema: readonly string[] = [barriersTable, attemptsTable];
