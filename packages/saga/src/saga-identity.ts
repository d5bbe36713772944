// Which saga a workflow run belongs to, decided from the run ids the server reports. Pure (no Temporal
// imports) so that a simulation of resets, continue-as-new, cron and retries can drive it.
//
// A reset starts a new run that carries on the same saga: its steps must find what the old run did.
// Continue-as-new, a cron run and a workflow retry start a new saga under the same workflow id: its
// steps must take effect on their own. The server records, on every run's WorkflowExecutionStarted
// event, the run id that started the execution (`originalExecutionRunId`); a reset copies that event,
// so the value survives resets, and every other kind of new run records its own id. The first run id
// of the chain (`firstExecutionRunId`) does not fit: continue-as-new, cron and retries keep it, so
// every saga of a chain would share one set of idempotency keys.

/** The run ids {@link sagaIdOf} reads, as `workflowInfo()` reports them. */
export interface RunIds {
  /** The run id on this run's WorkflowExecutionStarted event, kept by resets; empty from a server that records none. */
  originalExecutionRunId?: string;
  /** This run's own id. */
  runId: string;
}

/**
 * The saga id of a run: its `originalExecutionRunId`, or its `runId` when the server reports none (a
 * server that predates the field; the SDK then passes an empty string). The same for a run and every
 * run a reset makes of it; different for each run started by continue-as-new, cron or a workflow
 * retry. For a first run never reset it equals the first run id of the chain, the saga id of earlier
 * versions, so sagas already running keep their idempotency keys.
 *
 * @example sagaIdOf(workflowInfo())
 */
export function sagaIdOf({ originalExecutionRunId, runId }: RunIds): string {
  return originalExecutionRunId || runId;
}
