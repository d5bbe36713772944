// The saga's query and operator updates as Temporal handler definitions, under the default names or
// under the names a `Saga` was given. Sandbox-safe: only @temporalio/workflow
// and @temporalio/common.

import type { QueryDefinition, UpdateDefinition } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { defaultSagaHandlerNames, sagaHandlerNames, type SagaHandlerNames } from './handler-names';
import type { RetryCompensationInput, SagaState, SkipCompensationInput } from './types';

/** The saga's state: steps, statuses, failure and compensation failures. */
export const sagaStateQuery = defineQuery<SagaState>(defaultSagaHandlerNames.state);

/**
 * Operator: run the failed compensations again. Accepted only while the saga waits in
 * `COMPENSATION_FAILED`; answers with the state after that round. The same update takes an optional
 * `{ steps }` to run only some of them: {@link retryCompensationStepsUpdate} is its definition typed so.
 */
export const retryCompensationUpdate = defineUpdate<SagaState>(defaultSagaHandlerNames.retryCompensation);

/**
 * Operator: run again only the failed compensations of `steps`; the others stay failed and the saga
 * keeps waiting. The `retryCompensation` update with its argument, typed for `executeUpdate`.
 */
export const retryCompensationStepsUpdate = defineUpdate<SagaState, [RetryCompensationInput]>(defaultSagaHandlerNames.retryCompensation);

/** Operator: declare the saga compensated after repairing by hand; the reason is kept as `operatorNote`. Accepted only while the saga waits in `COMPENSATION_FAILED`. */
export const markCompensatedUpdate = defineUpdate<SagaState, [{ reason: string }]>(defaultSagaHandlerNames.markCompensated);

/**
 * Operator: one step's failed compensation was done by hand; the saga records the skip with its reason
 * and never runs it. Once no failed compensation remains the saga ends compensated. Accepted only
 * while the saga waits in `COMPENSATION_FAILED`, for a step whose compensation failed.
 */
export const skipCompensationUpdate = defineUpdate<SagaState, [SkipCompensationInput]>(defaultSagaHandlerNames.skipCompensation);

/** Operator: run again the steps after the pivot whose retries are spent (the saga recovers forward, so it waits instead of unwinding). Accepted only while such a step waits; answers with the state once they run again. */
export const retryStepUpdate = defineUpdate<SagaState>(defaultSagaHandlerNames.retryStep);

/** The query and update definitions of a saga whose handlers carry the given names. */
export interface SagaHandlerDefinitions {
  /** Query returning the state. */
  state: QueryDefinition<SagaState>;
  /** Update retrying every failed compensation. */
  retryCompensation: UpdateDefinition<SagaState>;
  /** The same update, typed with the steps whose failed compensations to retry. */
  retryCompensationSteps: UpdateDefinition<SagaState, [RetryCompensationInput]>;
  /** Update declaring the saga compensated by hand. */
  markCompensated: UpdateDefinition<SagaState, [{ reason: string }]>;
  /** Update skipping one failed compensation the operator did by hand. */
  skipCompensation: UpdateDefinition<SagaState, [SkipCompensationInput]>;
  /** Update running again the steps held after the pivot. */
  retryStep: UpdateDefinition<SagaState>;
}

/** The handler definitions for `names` (defaults for the names left out); the exported definitions when every name is the default. */
export function sagaHandlerDefinitions(names: Partial<SagaHandlerNames> = {}): SagaHandlerDefinitions {
  const n = sagaHandlerNames(names);
  const d = defaultSagaHandlerNames;
  return {
    state: n.state === d.state ? sagaStateQuery : defineQuery<SagaState>(n.state),
    retryCompensation: n.retryCompensation === d.retryCompensation ? retryCompensationUpdate : defineUpdate<SagaState>(n.retryCompensation),
    retryCompensationSteps:
      n.retryCompensation === d.retryCompensation ? retryCompensationStepsUpdate : defineUpdate<SagaState, [RetryCompensationInput]>(n.retryCompensation),
    markCompensated: n.markCompensated === d.markCompensated ? markCompensatedUpdate : defineUpdate<SagaState, [{ reason: string }]>(n.markCompensated),
    skipCompensation: n.skipCompensation === d.skipCompensation ? skipCompensationUpdate : defineUpdate<SagaState, [SkipCompensationInput]>(n.skipCompensation),
    retryStep: n.retryStep === d.retryStep ? retryStepUpdate : defineUpdate<SagaState>(n.retryStep),
  };
}
