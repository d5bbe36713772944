// What the reconciler may undo of each saga type, and the pure decision it makes from what stands.
// A plan lists a saga's steps that write through the barrier, in forward order, each with the
// service it writes to and the compensation that undoes it under the same key. Sandbox-safe.

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
 * The plans of the sagas this project ships, by workflow type. Mails are left out: they cannot be
 * unsent, and the sagas send them as optional steps or best-effort compensations.
 */
export const reconcilePlans: Readonly<Record<string, readonly PlannedStep[]>> = {
  orderSaga: [
    { step: 'reserveStock', service: 'inventory', compensation: 'releaseStock' },
    { step: 'authorizePayment', service: 'payments', compensation: 'voidPayment' },
    { step: 'capturePayment', service: 'payments', compensation: 'refundPayment' },
    { step: 'createShipment', service: 'shipping', compensation: 'cancelShipment', pivot: true },
  ],
  // Activation has no compensation: once the account is active the registration went through, and
  // only the welcome mail (optional) was left.
  registrationSaga: [
    { step: 'createUser', service: 'users', compensation: 'deleteUser' },
    { step: 'activateUser', service: 'users', pivot: true },
  ],
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
}

/** Whether the step's forward call took effect and no compensation has run for it. */
export function stands(rows: readonly EffectRow[], step: PlannedStep): boolean {
  const mine = rows.filter((row) => row.service === step.service && row.step === step.step);
  return mine.some((row) => row.op === 'try' && row.writtenBy === 'try') && !mine.some((row) => row.op === 'cancel');
}

/**
 * Decides from the barrier's rows. A pivot that stands keeps everything. Otherwise every compensation
 * of the plan runs, last first: one whose step stands undoes it; one whose step never ran records that
 * there is nothing to undo, so that the step, still in flight when the saga ended, is refused if it
 * arrives later.
 */
export function decide(plan: readonly PlannedStep[], rows: readonly EffectRow[]): StepDecision {
  const standing = plan.filter((step) => stands(rows, step));
  if (plan.some((step) => step.pivot && stands(rows, step))) {
    return { outcome: ReconcileOutcome.KEPT_AFTER_PIVOT, compensate: [], undone: [], kept: standing.map((s) => s.step) };
  }
  const compensate = plan.filter((step) => step.compensation !== undefined).reverse();
  const undone = compensate.filter((step) => stands(rows, step)).map((s) => s.step);
  return { outcome: undone.length ? ReconcileOutcome.UNDONE : ReconcileOutcome.NOTHING_STOOD, compensate, undone, kept: [] };
}

/** The step part of an idempotency key `${workflowId}/${sagaId}/${step}`, given the prefix up to the saga id. */
export function stepOfKey(prefix: string, key: string): string | undefined {
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}
