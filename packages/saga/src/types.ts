// The saga's observable vocabulary: statuses and the records a query returns. Plain data with no
// Temporal imports, so the pure engine, the workflow glue, clients and tests all share it.

import type { OutstandingWork } from './ledger';

/** The field of an activity's input object that carries the saga id (see `sagaActivities`). */
export const SAGA_ID_FIELD = 'sagaId';

/** Where a saga is in its life. Also written to the `SagaStatus` search attribute. */
export const SagaStatus = {
  /** The body is running its steps. */
  RUNNING: 'RUNNING',
  /** The body returned: every step that had to happen happened. */
  COMPLETED: 'COMPLETED',
  /** A step failed (or the workflow was cancelled) and the compensations are running. */
  COMPENSATING: 'COMPENSATING',
  /** Every started step was undone (or an operator declared it undone); the workflow reports the failure. */
  COMPENSATED: 'COMPENSATED',
  /** A compensation exhausted its retries: something is left done that should not be. Needs an operator. */
  COMPENSATION_FAILED: 'COMPENSATION_FAILED',
  /** The workflow was cancelled and every started step was undone. */
  CANCELLED: 'CANCELLED',
  /**
   * The saga had passed its pivot when its body failed: nothing was undone (after the pivot nothing
   * is), what the pivot made final stands, and what the body had still to do may be missing. Needs an
   * operator to finish it forward.
   */
  FORWARD_FAILED: 'FORWARD_FAILED',
} as const;

export type SagaStatus = (typeof SagaStatus)[keyof typeof SagaStatus];

/** Where one step is in its life, its compensation included. */
export const StepStatus = {
  /** Registered, not yet started. */
  PENDING: 'pending',
  /** Its forward action is in flight. */
  RUNNING: 'running',
  /** Its forward action succeeded. */
  DONE: 'done',
  /** Its forward action failed (it may still have had an effect, so it is compensated too). */
  FAILED: 'failed',
  /** Its compensation is in flight. */
  COMPENSATING: 'compensating',
  /** Its compensation succeeded, or an operator skipped it after undoing the step by hand (see `compensation.operator`). */
  COMPENSATED: 'compensated',
  /** Its compensation exhausted its retries. */
  COMPENSATION_FAILED: 'compensation-failed',
  /** Its compensation was not attempted because unwinding stopped at an earlier failure. */
  SKIPPED: 'skipped',
} as const;

export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

/**
 * Status of a compensation: a subset of {@link StepStatus}, read from the compensation's own point of
 * view. `skipped` is a compensation that did not run: unwinding stopped before it, or (with
 * `operator.action` `skip`) an operator undid the step by hand and the saga will never run it.
 */
export type CompensationStatus = typeof StepStatus.PENDING | typeof StepStatus.RUNNING | typeof StepStatus.DONE | typeof StepStatus.FAILED | typeof StepStatus.SKIPPED;

/** A failure reduced to what an operator needs: the root cause's message and type. */
export interface ErrorRecord {
  /** Message of the root cause (the business failure, not the activity wrapper around it). */
  message: string;
  /** Failure type of the root cause (`PaymentDeclined`), or the error's name when it has none. */
  type?: string;
  /** Why the activity's retries ended (`NON_RETRYABLE_FAILURE`, `MAXIMUM_ATTEMPTS_REACHED`, `TIMEOUT`, …). */
  retryState?: string;
}

/** What an operator did about a failed compensation through the saga's updates. */
export interface OperatorActionRecord {
  /** `retry`: run again on a `retryCompensation` request; `skip`: declared undone by hand with `skipCompensation`, never run again. */
  action: 'retry' | 'skip';
  /** Workflow time (ISO 8601) the saga took the request. */
  at: string;
  /** What the operator repaired, and how: given with every skip. */
  reason?: string;
}

/** The compensation side of a step. */
export interface CompensationRecord {
  /** Name of the compensation, e.g. `refundPayment`. */
  name: string;
  /** Where the compensation is. */
  status: CompensationStatus;
  /** How many times the engine has started it (activity retries happen inside one attempt). */
  attempt: number;
  /** Why the last attempt failed. */
  error?: ErrorRecord;
  /** Workflow time (ISO 8601) the last attempt started. */
  startedAt?: string;
  /** Workflow time (ISO 8601) the last attempt ended. */
  endedAt?: string;
  /** The operator's last action on this compensation, once there was one. */
  operator?: OperatorActionRecord;
}

