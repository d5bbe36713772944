import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { DEFAULT_SAGA_STATUS_ATTRIBUTE } from './handler-names';

/** The Keyword search attribute key named `name`, for a saga whose `searchAttribute` option is not the default. */
export function sagaStatusKey(name: string = DEFAULT_SAGA_STATUS_ATTRIBUTE) {
  return defineSearchAttributeKey(name, SearchAttributeType.KEYWORD);
}

/** A Keyword search attribute key, the kind a saga writes its status to. */
export type SagaStatusAttributeKey = ReturnType<typeof sagaStatusKey>;

/**
 * The saga status of a workflow (`RUNNING`, `COMPLETED`, `COMPENSATING`, …) as a Keyword search
 * attribute, so sagas can be listed by status in the Web UI and with `temporal workflow list --query`.
 */
export const SagaStatusKey = sagaStatusKey();
