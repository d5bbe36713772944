// The engine's pure core, without Temporal: the step records, the compensation stack, the ledger of
// outstanding work and the status derived from it. For hosts other than a workflow: simulations,
// unit tests, a model checker.

export { canChangeSagaStatus, canChangeStepStatus, SagaEngine, SagaRepairRefusedError, SagaUsageError } from './engine';
export type { CompensationSpec, EngineConfig, ErrorKind, OptionalResult, SagaFailureDetails, StageScope, StepSpec, TccParticipantSpec, UnwindCause } from './engine';
export { CompensationStack, unwind, unwindOrder, type UnwindOptions, type UnwindResult } from './compensation-stack';
export { Ledger, WorkKind, type OutstandingWork } from './ledger';
export { sagaIdOf, type RunIds } from './saga-identity';
export * from './types';
