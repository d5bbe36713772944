export { describeOrderResult, querySagaState, sagaOutcome, type SagaOutcome } from './outcome';
export { table, workflowUrl } from './text';
