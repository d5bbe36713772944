import { AsyncLocalStorage } from 'node:async_hooks';
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../shared/failures';
import { SAGA_ID_FIELD } from '@saga-temporal/saga';
import { wrapActivities } from './wrap';

// The saga id of the activity being run, taken from its input by `bindSagaIds` so that the activities'
// bodies (and their input schemas) need not know about it.
const current = new AsyncLocalStorage<string | undefined>();

const sagaIdPattern = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Wraps each activity so that `idempotencyKey` sees the saga id its workflow put in the input (see
 * `sagaActivities`). A malformed saga id is refused (`InvalidInput`) before the activity runs.
 */
export function bindSagaIds<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  return wrapActivities(activities, (name, fn) => async (input) => {
    const id = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[SAGA_ID_FIELD] : undefined;
    if (id !== undefined && (typeof id !== 'string' || !sagaIdPattern.test(id))) {
      throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `Invalid ${name} input: ${SAGA_ID_FIELD} must be a run id`, nonRetryable: true });
    }
    return current.run(id, () => fn(input));
  });
}

function workflowOfActivity(): { workflowId: string; runId: string } {
  const { workflowExecution, activityType } = activityInfo();
  if (!workflowExecution?.workflowId || !workflowExecution.runId) {
    throw ApplicationFailure.create({
      type: 'MissingWorkflowContext',
      message: `${activityType} was not scheduled by a workflow, so it has no idempotency key; run it as a saga step`,
      nonRetryable: true,
    });
  }
  return { workflowId: workflowExecution.workflowId, runId: workflowExecution.runId };
}

/**
 * The idempotency key of a saga step: `${workflowId}/${sagaId}/${step}`, where the saga id is the run id
 * the execution started with (`sagaIdOf` in the engine). It is the same on every retry, every replay and
 * every run a reset starts, and differs for a new start of the same workflow id and for each run of
 * continue-as-new, cron or a workflow retry. A compensation passes its forward step's name so both share
 * a key. Without a saga id in the input (a workflow scheduling the activity through plain
 * `proxyActivities`) the run id stands in: the same value for a run that was never reset; a reset run
 * then sees keys of its own, which is why sagas schedule through `sagaActivities`.
 * Refuses (non-retryably) to run outside a workflow: without one there is no saga to pair the step with
 * its compensation, and a made-up key would silently break the barrier.
 */
export function idempotencyKey(step: string): string {
  const { workflowId, runId } = workflowOfActivity();
  return `${workflowId}/${current.getStore() ?? runId}/${step}`;
}

/**
 * The key of a step that a workflow may schedule several times (checks, alerts):
 * `${workflowId}/${runId}/${step}/${activityId}`, unique per scheduled activity and stable across its
 * retries. It names the run, not the saga: activity ids restart in a run created by a reset, and a call
 * made there is a new call, not a repeat of one the old run made.
 */
export function perCallKey(step: string): string {
  const { workflowId, runId } = workflowOfActivity();
  return `${workflowId}/${runId}/${step}/${activityInfo().activityId}`;
}
