// Whether a closed saga run has been replaced by a later run of the same saga. A reset ends the run it
// starts from (terminated, when it was running) and carries the saga on in a new run of the same
// workflow id whose WorkflowExecutionStarted event is a copy of the first one: same saga id, same
// idempotency keys. Undoing the old run's effects would undo what the new run stands on, so the old run
// is the later run's business. A new start, continue-as-new, cron or a retry under the same workflow id
// is a different saga (its own saga id and keys): it replaces nothing, and the run it follows is still
// reconciled on its own.

import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { sagaIdOf } from '@saga-temporal/saga/core';

/**
 * The run id of a later run of the saga that `run` (described by `described`, with saga id `sagaId`)
 * belongs to, or undefined when `run` is the saga's latest. Both answers come from the server, read
 * at once (not from visibility, which may lag behind a reset made a moment ago):
 *
 * 1. the run's own record of the reset made from it (`workflowExtendedInfo.resetRunId`, kept by the
 *    server on the base run of a reset; it names the latest reset made from it), whatever ran under
 *    the workflow id since;
 * 2. otherwise the workflow id's latest run (a describe without a run id), when it is another run
 *    whose saga id is the same: a reset made from an earlier run of the saga, or by a server that does
 *    not record `resetRunId`.
 */
export async function laterRunOfSaga(client: Client, described: WorkflowExecutionDescription, sagaId: string): Promise<string | undefined> {
  const { workflowId, runId } = described;
  const resetRunId = described.raw.workflowExtendedInfo?.resetRunId;
  if (resetRunId && resetRunId !== runId) return resetRunId;
  const latest = await client.workflow.getHandle(workflowId).describe();
  if (latest.runId === runId) return undefined;
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId: latest.runId },
    maximumPageSize: 1,
  });
  const started = history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const latestSagaId = sagaIdOf({ originalExecutionRunId: started?.originalExecutionRunId ?? '', runId: latest.runId });
  return latestSagaId === sagaId ? latest.runId : undefined;
}
