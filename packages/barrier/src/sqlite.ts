// The barrier on better-sqlite3. better-sqlite3 is synchronous with one connection, while the
// barrier's transactions span `await`s (the business change runs between its statements): every
// transaction takes its turn in one in-process queue, so none sees another's uncommitted rows, and
// `BEGIN IMMEDIATE` with the connection's busy timeout keeps other processes out meanwhile.

import { BarrierOutcomes } from './barrier';
import type { BarrierDatabase, BarrierDatabaseOptions, BarrierSql, BarrierValue } from './types';

/**
 * The part of a better-sqlite3 `Database` the adapter uses (so this package needs no types of it).
 * Parameters are `never[]` so that better-sqlite3's generic statements fit; the adapter binds only
 * {@link BarrierValue}s.
 */
export interface SqliteConnection {
  prepare(sql: string): { run(...params: never[]): { changes: number }; get(...params: never[]): unknown };
  exec(sql: string): unknown;
  /** Whether a transaction is open: SQLite ends one by itself on some errors (a trigger's `RAISE(ROLLBACK)`, SQLITE_FULL). */
  readonly inTransaction: boolean;
}

/** A {@link BarrierDatabase} on SQLite whose transactions also hand out the connection for the business change. */
export interface SqliteBarrierDatabase extends BarrierDatabase {
  /** The connection it was made from, for statements outside barrier transactions. */
  readonly connection: SqliteConnection;
}

/**
 * The barrier's database on a better-sqlite3 connection. Only this adapter may run transactions on the
 * connection while it is in use; open it with a `timeout` (busy timeout) when other processes share the file.
 *
 * @example const barrierDb = sqliteBarrierDatabase(new Database('shop.db', { timeout: 5000 }));
 */
export function sqliteBarrierDatabase(connection: SqliteConnection, options: BarrierDatabaseOptions = {}): SqliteBarrierDatabase {
  const { onOutcome } = options;
  const statements = new Map<string, ReturnType<SqliteConnection['prepare']>>();
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = connection.prepare(sql)));
    return statement;
  };
  const tx: BarrierSql = {
    get: async <T extends object>(sql: string, params: readonly BarrierValue[] = []) => prepared(sql).get(...(params as never[])) as T | undefined,
    run: async (sql: string, params: readonly BarrierValue[] = []) => prepared(sql).run(...(params as never[])).changes,
  };
  let turn: Promise<unknown> = Promise.resolve();
  return {
    connection,
    transaction<T>(fn: (sql: BarrierSql) => Promise<T>): Promise<T> {
      const mine = turn.then(async () => {
        const outcomes = onOutcome && new BarrierOutcomes(onOutcome);
        connection.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(outcomes ? { ...tx, observe: outcomes.observe } : tx);
          connection.exec('COMMIT');
          outcomes?.committed();
          return result;
        } catch (err) {
          // Rolled back by SQLite already, a ROLLBACK would fail with "no transaction is active" and
          // hide the error that ended it.
          if (connection.inTransaction) connection.exec('ROLLBACK');
          outcomes?.rolledBack(err);
          throw err;
        }
      });
      // The next transaction waits for this one to end, whether it committed or not.
      turn = mine.catch(() => undefined);
      return mine;
    },
  };
}
