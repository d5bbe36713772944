// The saga's query and operator updates as Temporal handler definitions, under the default names or
// under the names a `Saga` was given. Sandbox-safe: only @temporalio/workflow
// and @temporalio/common.

import type { QueryDefinition, UpdateDefinition } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { defaultSagaHandlerNames, sagaHandlerNames, type SagaHandlerNames } from './handler-names';
import type { SagaState } from './types';

/** The saga's state: steps, statuses, failure and compensation failures. */
export const sagaStateQuery = defineQuery<SagaState>(defaultSagaHandlerNames.state);

/** Operator: run the compensations that are not done yet again. Accepted only while the saga waits in `COMPENSATION_FAILED`; answers with the state after that round. */
export const retryCompensationUpdate = defineUpdate<SagaState>(defaultSagaHandlerNames.retryCompensation);

/** Operator: declare the saga compensated after repairing by hand; the reason is kept as `operatorNote`. Accepted only while the saga waits in `COMPENSATION_FAILED`. */
export const markCompensatedUpdate = defineUpdate<SagaState, [{ reason: string }]>(defaultSagaHandlerNames.markCompensated);

/** Operator: run again the steps after the pivot whose retries are spent (the saga recovers forward, so it waits instead of unwinding). Accepted only while such a step waits; answers with the state once they run again. */
export const retryStepUpdate = defineUpdate<SagaState>(defaultSagaHandlerNames.retryStep);

/** The query and update definitions of a saga whose handlers carry the given names. */
export interface SagaHandlerDefinitions {
  /** Query returning the state. */
  state: QueryDefinition<SagaState>;
  /** Update retrying the compensations that are not done. */
  retryCompensation: UpdateDefinition<SagaState>;
  /** Update declaring the saga compensated by hand. */
  markCompensated: UpdateDefinition<SagaState, [{ reason: string }]>;
  /** Update running again the steps held after the pivot. */
  retryStep: UpdateDefinition<SagaState>;
}

/** The handler definitions for `names` (defaults for the names left out); the exported definitions when every name is the default. */
export function sagaHandlerDefinitions(names: Partial<SagaHandlerNames> = {}): SagaHandlerDefinitions {
  const n = sagaHandlerNames(names);
  return {
    state: n.state === defaultSagaHandlerNames.state ? sagaStateQuery : defineQuery<SagaState>(n.state),
    retryCompensation: n.retryCompensation === defaultSagaHandlerNames.retryCompensation ? retryCompensationUpdate : defineUpdate<SagaState>(n.retryCompensation),
    markCompensated:
      n.markCompensated === defaultSagaHandlerNames.markCompensated ? markCompensatedUpdate : defineUpdate<SagaState, [{ reason: string }]>(n.markCompensated),
    retryStep: n.retryStep === defaultSagaHandlerNames.retryStep ? retryStepUpdate : defineUpdate<SagaState>(n.retryStep),
  };
}
