// The laws every schedule must keep, checked on what the services saw (the effects the barrier let
// through) against what each saga reports (its query state, its `SagaStatus` and its workflow result).
// One checker for the pure simulation and the one on a Temporal server.

import { SagaStatus, type SagaFailureDetails, type SagaState } from '@saga-temporal/saga/core';
import type { SagaShape } from './schedule';

/** One change a service made, as the barrier let it through; `by-hand` is an operator's repair outside the saga. */
export interface AppliedEffect {
  /** The saga id the key was built on. */
  saga: string;
  step: string;
  kind: 'forward' | 'undo' | 'confirm' | 'cancel' | 'by-hand';
}

/** How a saga's workflow ended, as its caller saw it. */
export type WorkflowEnd =
  | { kind: 'completed' }
  | { kind: 'cancelled' }
  | { kind: 'failed'; type?: string; details?: SagaFailureDetails }
  /** Still open when the schedule ended: waiting for an operator, or stuck. */
  | { kind: 'open' };

/** What one saga of a schedule reported at the end. */
export interface SagaOutcome {
  saga: string;
  shape: SagaShape;
  /** The state query's answer. */
  state: SagaState;
  /** The last value written to the `SagaStatus` search attribute (or reported through `onStatus`). */
  searchAttribute: SagaStatus;
  end: WorkflowEnd;
}

const undone = new Set<AppliedEffect['kind']>(['undo', 'cancel', 'by-hand']);

// Every forward call of a saga; `compensable`: the saga can undo it (a compensation, or a cancel until confirmed).
interface ForwardCall {
  name: string;
  optional: boolean;
  tcc: boolean;
  compensable: boolean;
}

function forwardSteps(shape: SagaShape): ForwardCall[] {
  return shape.stages.flatMap((stage): ForwardCall[] => {
    switch (stage.kind) {
      case 'step':
        return [{ name: stage.step.name, optional: false, tcc: false, compensable: stage.step.undo !== undefined }];
      case 'parallel':
        return stage.steps.map((s) => ({ name: s.name, optional: false, tcc: false, compensable: s.undo !== undefined }));
      case 'tcc':
        return stage.participants.map((p) => ({ name: p.name, optional: false, tcc: true, compensable: true }));
      case 'optional':
        return [{ name: stage.step.name, optional: true, tcc: false, compensable: stage.step.undo !== undefined }];
      default:
        return [];
    }
  });
}

/**
 * Checks the laws for the sagas of one schedule and returns every law broken, as sentences (none:
 * the schedule passed):
 * - no effect is applied twice for one saga;
 * - every effect that took place is, at the end, standing in a saga that completed or passed its
 *   pivot, or undone exactly once, or reported as held for an operator;
 * - the query, `SagaStatus` and the workflow's end say the same; `COMPENSATED`/`CANCELLED` never while
 *   an effect stands that the saga does not declare final; `COMPLETED` never while an effect was undone;
 * - no confirm without every try of its stage; never both confirm and cancel of one participant;
 * - no saga left open unless it waits for an operator.
 */
