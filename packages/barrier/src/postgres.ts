// The barrier on node-postgres. Each transaction takes a client from the pool and runs at READ
// COMMITTED: a second transaction inserting the same barrier row then waits for the first and sees
// its row, where snapshot isolation would fail it with a serialization error instead.

import { BarrierOutcomes } from './barrier';
import type { BarrierDatabase, BarrierDatabaseOptions, BarrierSql, BarrierValue } from './types';

/** The part of a `pg` pool client the adapter uses (so this package needs no types of it). */
export interface PostgresClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  release(err?: Error | boolean): void;
}

/** The part of a `pg` `Pool` the adapter uses. */
export interface PostgresPool {
  connect(): Promise<PostgresClient>;
}

/** The statement with its `?` placeholders numbered `$1`, `$2`, … as PostgreSQL wants; a `?` inside a quoted literal stays. */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  let quoted = false;
  let out = '';
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  return out;
}

function sqlOn(client: PostgresClient): BarrierSql {
  return {
    get: async <T extends object>(sql: string, params: readonly BarrierValue[] = []) => (await client.query(numberPlaceholders(sql), [...params])).rows[0] as T | undefined,
    run: async (sql: string, params: readonly BarrierValue[] = []) => (await client.query(numberPlaceholders(sql), [...params])).rowCount ?? 0,
  };
}

/**
 * The barrier's database on a `pg` pool: each transaction on its own pooled client, at READ COMMITTED.
 *
 * @example const barrierDb = postgresBarrierDatabase(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 */
export function postgresBarrierDatabase(pool: PostgresPool, options: BarrierDatabaseOptions = {}): BarrierDatabase {
  const { onOutcome } = options;
  return {
    async transaction<T>(fn: (sql: BarrierSql) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      const outcomes = onOutcome && new BarrierOutcomes(onOutcome);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const sql = sqlOn(client);
        const result = await fn(outcomes ? { ...sql, observe: outcomes.observe } : sql);
        await client.query('COMMIT');
        outcomes?.committed();
        return result;
      } catch (err) {
        outcomes?.rolledBack(err);
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          // A client that cannot roll back must not go back to the pool with a transaction open.
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
        throw err;
      } finally {
        client.release(broken);
      }
    },
  };
}
