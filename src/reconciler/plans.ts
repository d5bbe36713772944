// What the reconciler may undo of each saga type, what it finishes forward after the pivot, and the
// pure decision it makes from what stands. A plan lists a saga's steps that write through the barrier,
// in forward order, each with the service it writes to and the compensation that undoes it under the
// same key, then the steps that come after its pivot. Sandbox-safe.

import { ReconcileOutcome, type EffectRow } from './contract';

/** One step of a saga, as the reconciler sees it. */
export interface PlannedStep {
  /** The step's name, the last part of its idempotency key. */
  step: string;
  /** The service whose barrier holds its rows. */
  service: string;
  /** Its compensation, run with the step's key; none for a step that is never undone. */
  compensation?: string;
  /** The saga's point of no return: once it stands, nothing is undone. */
  pivot?: boolean;
}

/**
 * A step the saga runs after its pivot, as an optional step: the reconciler runs it if the saga's
 * history shows no completed call of its activity, and one that gives up is reported, never undone.
 */
export interface ForwardStep {
  /** The saga's name for the step (`sendConfirmation`), as its result and step list show it. */
  step: string;
  /** The activity the saga runs it with; its completion in the saga's history means it is done. */
  activity: string;
}

/** What the reconciler does with one saga type. */
export interface SagaPlan {
  /** The steps that write through the barrier, in forward order. */
  steps: readonly PlannedStep[];
  /** The steps after the pivot, in forward order, finished forward once the pivot stands. */
  forward: readonly ForwardStep[];
}

/**
 * The plans of the sagas this project ships, by workflow type. Mails are not among the steps undone:
 * they cannot be unsent, and the sagas send them as optional steps or best-effort compensations; the
 * mails after a pivot are finished forward.
 */
export const reconcilePlans: Readonly<Record<string, SagaPlan>> = {
  orderSaga: {
    steps: [
      { step: 'reserveStock', service: 'inventory', compensation: 'releaseStock' },
      { step: 'authorizePayment', service: 'payments', compensation: 'voidPayment' },
      { step: 'capturePayment', service: 'payments', compensation: 'refundPayment' },
      { step: 'createShipment', service: 'shipping', compensation: 'cancelShipment', pivot: true },
    ],
    forward: [{ step: 'sendConfirmation', activity: 'sendOrderConfirmation' }],
  },
  // Activation has no compensation: once the account is active the registration went through, and
  // only the welcome mail (optional) was left.
  registrationSaga: {
    steps: [
      { step: 'createUser', service: 'users', compensation: 'deleteUser' },
      { step: 'activateUser', service: 'users', pivot: true },
    ],
    forward: [{ step: 'sendWelcome', activity: 'sendWelcomeEmail' }],
  },
};

/** What the reconciler decided for a saga's own steps. */
export interface StepDecision {
  outcome: ReconcileOutcome;
  /** Compensations to run, last step first: every compensable step of the plan, not only those that stand. */
  compensate: PlannedStep[];
  /** Steps whose effect stands and will be undone. */
  undone: string[];
  /** Steps whose effect stands and is kept. */
  kept: string[];
  /** Steps after a standing pivot whose activity never completed in the saga's run, to run now in this order. */
  finishForward: ForwardStep[];
}

/** Whether the step's forward call took effect and no compensation has run for it. */
export function stands(rows: readonly EffectRow[], step: PlannedStep): boolean {
  const mine = rows.filter((row) => row.service === step.service && row.step === step.step);
  return mine.some((row) => row.op === 'try' && row.writtenBy === 'try') && !mine.some((row) => row.op === 'cancel');
}

/**
 * Decides from the barrier's rows and the activities that completed in the saga's run (`completed`,
 * by activity type). A pivot that stands keeps everything, and the steps after it whose activity did
 * not complete are finished forward (`FINISHED_FORWARD`; `KEPT_AFTER_PIVOT` when none is left).
 * Otherwise every compensation of the plan runs, last first: one whose step stands undoes it; one
 * whose step never ran records that there is nothing to undo, so that the step, still in flight when
 * the saga ended, is refused if it arrives later.
 */
export function decide(plan: SagaPlan, rows: readonly EffectRow[], completed: readonly string[]): StepDecision {
  const standing = plan.steps.filter((step) => stands(rows, step));
  if (plan.steps.some((step) => step.pivot && stands(rows, step))) {
    const finishForward = plan.forward.filter((step) => !completed.includes(step.activity));
    const outcome = finishForward.length ? ReconcileOutcome.FINISHED_FORWARD : ReconcileOutcome.KEPT_AFTER_PIVOT;
    return { outcome, compensate: [], undone: [], kept: standing.map((s) => s.step), finishForward };
  }
  const compensate = plan.steps.filter((step) => step.compensation !== undefined).reverse();
  const undone = compensate.filter((step) => stands(rows, step)).map((s) => s.step);
  return { outcome: undone.length ? ReconcileOutcome.UNDONE : ReconcileOutcome.NOTHING_STOOD, compensate, undone, kept: [], finishForward: [] };
}

/**
 * The outcome once the steps to finish forward ran: `FINISHED_FORWARD` if one of them went through,
 * else the decision's own. An optional step that gave up leaves the saga as it would have left itself
 * (completed without that mail), so it is reported in `forwardGaveUp`, not handed to an operator.
 */
export function outcomeAfterForward(decided: ReconcileOutcome, finished: readonly string[]): ReconcileOutcome {
  if (decided !== ReconcileOutcome.FINISHED_FORWARD) return decided;
  return finished.length ? ReconcileOutcome.FINISHED_FORWARD : ReconcileOutcome.KEPT_AFTER_PIVOT;
}

/** The step part of an idempotency key `${workflowId}/${sagaId}/${step}`, given the prefix up to the saga id. */
export function stepOfKey(prefix: string, key: string): string | undefined {
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}
