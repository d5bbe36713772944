// The barrier's database in memory, for the simulation: the handful of statements the barrier runs,
// on maps, with transactions that take turns and roll back by restoring what they changed. Fast
// enough for a million schedules; SQLite through the package's adapter checks it agrees.

import type { BarrierDatabase, BarrierSql, BarrierValue } from '@saga-temporal/barrier';

type Row = Record<string, BarrierValue>;

/** Thrown when the barrier runs a statement this database does not know: the barrier changed, extend the map below. */
export class UnknownStatementError extends Error {
  override readonly name = 'UnknownStatementError';
}

const key = (...parts: BarrierValue[]) => parts.map(String).join('\u0000');

/** A {@link BarrierDatabase} on plain maps. */
export function memoryBarrierDatabase(): BarrierDatabase {
  const barriers = new Map<string, Row>();
  const decisions = new Map<string, Row>();
  const statements: { match: string; run: (p: readonly BarrierValue[], undo: (() => void)[]) => { changes: number; row?: Row } }[] = [
    {
      match: 'INSERT INTO barriers ',
      run: ([service, idem, op, writtenBy], undo) => {
        const k = key(service!, idem!, op!);
        if (barriers.has(k)) return { changes: 0 };
        barriers.set(k, { written_by: writtenBy!, result: null });
        undo.push(() => barriers.delete(k));
        return { changes: 1 };
      },
    },
    // A row lock on PostgreSQL (it waits for a compensation still open); transactions here take turns already.
    { match: 'UPDATE barriers SET written_by = written_by', run: ([service, idem, op]) => ({ changes: barriers.has(key(service!, idem!, op!)) ? 1 : 0 }) },
    { match: 'SELECT written_by, result FROM barriers ', run: ([service, idem, op]) => ({ changes: 0, row: barriers.get(key(service!, idem!, op!)) }) },
    {
      match: 'UPDATE barriers SET result',
      run: ([result, service, idem, op], undo) => {
        const row = barriers.get(key(service!, idem!, op!));
        if (!row) return { changes: 0 };
        const before = row.result;
        row.result = result!;
        undo.push(() => (row.result = before!));
        return { changes: 1 };
      },
    },
    {
      match: 'INSERT INTO barrier_decisions ',
      run: ([service, idem, decision], undo) => {
        const k = key(service!, idem!);
        if (decisions.has(k)) return { changes: 0 };
        decisions.set(k, { decision: decision!, result: null });
        undo.push(() => decisions.delete(k));
        return { changes: 1 };
      },
    },
    { match: 'SELECT decision, result FROM barrier_decisions ', run: ([service, idem]) => ({ changes: 0, row: decisions.get(key(service!, idem!)) }) },
    {
      match: 'UPDATE barrier_decisions SET result',
      run: ([result, service, idem], undo) => {
        const row = decisions.get(key(service!, idem!));
        if (!row) return { changes: 0 };
        const before = row.result;
        row.result = result!;
        undo.push(() => (row.result = before!));
        return { changes: 1 };
      },
    },
  ];
  const exec = (sql: string, params: readonly BarrierValue[], undo: (() => void)[]) => {
    const statement = statements.find((s) => sql.startsWith(s.match));
    if (!statement) throw new UnknownStatementError(`The in-memory barrier database does not know: ${sql}`);
    return statement.run(params, undo);
  };
  let turn: Promise<unknown> = Promise.resolve();
  return {
    transaction<T>(fn: (tx: BarrierSql) => Promise<T>): Promise<T> {
      const mine = turn.then(async () => {
        const undo: (() => void)[] = [];
        const tx: BarrierSql = {
          get: async <R extends object>(sql: string, params: readonly BarrierValue[] = []) => {
            const row = exec(sql, params, undo).row;
            return row && ({ ...row } as unknown as R);
          },
          run: async (sql: string, params: readonly BarrierValue[] = []) => exec(sql, params, undo).changes,
        };
        try {
          return await fn(tx);
        } catch (err) {
          for (const step of undo.reverse()) step();
          throw err;
        }
      });
      turn = mine.catch(() => undefined);
      return mine;
    },
  };
}
