// Where the sagas are started: what the starters of every saga take. Sandbox-safe (types and a constant).

/** The task queue the sagas run on unless configured otherwise (env `TEMPORAL_TASK_QUEUE`). */
export const DEFAULT_TASK_QUEUE = 'sagas';

/** Where and how to start a saga. */
export interface StartOptions {
  /** @default DEFAULT_TASK_QUEUE ("sagas") */
  taskQueue?: string;
  /** Key of the registration workflow id's hash (env `SAGA_ID_SECRET`). @default DEVELOPMENT_ID_SECRET */
  idSecret?: string;
}
