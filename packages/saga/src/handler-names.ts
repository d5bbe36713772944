// The names a saga is known by outside its workflow: its query, its operator updates and its
// search attribute. They are options so that a project can fit the saga into its own naming (or run
// two conventions side by side), with defaults that every existing workflow and client already uses.
// Plain data: the workflow side (`Saga`) and the client side (`@saga-temporal/saga/client`) share it.

/** Names of the saga's query and operator updates. */
export interface SagaHandlerNames {
  /** Query returning the {@link SagaState}. @default 'sagaState' */
  state: string;
  /** Update asking a saga waiting in `COMPENSATION_FAILED` to run its failed compensations (or some of them) again. @default 'retryCompensation' */
  retryCompensation: string;
  /** Update declaring a saga waiting in `COMPENSATION_FAILED` compensated by hand. @default 'markCompensated' */
  markCompensated: string;
  /** Update skipping one failed compensation of a saga waiting in `COMPENSATION_FAILED`: the operator undid that step by hand. @default 'skipCompensation' */
  skipCompensation: string;
  /** Update running again the steps after the pivot whose retries are spent. @default 'retryStep' */
  retryStep: string;
}

/** The handler names every saga uses unless told otherwise. */
export const defaultSagaHandlerNames: Readonly<SagaHandlerNames> = Object.freeze({
  state: 'sagaState',
  retryCompensation: 'retryCompensation',
  markCompensated: 'markCompensated',
  skipCompensation: 'skipCompensation',
  retryStep: 'retryStep',
});

/** Name of the Keyword search attribute a saga writes its status to, unless told otherwise. */
export const DEFAULT_SAGA_STATUS_ATTRIBUTE = 'SagaStatus';

/** The default handler names with the given ones laid over them. */
export function sagaHandlerNames(names: Partial<SagaHandlerNames> = {}): SagaHandlerNames {
  return { ...defaultSagaHandlerNames, ...names };
}
