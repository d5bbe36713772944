// The reconciler's vocabulary: what it reads of a saga that closed without settling, what it decides,
// and how it ends. Sandbox-safe (plain data and constants): the workflows, the activities and the CLI
// share it.

/** Workflow type of the compensation-only workflow that reconciles one saga. */
export const RECONCILE_SAGA_WORKFLOW = 'reconcileSaga';

/** Workflow type of the sweep that finds unsettled sagas and reconciles each. */
export const RECONCILE_SWEEP_WORKFLOW = 'reconcileSweep';

/** Id of the Schedule that runs the sweep. */
export const RECONCILER_SCHEDULE_ID = 'saga-reconciler';

/** How often the Schedule runs the sweep. */
export const RECONCILER_INTERVAL = '5 minutes';

/** Sagas one sweep reconciles at most; the next sweep takes the rest. */
export const SWEEP_BATCH = 100;

/**
 * The workflow id of the reconciliation of one saga run: one per run, so a second start (a later
 * sweep, an operator's `reconcile`) is refused while one runs or after one completed.
 */
export function reconcileWorkflowId(workflowId: string, runId: string): string {
  return `reconcile/${workflowId}/${runId}`;
}

/** How a reconciliation ended: its own status, apart from the saga's `SagaStatus`. */
export const ReconcileOutcome = {
  /** The saga settled by itself (or is still running): the reconciler had nothing to do. */
  NOT_NEEDED: 'NOT_NEEDED',
  /** Nothing of the saga stood: its compensations, if any ran, found nothing to undo. */
  NOTHING_STOOD: 'NOTHING_STOOD',
  /** What stood was undone, last first, under the saga's own keys. */
  UNDONE: 'UNDONE',
  /**
   * The saga had passed its pivot: what stands is kept, nothing undone, and no step after the pivot was
   * finished now (they had all completed, or the optional ones gave up: see `forwardGaveUp`).
   */
  KEPT_AFTER_PIVOT: 'KEPT_AFTER_PIVOT',
  /** The saga had passed its pivot: what stands is kept, and the steps after it were finished forward (see `finished`). */
  FINISHED_FORWARD: 'FINISHED_FORWARD',
  /**
   * A later run of the same saga carries it on (a reset made it: same saga id, same keys), so this run's
   * effects are that run's to settle or, if it closes unsettled too, its reconciliation's: nothing
   * touched (see `supersededBy`).
   */
  SUPERSEDED: 'SUPERSEDED',
  /** The operator who terminated the saga took its effects over by hand (`terminate --keep-effects`): left alone. */
  LEFT_TO_OPERATOR: 'LEFT_TO_OPERATOR',
  /** Something stands that the reconciler may not or cannot undo (see `needsOperator`). */
  NEEDS_OPERATOR: 'NEEDS_OPERATOR',
} as const;

export type ReconcileOutcome = (typeof ReconcileOutcome)[keyof typeof ReconcileOutcome];

/** Saga statuses a saga does not end in: a closed workflow still showing one left work behind. */
export const UNSETTLED_SAGA_STATUSES = ['RUNNING', 'COMPENSATING'] as const;

/** Workflow statuses of a run ended from outside its code. */
const ENDED_FROM_OUTSIDE = ['TERMINATED', 'TIMED_OUT'] as const;

/**
 * Whether a closed saga run left work behind: its `SagaStatus` says it was not done (none at all: it
 * never wrote one), or it was waiting for an operator in `COMPENSATION_FAILED` when it was terminated
 * or timed out (the reconciler retries its compensations).
 */
export function closedUnsettled(workflowStatus: string, sagaStatus: string | undefined): boolean {
  if (workflowStatus === 'RUNNING' || workflowStatus === 'CONTINUED_AS_NEW') return false;
  if (sagaStatus === undefined || (UNSETTLED_SAGA_STATUSES as readonly string[]).includes(sagaStatus)) return true;
  return sagaStatus === 'COMPENSATION_FAILED' && (ENDED_FROM_OUTSIDE as readonly string[]).includes(workflowStatus);
}

