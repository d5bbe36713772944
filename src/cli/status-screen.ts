import type { SagaState, StepRecord } from '@saga-temporal/saga';
import { table } from '../report/text';

// The status screen of one saga. Pure functions of their input, so the tests can pin them
// and `--watch` can compare frames to redraw only when something changed.

/** What the status screen shows about a workflow besides its saga state. */
export interface StatusView {
  workflowId: string;
  /** Workflow type, e.g. `orderSaga`. */
  type: string;
  /** Temporal's execution status (`RUNNING`, `COMPLETED`, `FAILED`, …). */
  workflowStatus: string;
  /** The `SagaStatus` search attribute, if the saga wrote one yet. */
  sagaStatus: string | undefined;
  /** The start summary shown in the Web UI. */
  summary: string | undefined;
  /** The saga's own state, when the query answered. */
  state: SagaState | undefined;
  /** Why the state is missing (no worker to answer the query, …). */
  stateUnavailable?: string;
  /** Link to the workflow in the Web UI. */
  uiUrl: string;
}

function compensationCell(step: StepRecord): string {
  const c = step.compensation;
  if (!c) return '-';
  const attempts = c.attempt > 1 ? ` ×${c.attempt}` : '';
  const operator = c.operator ? ` (operator ${c.operator.action})` : '';
  return `${c.name}: ${c.status}${attempts}${operator}`;
}

function detailCell(step: StepRecord): string {
  if (step.compensation?.operator?.action === 'skip') return `Skipped by operator: ${step.compensation.operator.reason ?? ''}`;
  const error = step.error ?? step.compensation?.error;
  if (error) return `${error.type ? `${error.type}: ` : ''}${error.message}`;
  return step.summary ?? '';
}

// The pivot and the steps that recover forward after it are named beside their status.
function statusCell(step: StepRecord): string {
  if (step.pivot) return `${step.status} (pivot)`;
  if (step.recovery) return `${step.status} (${step.recovery})`;
  return step.status;
}

/** The steps of a saga as a table: one row per step, its compensation beside it. */
export function stepsTable(steps: readonly StepRecord[]): string {
  if (steps.length === 0) return '(no steps yet)';
  return table(
    ['STEP', 'STAGE', 'STATUS', 'TRY', 'COMPENSATION', 'DETAIL'],
    steps.map((s) => [s.name, String(s.group), statusCell(s), String(s.attempt), compensationCell(s), detailCell(s)]),
  );
}

/** The full status screen of one saga. */
export function renderStatus(view: StatusView): string {
  const status = view.state?.status ?? view.sagaStatus ?? 'UNKNOWN';
  const lines = [`${view.workflowId}  ${view.type}  saga ${status}  (workflow ${view.workflowStatus})`];
  if (view.summary) lines.push(view.summary);
  const state = view.state;
  if (state?.failure) lines.push(`Failure: ${state.failure.step ? `${state.failure.step}: ` : ''}${state.failure.message}${state.failure.type ? ` (${state.failure.type})` : ''}`);
  for (const f of state?.compensationFailures ?? []) lines.push(`Compensation failed: ${f.step}: ${f.message}`);
  if (state?.operatorNote) lines.push(`Operator note: ${state.operatorNote}`);
  if (state?.pivot) lines.push(`Pivot: ${state.pivot.step} at ${state.pivot.reachedAt}; later steps recover forward`);
  lines.push('');
  lines.push(state ? stepsTable(state.steps) : `(steps unavailable: ${view.stateUnavailable ?? 'the saga did not answer'})`);
  lines.push('');
  lines.push(`Web UI: ${view.uiUrl}`);
  return lines.join('\n');
}
