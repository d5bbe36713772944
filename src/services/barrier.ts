import { businessFailure, FailureType } from '../shared/failures';
import { timestamp } from './clock';
import type { Db, Queryable } from './db';

// The barrier makes a step and its compensation safe to deliver any number of times, in any order.
// It must run inside the transaction that makes the business change: the barrier row and the change
// commit together or not at all.
//
// Concurrency relies only on the primary key: a second transaction inserting the same (service, key,
// op) waits for the first to finish (PostgreSQL) or cannot run at the same time at all (SQLite), and
// then sees its row. On PostgreSQL that needs READ COMMITTED, which `Db.transaction` asks for
// explicitly: under a snapshot isolation the waiting insert would fail with a serialization error. A compensation claims the forward row before its own, so a forward call and its
// compensation racing each other are ordered by that one row.

interface BarrierRow {
  written_by: 'try' | 'cancel';
  result: string | null;
}

const claim = 'INSERT INTO barriers (service, idem_key, op, written_by, result, created_at) VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING';
const read = 'SELECT written_by, result FROM barriers WHERE service = ? AND idem_key = ? AND op = ?';
const record = 'UPDATE barriers SET result = ? WHERE service = ? AND idem_key = ? AND op = ?';

async function storedResult<T>(tx: Queryable, service: string, key: string, op: 'try' | 'cancel'): Promise<BarrierRow & { value: T }> {
  const row = await tx.get<BarrierRow>(read, [service, key, op]);
  if (!row) throw new Error(`Barrier row ${service}/${key}/${op} vanished inside its transaction`);
  return { ...row, value: (row.result === null ? null : JSON.parse(row.result)) as T };
}

/**
 * Runs the forward step `apply` once per key. A repeated call returns the first call's result; a call
 * after the step's compensation is refused with `StepAlreadyCompensated` and changes nothing.
 */
export async function forwardStep<T>(tx: Queryable, service: string, key: string, apply: () => Promise<T>): Promise<T> {
  const fresh = await tx.run(claim, [service, key, 'try', 'try', timestamp()]);
  if (fresh === 0) {
    const stored = await storedResult<T>(tx, service, key, 'try');
    if (stored.written_by === 'cancel') {
      throw businessFailure(
        FailureType.StepAlreadyCompensated,
        `${service} step ${key} was compensated before it ran; refusing to apply it now`,
        { service, key },
      );
    }
    return stored.value;
  }
  const result = await apply();
  await tx.run(record, [JSON.stringify(result), service, key, 'try']);
  return result;
}

/**
 * Runs the compensation `undo` once per key, and only if the forward step ran. When the forward step
 * never ran, records that (so it is refused should it arrive later) and returns `nothingToUndo`. A
 * repeated compensation returns the first one's result.
 */
export async function compensationStep<T>(tx: Queryable, service: string, key: string, nothingToUndo: T, undo: () => Promise<T>): Promise<T> {
  const now = timestamp();
  const blockedForward = await tx.run(claim, [service, key, 'try', 'cancel', now]);
  const fresh = await tx.run(claim, [service, key, 'cancel', 'cancel', now]);
  if (fresh === 0) return (await storedResult<T>(tx, service, key, 'cancel')).value;
  const result = blockedForward === 1 ? nothingToUndo : await undo();
  await tx.run(record, [JSON.stringify(result), service, key, 'cancel']);
  return result;
}

/**
 * Counts calls per key outside any business transaction (its own commit), for behaviour that depends
 * on how often a step was tried, such as the `tok_flaky` payment token. Returns the count including this call.
 */
export async function countAttempt(db: Db, service: string, key: string): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.run('INSERT INTO attempts (service, idem_key, attempts) VALUES (?, ?, 1) ON CONFLICT (service, idem_key) DO UPDATE SET attempts = attempts.attempts + 1', [
      service,
      key,
    ]);
    const row = await tx.get<{ attempts: number }>('SELECT attempts FROM attempts WHERE service = ? AND idem_key = ?', [service, key]);
    return row?.attempts ?? 1;
  });
}