export function checkLaws(outcomes: readonly SagaOutcome[], effects: readonly AppliedEffect[]): string[] {
  const broken: string[] = [];
  const count = (saga: string, step: string, kinds: readonly AppliedEffect['kind'][]) => effects.filter((e) => e.saga === saga && e.step === step && kinds.includes(e.kind)).length;
  const ids = outcomes.map((o) => o.saga);
  if (new Set(ids).size !== ids.length) broken.push(`two sagas of one chain share a saga id (${ids.join(', ')}): the later one's steps take no effect`);
  for (const saga of new Set(effects.map((e) => e.saga))) {
    if (!ids.includes(saga)) broken.push(`effects were applied under saga id ${saga}, which no saga reports: a run of a saga keyed its steps apart from the others`);
  }

  for (const { saga, shape, state, searchAttribute, end } of outcomes) {
    const label = `saga ${saga}`;
    for (const kind of ['forward', 'undo', 'confirm', 'cancel'] as const) {
      for (const { name } of forwardSteps(shape)) if (count(saga, name, [kind]) > 1) broken.push(`${label}: ${kind} of ${name} applied ${count(saga, name, [kind])} times`);
    }
    const status = state.status;
    if (searchAttribute !== status) broken.push(`${label}: SagaStatus reads ${searchAttribute} while the query reads ${status}`);
    const ended: SagaStatus | 'open' = end.kind === 'completed' ? SagaStatus.COMPLETED : end.kind === 'cancelled' ? SagaStatus.CANCELLED : end.kind === 'failed' ? (end.details?.status ?? 'open') : 'open';
    if (end.kind !== 'open' && ended !== status) broken.push(`${label}: the workflow ended ${end.kind} (${ended}) while the query reads ${status}`);
    if (end.kind === 'open' && status !== SagaStatus.COMPENSATION_FAILED && !state.steps.some((s) => (s.status === 'failed' && s.recovery) || s.confirmation?.status === 'failed')) {
      broken.push(`${label}: left open in ${status} without waiting for an operator`);
    }

    // A participant without a compensation is final once confirmed: its shape declares it, whichever
    // run confirmed it (a run reset after the saga unwound may never reach the stage again).
    const finalByDeclaration = shape.stages.flatMap((st) => (st.kind === 'tcc' ? st.participants.filter((p) => p.undo === undefined).map((p) => p.name) : []));
    const declaredFinal = new Set([...(state.standing ?? []), ...finalByDeclaration.filter((name) => count(saga, name, ['confirm']) > 0)]);
    const failedCompensations = new Set(state.compensationFailures.map((f) => f.step));
    const notAttempted = new Set(state.steps.filter((s) => s.compensation?.status === 'skipped' && s.compensation.operator === undefined).map((s) => s.name));

    for (const { name, optional, tcc, compensable } of forwardSteps(shape)) {
      const applied = count(saga, name, ['forward']) > 0;
      const undoneTimes = count(saga, name, [...undone]);
      const confirmed = count(saga, name, ['confirm']) > 0;
      if (count(saga, name, ['undo', 'cancel']) > 1) broken.push(`${label}: ${name} undone ${count(saga, name, ['undo', 'cancel'])} times`);
      if (tcc && confirmed && count(saga, name, ['cancel']) > 0) broken.push(`${label}: ${name} both confirmed and cancelled`);
      if (confirmed && !applied) broken.push(`${label}: ${name} confirmed without its try`);
      // A step without a compensation has nothing the saga could undo: it stands by its declaration.
      const stands = compensable && applied && undoneTimes === 0;
      switch (status) {
        case SagaStatus.COMPLETED:
          // An optional step may fail and the saga complete: one refused because an earlier run undid it reports so.
          if (undoneTimes > 0 && !(optional && state.steps.find((st) => st.name === name)?.status === 'failed')) broken.push(`${label}: COMPLETED while ${name} was undone`);
          if (!optional && !applied) broken.push(`${label}: COMPLETED while ${name} took no effect`);
          if (tcc && !confirmed) broken.push(`${label}: COMPLETED while ${name} was never confirmed`);
          break;
        case SagaStatus.COMPENSATED:
        case SagaStatus.CANCELLED:
          if (stands && !declaredFinal.has(name)) broken.push(`${label}: ${status} while ${name} stands`);
          break;
        case SagaStatus.COMPENSATION_FAILED:
          if (stands && !declaredFinal.has(name) && !failedCompensations.has(name) && !notAttempted.has(name)) broken.push(`${label}: COMPENSATION_FAILED while ${name} stands unreported`);
          break;
        case SagaStatus.FORWARD_FAILED:
          if (!state.pivot) broken.push(`${label}: FORWARD_FAILED without a pivot`);
          // A run reset after an earlier one unwound finds undone steps refused, and reports them failed.
          if (undoneTimes > 0 && state.steps.find((st) => st.name === name)?.status !== 'failed') broken.push(`${label}: FORWARD_FAILED while ${name} was undone (nothing is undone after the pivot)`);
          break;
        default:
          break;
      }
    }
    for (const stage of shape.stages) {
      if (stage.kind !== 'tcc') continue;
      const anyConfirmed = stage.participants.some((p) => count(saga, p.name, ['confirm']) > 0);
      const allTried = stage.participants.every((p) => count(saga, p.name, ['forward']) > 0);
      if (anyConfirmed && !allTried) broken.push(`${label}: a confirm of stage ${stage.participants.map((p) => p.name).join('+')} without every try`);
    }
  }
  return broken;
}