/** The visibility filter of {@link closedUnsettled}, for the sagas of one task queue (sagas without a `SagaStatus` are not listed). */
export function closedUnsettledQuery(statusAttribute: string, taskQueue: string): string {
  const statuses = UNSETTLED_SAGA_STATUSES.map((s) => `'${s}'`).join(', ');
  const queue = taskQueue.replace(/'/g, "''");
  return (
    `ExecutionStatus != 'Running' AND ExecutionStatus != 'ContinuedAsNew' AND TaskQueue = '${queue}' AND ` +
    `(${statusAttribute} IN (${statuses}) OR (${statusAttribute} = 'COMPENSATION_FAILED' AND ExecutionStatus IN ('Terminated', 'TimedOut')))`
  );
}

/** The record `terminate --keep-effects` leaves in the termination event's details. */
export interface KeptEffects {
  keepEffects: true;
  /** Who took the effects over. */
  by: string;
  /** Why, and what they will do. */
  reason: string;
}

/** The ids a compensation takes. */
export interface SagaIds {
  orderId?: string;
  userId?: string;
}

/** A child saga the saga started, from its history. */
export interface ChildRef {
  workflowId: string;
  runId: string;
}

/** What the reconciler reads of one saga run before it decides. */
export interface ClosedSaga {
  workflowId: string;
  runId: string;
  /** The saga id its keys are built on (`sagaIdOf`: the original execution run id, else the run id). */
  sagaId: string;
  workflowType: string;
  /** The workflow's status: `TERMINATED`, `TIMED_OUT`, `RUNNING`… */
  workflowStatus: string;
  /** The last `SagaStatus` the saga recorded. */
  sagaStatus?: string;
  /** The ids in the saga's input (only the ids: the reconciler's history keeps no personal data). */
  ids: SagaIds;
  /** Set when the operator who terminated it kept the effects. */
  kept?: KeptEffects;
  /** The run id of a later run of the same saga (a reset of this run, or of another run of the saga), if there is one. */
  supersededBy?: string;
  /** Child workflows it started. */
  children: ChildRef[];
  /** The last decision the saga sent its children, if any (a `commit` means it was committing). */
  childDecision?: 'commit' | 'compensate';
}

/** One barrier row under the saga's keys. */
export interface EffectRow {
  service: string;
  /** The step part of the key: `reserveStock`, `createUser`… */
  step: string;
  op: 'try' | 'cancel';
  writtenBy: 'try' | 'cancel';
}

/** What became of one child saga. */
export interface ChildReconciliation {
  workflowId: string;
  action: 'settled' | 'told-to-compensate' | 'told-to-commit' | 'reconciled' | 'reconciliation-running' | 'would-tell-to-compensate' | 'would-tell-to-commit' | 'would-reconcile';
}

/** Input of `reconcileSaga`. */
export interface ReconcileSagaInput {
  workflowId: string;
  runId: string;
  /** Decide and report, change nothing. @default false */
  dryRun?: boolean;
}

/** Result of `reconcileSaga`: what stood, what was undone, what needs an operator. */
export interface ReconcileResult {
  workflowId: string;
  runId: string;
  workflowType: string;
  outcome: ReconcileOutcome;
  /** Steps whose effect stood and that were undone (would be, in a dry run), last first. */
  undone: string[];
  /** Steps whose effect stands and is kept (the pivot and what came before it). */
  kept: string[];
  /** Steps after the pivot run now, under the saga's keys (would be, in a dry run). Absent from results of earlier versions. */
  finished?: string[];
  /** Optional steps after the pivot that failed after their retries: the saga goes on without them, as it would have. */
  forwardGaveUp?: string[];
  /** What an operator must look at, one sentence each. */
  needsOperator: string[];
  children: ChildReconciliation[];
  dryRun: boolean;
  /** Set with `LEFT_TO_OPERATOR`. */
  keptBy?: KeptEffects;
  /** Set with `SUPERSEDED`: the later run of the saga that carries it on. */
  supersededBy?: string;
}

/** Input of `reconcileSweep`. */
export interface ReconcileSweepInput {
  /** Narrows the sagas swept, in visibility syntax (joined to the unsettled filter with AND). @default none */
  query?: string;
  /** Report what each reconciliation would do, change nothing. @default false */
  dryRun?: boolean;
  /** Sagas reconciled at most. @default SWEEP_BATCH (100) */
  limit?: number;
}

/** Result of `reconcileSweep`. */
export interface ReconcileSweepResult {
  /** Unsettled sagas found that no reconciliation had run for. */
  found: number;
  /** Unsettled sagas left out because their reconciliation completed or is running. */
  skipped: number;
  /** One result per saga reconciled by this sweep. */
  results: ReconcileResult[];
  /** Sagas whose reconciliation started meanwhile elsewhere (not reconciled again). */
  alreadyReconciled: string[];
  /** Sagas whose reconciliation failed, with why; the next sweep starts them again. */
  failed: string[];
}
