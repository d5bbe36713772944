// The end of a chaos round with terminations: run the reconciler's sweep until every terminated saga
// has a completed reconciliation (visibility is eventually consistent, so a sweep can miss a saga
// terminated a moment before), and attach each reconciliation's result to its saga's outcome.

import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { RECONCILE_SWEEP_WORKFLOW, reconcileWorkflowId, type ReconcileResult } from '../../../src/reconciler/contract';
import type { SagaOutcome } from './workload';

/** Sweeps until every terminated outcome is reconciled or `timeoutMs` passed; answers how many sweeps ran. */
export async function reconcileTerminated(client: Client, taskQueue: string, outcomes: readonly SagaOutcome[], timeoutMs: number): Promise<number> {
  let pending = outcomes.filter((o) => o.workflowStatus === 'TERMINATED' && !o.reconciled);
  const deadline = Date.now() + timeoutMs;
  let sweeps = 0;
  while (pending.length > 0 && Date.now() < deadline) {
    sweeps += 1;
    await client.workflow.execute(RECONCILE_SWEEP_WORKFLOW, { taskQueue, workflowId: `chaos-sweep-${Date.now()}-${sweeps}`, args: [{ limit: 10_000 }] });
    for (const outcome of pending) {
      const handle = client.workflow.getHandle<() => Promise<ReconcileResult>>(reconcileWorkflowId(outcome.workflowId, outcome.runId ?? ''));
      const status = await handle.describe().then(
        (d) => d.status.name,
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        },
      );
      if (status === 'COMPLETED') outcome.reconciled = await handle.result();
    }
    pending = pending.filter((o) => !o.reconciled);
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 1_000));
  }
  return sweeps;
}