/** One step of a saga as the query shows it. */
export interface StepRecord {
  /** Name of the step, unique within the saga, e.g. `capturePayment`. */
  name: string;
  /** Where the step is, its compensation included. */
  status: StepStatus;
  /** Stage of the saga the step belongs to: steps of one `parallel` call share it and are compensated together. */
  group: number;
  /** How many times the engine has started the forward action: 1 once started (activity retries are inside it). */
  attempt: number;
  /** The Web UI summary of the forward action. */
  summary?: string;
  /** Why the forward action failed. */
  error?: ErrorRecord;
  /** The compensation, when the step has one; for a try-confirm-cancel participant, its cancel until it is confirmed. */
  compensation?: CompensationRecord;
  /** The confirm of a try-confirm-cancel participant, once every try of its stage succeeded. */
  confirmation?: CompensationRecord;
  /** Workflow time (ISO 8601) the forward action started. */
  startedAt?: string;
  /** Workflow time (ISO 8601) the forward action ended. */
  endedAt?: string;
  /** Set on the saga's pivot step: once it is done, nothing before it is undone. */
  pivot?: true;
  /** Set on steps after the pivot: retried forward (or held for an operator), never undone nor cancelled. */
  recovery?: 'forward-recovery';
}

/** The point of no return of a saga, once reached. */
export interface PivotRecord {
  /** Name of the pivot step. */
  step: string;
  /** Workflow time (ISO 8601) the pivot step succeeded. */
  reachedAt: string;
}

/** A compensation that exhausted its retries and is not (yet) undone. */
export interface CompensationFailure {
  /** The step whose compensation failed. */
  step: string;
  /** Root cause message. */
  message: string;
  /** Root cause type. */
  type?: string;
}

/** A failed compensation an operator skipped: the step was undone by hand, the saga did not run it. */
export interface SkippedCompensation {
  /** The step whose compensation was skipped. */
  step: string;
  /** Name of the compensation, e.g. `refundPayment`. */
  compensation: string;
  /** What the operator repaired, and how. */
  reason: string;
  /** Workflow time (ISO 8601) of the skip. */
  at: string;
}

/** Everything the saga knows about itself; what `sagaStateQuery` returns. */
export interface SagaState {
  /** Saga status, as in the `SagaStatus` search attribute. */
  status: SagaStatus;
  /** Every step in the order it was registered. */
  steps: StepRecord[];
  /** What made the saga unwind: the failing step (if a step failed) and the root cause. */
  failure?: { step?: string; message: string; type?: string };
  /** Compensations that exhausted their retries and have not succeeded (nor been skipped by an operator) since. */
  compensationFailures: CompensationFailure[];
  /** What the operator wrote when declaring the saga compensated by hand. */
  operatorNote?: string;
  /** Why the `onCompensationFailed` hook itself failed, the last time it did. */
  hookFailure?: ErrorRecord;
  /** The pivot, once the saga has passed it: from then on it recovers forward. */
  pivot?: PivotRecord;
  /** Work started and not yet settled (steps, stages, confirms, compensations, the host's own); absent when there is none. */
  outstanding?: OutstandingWork[];
  /** Steps whose effects stand by design although the saga unwound: confirmed participants without a compensation; absent when there is none. */
  standing?: string[];
  /** A cancellation that came after the pivot: the saga went on forward, as nothing can be undone any more. */
  cancellationIgnored?: { at: string; reason: string };
}

/** Argument of the `retryCompensation` update. Without it (or without `steps`), every failed compensation runs again. */
export interface RetryCompensationInput {
  /** Run again only the failed compensations of these steps; the others stay failed and the saga keeps waiting. @default every failed compensation */
  steps?: string[];
}

/** Argument of the `skipCompensation` update. */
export interface SkipCompensationInput {
  /** The step whose failed compensation the operator did by hand. */
  step: string;
  /** What was repaired, and how; kept in the step's `compensation.operator` and in the failure details. */
  reason: string;
}
