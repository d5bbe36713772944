import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

/**
 * The idempotency key of a saga step: `${workflowId}/${runId}/${step}`. It is the same on every retry
 * and every replay of the step, and a compensation passes its forward step's name so both share a key.
 * Refuses (non-retryably) to run outside a workflow: without one there is no saga to pair the step with
 * its compensation, and a made-up key would silently break the barrier.
 */
export function idempotencyKey(step: string): string {
  const { workflowExecution, activityType } = activityInfo();
  if (!workflowExecution?.workflowId || !workflowExecution.runId) {
    throw ApplicationFailure.create({
      type: 'MissingWorkflowContext',
      message: `${activityType} was not scheduled by a workflow, so it has no idempotency key; run it as a saga step`,
      nonRetryable: true,
    });
  }
  return `${workflowExecution.workflowId}/${workflowExecution.runId}/${step}`;
}

/** The key of a step that a workflow may schedule several times (checks, alerts): unique per scheduled activity, stable across its retries. */
export function perCallKey(step: string): string {
  return idempotencyKey(`${step}/${activityInfo().activityId}`);
}
