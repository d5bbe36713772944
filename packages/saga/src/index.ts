// The saga engine: a compensation stack for workflows. Sandbox-safe; see docs/writing-a-saga.md.

export {
  activity,
  defaultCompensationRetry,
  describeFailure,
  markCompensatedUpdate,
  retryCompensationStepsUpdate,
  retryCompensationUpdate,
  retryStepUpdate,
  Saga,
  SagaFailureType,
  sagaStateQuery,
  skipCompensationUpdate,
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
export { sagaActivities, sagaId, sagaLocalActivities } from './saga-activities';
export { sagaIdOf, type RunIds } from './saga-identity';
export { SagaRepairRefusedError, SagaUsageError, type OptionalResult, type SagaFailureDetails } from './engine';
export {
  SAGA_ID_FIELD,
  SagaStatus,
  StepStatus,
  type CompensationFailure,
  type CompensationRecord,
  type CompensationStatus,
  type ErrorRecord,
  type OperatorActionRecord,
  type PivotRecord,
  type RetryCompensationInput,
  type SagaState,
  type SkipCompensationInput,
  type SkippedCompensation,
  type StepRecord,
} from './types';
export { sagaMetricNames } from './metrics';
export { SagaStatusKey, sagaStatusKey, type SagaStatusAttributeKey } from './search-attributes';
export { DEFAULT_SAGA_STATUS_ATTRIBUTE, defaultSagaHandlerNames, sagaHandlerNames, type SagaHandlerNames } from './handler-names';
export { sagaHandlerDefinitions, type SagaHandlerDefinitions } from './saga-handlers';
export {
  awaitParentDecision,
  ChildSagaFailureType,
  ChildSagas,
  childClosedSignal,
  childHeldSignal,
  childReadySignal,
  parentAttachSignal,
  parentDecisionSignal,
  parentHoldSignal,
  reportToParent,
  type ChildClosed,
  type ChildSagaDefinition,
  type ParentDecision,
  type ParentDecisionOptions,
} from './child-saga';
