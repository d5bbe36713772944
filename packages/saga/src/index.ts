// The saga engine: a compensation stack for workflows. Sandbox-safe; see docs/writing-a-saga.md.

export {
  activity,
  defaultCompensationRetry,
  describeFailure,
  markCompensatedUpdate,
  retryCompensationUpdate,
  retryStepUpdate,
  Saga,
  SagaFailureType,
  sagaStateQuery,
  type ActivityWithOptions,
  type CallOptions,
  type CompensationDefinition,
  type CompensationFailureMode,
  type SagaOptions,
  type StepDefinition,
  type StepResults,
  type TccParticipant,
  type TccResults,
} from './saga';
export { sagaActivities, sagaId } from './saga-activities';
export { SagaUsageError, type OptionalResult, type SagaFailureDetails } from './engine';
export {
  SAGA_ID_FIELD,
  SagaStatus,
  StepStatus,
  type CompensationFailure,
  type CompensationRecord,
  type CompensationStatus,
  type ErrorRecord,
  type PivotRecord,
  type SagaState,
  type StepRecord,
} from './types';
export { SagaStatusKey } from './search-attributes';
export {
  awaitParentDecision,
  ChildSagaFailureType,
  ChildSagas,
  childReadySignal,
  parentDecisionSignal,
  type ChildSagaDefinition,
  type ParentDecision,
  type ParentDecisionOptions,
} from './child-saga';
