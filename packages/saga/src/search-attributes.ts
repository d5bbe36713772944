import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The saga status of a workflow (`RUNNING`, `COMPLETED`, `COMPENSATING`, …) as a Keyword search
 * attribute, so sagas can be listed by status in the Web UI and with `temporal workflow list --query`.
 */
export const SagaStatusKey = defineSearchAttributeKey('SagaStatus', SearchAttributeType.KEYWORD);
