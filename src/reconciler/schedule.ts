import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../shared/start-options';
import { RECONCILE_SWEEP_WORKFLOW, RECONCILER_INTERVAL, RECONCILER_SCHEDULE_ID } from './contract';

// The Schedule that runs the reconciler's sweep. The worker creates it at start: every deployment runs
// a worker (npm start, the cluster, compose), and the worker knows its task queue.

/** The Schedule's id for a task queue: `saga-reconciler`, suffixed with the queue when it is not the default. */
export function reconcilerScheduleId(taskQueue: string): string {
  return taskQueue === DEFAULT_TASK_QUEUE ? RECONCILER_SCHEDULE_ID : `${RECONCILER_SCHEDULE_ID}-${taskQueue}`;
}

/**
 * Creates the Schedule that runs `reconcileSweep` on `taskQueue` every {@link RECONCILER_INTERVAL}
 * (5 minutes), skipping a run while the previous one still goes. Idempotent: resolves `false` when
 * it already exists, and leaves it as it is (an operator may have paused it).
 */
export async function ensureReconcilerSchedule(client: Client, taskQueue: string): Promise<boolean> {
  const scheduleId = reconcilerScheduleId(taskQueue);
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: RECONCILER_INTERVAL }] },
      action: { type: 'startWorkflow', workflowType: RECONCILE_SWEEP_WORKFLOW, taskQueue, workflowId: `${scheduleId}-sweep`, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { note: 'Reconciles sagas that closed without settling (terminated, timed out): see docs/operations.md' },
    });
    return true;
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return false;
    throw err;
  }
}
