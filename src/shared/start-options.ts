// Where the sagas are started: what the starters of every saga take. Sandbox-safe (types and constants).

import { SagaStatus } from '@saga-temporal/saga';
import type { WorkflowTimeouts } from './deadlines';
import { SagaStatusKey } from './search-attributes';

/** The task queue the sagas run on unless configured otherwise (env `TEMPORAL_TASK_QUEUE`). */
export const DEFAULT_TASK_QUEUE = 'sagas';

/**
 * Where and how to start a saga. A workflow execution or run timeout below the saga's own deadlines
 * (`src/shared/deadlines.ts`) is refused with `WorkflowTimeoutTooShortError` before anything is sent.
 */
export interface StartOptions extends WorkflowTimeouts {
  /** @default DEFAULT_TASK_QUEUE ("sagas") */
  taskQueue?: string;
  /** Key of the registration workflow id's hash (env `SAGA_ID_SECRET`). @default DEVELOPMENT_ID_SECRET */
  idSecret?: string;
}

/**
 * Search attributes of every saga's start request: `SagaStatus=RUNNING`, so the saga is listed as
 * running before its first workflow task, and skips the upsert it would need for it.
 */
export const startsRunning = [{ key: SagaStatusKey, value: SagaStatus.RUNNING }];
