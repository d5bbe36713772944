// What the barrier needs from a database, so that any driver can sit behind it: the SQLite and
// PostgreSQL adapters of this package, or an application's own database layer.

/** A value bound to a `?` placeholder. */
export type BarrierValue = string | number | bigint | null;

/**
 * A connection inside a transaction that runs portable SQL: `?` placeholders and `ON CONFLICT`. The
 * barrier's statements use nothing else, so the same text serves SQLite and PostgreSQL.
 */
export interface BarrierSql {
  /** The first row the statement returns, if any. */
  get<T extends object>(sql: string, params?: readonly BarrierValue[]): Promise<T | undefined>;
  /** Runs a statement and resolves to the number of rows it changed. */
  run(sql: string, params?: readonly BarrierValue[]): Promise<number>;
}

/** A database that runs a function in a transaction: committed when it resolves, rolled back when it throws. */
export interface BarrierDatabase {
  /** Runs `fn` in one transaction (READ COMMITTED or stricter serialization, never snapshot isolation on PostgreSQL). */
  transaction<T>(fn: (tx: BarrierSql) => Promise<T>): Promise<T>;
}

/** Failure types the barrier throws, as the `type` of a non-retryable `ApplicationFailure`. */
export const BarrierFailureType = {
  /** A forward step arrived after its compensation had run (or had found nothing to undo); it was refused and changed nothing. */
  StepAlreadyCompensated: 'StepAlreadyCompensated',
  /** A try-confirm-cancel phase that contradicts the participant's decision (a confirm after a cancel, a cancel after a confirm, a confirm whose try never ran); it changed nothing. */
  TccPhaseRefused: 'TccPhaseRefused',
} as const;

export type BarrierFailureType = (typeof BarrierFailureType)[keyof typeof BarrierFailureType];
