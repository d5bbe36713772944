// What the services tell an observer, for metrics: the barrier's decisions of committed calls and the
// faults injected. A wrapper around the database, like faults around the services, so the business
// methods know nothing of it.
import { BarrierOutcomes, type BarrierOutcome } from '@saga-temporal/barrier';
import type { Db, Queryable, SqlValue } from './db';
import type { InjectedFault } from './faults';

export type { BarrierOutcome } from '@saga-temporal/barrier';

/** Receives what the services did. Every field of what it receives is one of a few values, never an id. */
export interface ServiceObserver {
  /** A barrier decision of a call whose transaction committed (or a refusal, which changes nothing). @default none */
  barrierOutcome?(outcome: BarrierOutcome): void;
  /** A fault the injector applied (only while fault injection is on). @default none */
  injectedFault?(fault: InjectedFault): void;
}

/**
 * Returns `db` with each transaction reporting the barrier's outcomes to `onOutcome` once it has
 * committed: a transaction rolled back (the change failed, a PostgreSQL deadlock that is run again)
 * reports nothing, except a refusal of the barrier, which changed nothing.
 */
export function withBarrierObserver(db: Db, onOutcome: (outcome: BarrierOutcome) => void): Db {
  return {
    engine: db.engine,
    all: <T extends object>(sql: string, params?: readonly SqlValue[]) => db.all<T>(sql, params),
    get: <T extends object>(sql: string, params?: readonly SqlValue[]) => db.get<T>(sql, params),
    run: (sql: string, params?: readonly SqlValue[]) => db.run(sql, params),
    close: () => db.close(),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const outcomes = new BarrierOutcomes(onOutcome);
      try {
        const result = await db.transaction((tx) => {
          // PostgreSQL runs the body again after a deadlock: only the run that commits counts.
          outcomes.restart();
          return fn({ ...tx, observe: outcomes.observe } as Queryable);
        });
        outcomes.committed();
        return result;
      } catch (err) {
        outcomes.rolledBack(err);
        throw err;
      }
    },
  };
}

/** One function that calls each of `listeners` that is defined, or undefined when none is. */
export function combined<A>(...listeners: (((arg: A) => void) | undefined | false)[]): ((arg: A) => void) | undefined {
  const defined = listeners.filter((l): l is (arg: A) => void => typeof l === 'function');
  if (defined.length === 0) return undefined;
  return (arg) => {
    for (const listener of defined) listener(arg);
  };
}
