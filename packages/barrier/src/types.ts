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
  /**
   * Optional observer hook: receives every outcome the barrier decides in this transaction, before
   * the transaction ends. Collect them and pass them on once it has committed ({@link BarrierOutcomes}
   * does that; the adapters' `onOutcome` option uses it). @default none
   */
  observe?(outcome: BarrierOutcome): void;
}

/** A database that runs a function in a transaction: committed when it resolves, rolled back when it throws. */
export interface BarrierDatabase {
  /** Runs `fn` in one transaction (READ COMMITTED or stricter serialization, never snapshot isolation on PostgreSQL). */
  transaction<T>(fn: (tx: BarrierSql) => Promise<T>): Promise<T>;
}

/** Options of the SQLite and PostgreSQL adapters. */
export interface BarrierDatabaseOptions {
  /**
   * Receives what the barrier decided in each transaction, once it has committed (a refusal, which
   * changes nothing, once it has rolled back), e.g. to count outcomes. @default none
   */
  onOutcome?: (outcome: BarrierOutcome) => void;
}

/** Failure types the barrier throws, as the `type` of a non-retryable `ApplicationFailure`. */
export const BarrierFailureType = {
  /** A forward step arrived after its compensation had run (or had found nothing to undo), whether the step had run before it or not; it was refused and changed nothing. */
  StepAlreadyCompensated: 'StepAlreadyCompensated',
  /** A try-confirm-cancel phase that contradicts the participant's decision (a confirm after a cancel or a compensation, a cancel after a confirm, a confirm whose try never ran); it changed nothing. */
  TccPhaseRefused: 'TccPhaseRefused',
} as const;

export type BarrierFailureType = (typeof BarrierFailureType)[keyof typeof BarrierFailureType];

/** Which call of the barrier decided: a forward step, its compensation, or a try-confirm-cancel participant's confirm or cancel. */
export const BarrierPhase = {
  forward: 'forward',
  compensation: 'compensation',
  confirm: 'confirm',
  cancel: 'cancel',
} as const;

export type BarrierPhase = (typeof BarrierPhase)[keyof typeof BarrierPhase];

/** What the barrier decided for one call. */
export const BarrierOutcomeKind = {
  /** The call ran its change, for the first time for its key. */
  applied: 'applied',
  /** A repeated call: answered from the record of the first one, nothing changed. */
  duplicate: 'duplicate',
  /** A compensation (or cancel) whose forward step never ran: recorded, nothing changed, the late forward step will be refused. */
  nothingToUndo: 'nothing_to_undo',
  /** A forward step (or try) that arrived after its compensation: refused with `StepAlreadyCompensated`. */
  refusedLate: 'refused_late',
  /** A confirm after the participant's cancel, or after a compensation of its key: refused with `TccPhaseRefused`. */
  refusedAfterCancel: 'refused_after_cancel',
  /** A cancel after the participant's confirm: refused with `TccPhaseRefused`. */
  refusedAfterConfirm: 'refused_after_confirm',
  /** A confirm whose try never ran: refused with `TccPhaseRefused`. */
  refusedNotTried: 'refused_not_tried',
} as const;

export type BarrierOutcomeKind = (typeof BarrierOutcomeKind)[keyof typeof BarrierOutcomeKind];

/**
 * One decision of the barrier, as the observer hook reports it. It carries no key: keys name sagas,
 * and every field here is one of a few values, fit for a metric's labels.
 */
export interface BarrierOutcome {
  /** The service name the call passed to the barrier. */
  readonly service: string;
  readonly phase: BarrierPhase;
  readonly outcome: BarrierOutcomeKind;
}
