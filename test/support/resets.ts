import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Workflow } from '@temporalio/common';

/**
 * Resets the handle's run (the latest, unless the handle names one) to the workflow task that
 * scheduled its first `activityType` (that task runs again in the new run), the way an operator resets
 * a saga, and returns a handle on the new run.
 */
export async function resetToTaskScheduling<T extends Workflow>(env: TestWorkflowEnvironment, handle: WorkflowHandle<T>, activityType: string): Promise<WorkflowHandle<T>> {
  const { runId } = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType);
  expect(scheduled, `${activityType} was scheduled`).toBeGreaterThan(0);
  const task = events
    .slice(0, scheduled)
    .reverse()
    .find((e) => e.workflowTaskCompletedEventAttributes);
  const reset = await env.client.workflowService.resetWorkflowExecution({
    namespace: env.namespace ?? 'default',
    workflowExecution: { workflowId: handle.workflowId, runId },
    workflowTaskFinishEventId: task!.eventId,
    reason: `test: reset to the task that scheduled ${activityType}`,
    requestId: randomUUID(),
  });
  expect(reset.runId).toBeTruthy();
  expect(reset.runId).not.toBe(runId);
  return env.client.workflow.getHandle<T>(handle.workflowId, reset.runId!);
}
