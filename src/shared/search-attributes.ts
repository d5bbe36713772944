import { SagaStatusKey } from '@saga-temporal/saga';

export { SagaStatusKey };

/** Every custom search attribute the sagas write; servers must have them registered. */
export const customSearchAttributes = [SagaStatusKey] as const;
