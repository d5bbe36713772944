import { ActivityFailure, WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { executeChild, getExternalWorkflowHandle, ParentClosePolicy, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { compensationRetry, mailOptions } from '../shared/policies';
import type { InspectedSaga, ReconcilerActivities } from './activities';
import {
  closedUnsettled,
  ReconcileOutcome,
  reconcileWorkflowId,
  SWEEP_BATCH,
  type ChildReconciliation,
  type ReconcileResult,
  type ReconcileSagaInput,
  type ReconcileSweepInput,
  type ReconcileSweepResult,
  type SagaIds,
} from './contract';
import { decide, outcomeAfterForward, reconcilePlans, stands, type ForwardStep } from './plans';

// The reconciler: the undo of a saga whose workflow code got no chance to unwind (terminated, timed
// out). It reads what took effect and runs the compensations of what stands under the saga's own
// keys, so the barrier makes anything already undone a no-op and refuses a step that arrives late.

const reads = proxyActivities<ReconcilerActivities>({ startToCloseTimeout: '1 minute', retry: { maximumInterval: '30 seconds', maximumAttempts: 10 } });
// Compensations retry as long as the sagas' own do.
const undo = proxyActivities<ReconcilerActivities>({ startToCloseTimeout: '30 seconds', retry: compensationRetry });
// The steps after a pivot are the sagas' optional mails: retried as the sagas retry them, then given up.
const forward = proxyActivities<ReconcilerActivities>({ startToCloseTimeout: '1 minute', retry: mailOptions.retry! });

const PARENT_DECISION_SIGNAL = 'sagaParentDecision';

/**
 * Reconciles one saga run that closed without settling: leaves it when a later run of the same saga
 * (a reset) carries it on (`SUPERSEDED`); otherwise undoes what stands, last first, unless it passed
 * its pivot (then keeps it and finishes forward the steps after the pivot that did not complete,
 * under the saga's keys) or its terminator took the effects over (`terminate --keep-effects`); tells
 * its waiting child sagas to compensate (to commit, if it was committing) and reconciles those that
 * closed unsettled. Ends in a {@link ReconcileOutcome} of its own.
 */
export async function reconcileSaga({ workflowId, runId, dryRun = false }: ReconcileSagaInput): Promise<ReconcileResult> {
  const saga = await reads.inspectSaga({ workflowId, runId });
  const result: ReconcileResult = { workflowId, runId: saga.runId, workflowType: saga.workflowType, outcome: ReconcileOutcome.NOT_NEEDED, undone: [], kept: [], needsOperator: [], children: [], dryRun };
  if (!closedUnsettled(saga.workflowStatus, saga.sagaStatus)) return result;
  // A reset carries the saga on in a later run under the same keys: what stands is that run's.
  if (saga.supersededBy) {
    setCurrentDetails(`${ReconcileOutcome.SUPERSEDED}: carried on by run ${saga.supersededBy}`);
    return { ...result, outcome: ReconcileOutcome.SUPERSEDED, supersededBy: saga.supersededBy };
  }
  if (saga.kept) return { ...result, outcome: ReconcileOutcome.LEFT_TO_OPERATOR, keptBy: saga.kept };

  const plan = reconcilePlans[saga.workflowType];
  const rows = plan ? await reads.readEffects({ workflowId, sagaId: saga.sagaId }) : [];
  const decision = plan ? decide(plan, rows, saga.completed) : undefined;
  if (decision) {
    Object.assign(result, { outcome: decision.outcome, undone: decision.undone, kept: decision.kept });
    setCurrentDetails(dryRun ? `Dry run: would undo ${decision.undone.join(', ') || 'nothing'}` : `Undoing ${decision.undone.join(', ') || 'nothing'}`);
    for (const step of decision.compensate) {
      // A step never scheduled cannot arrive late, and has nothing to undo.
      if (!(step.step in saga.stepIds) && !stands(rows, step)) continue;
      if (dryRun) continue;
      const orderId = saga.stepIds[step.step]?.orderId ?? saga.ids.orderId;
      const userId = saga.stepIds[step.step]?.userId ?? saga.ids.userId;
      try {
        await undo.undoStep({ compensation: step.compensation!, key: `${workflowId}/${saga.sagaId}/${step.step}`, ...(orderId ? { orderId } : {}), ...(userId ? { userId } : {}) });
      } catch (err) {
        // The activity's own failure says why (a refusal, the last error); its wrapper only that it failed.
        const why = err instanceof ActivityFailure && err.cause ? err.cause.message : err instanceof Error ? err.message : String(err);
        result.needsOperator.push(`${step.compensation} of ${step.step} gave up: ${why}`);
      }
    }
    const { finished, forwardGaveUp } = await finishForward(saga, decision.finishForward, dryRun);
    Object.assign(result, { finished, forwardGaveUp, outcome: outcomeAfterForward(decision.outcome, finished) });
  } else {
    // A saga type without a plan: its own steps are an operator's to check; its children are handled below.
    const steps = Object.keys(saga.stepIds);
    if (steps.length) result.needsOperator.push(`${saga.workflowType} has no reconcile plan: check its steps by hand (${steps.join(', ')})`);
    result.outcome = steps.length ? ReconcileOutcome.NEEDS_OPERATOR : ReconcileOutcome.NOTHING_STOOD;
  }

  // Children: a parent that was committing, or passed its pivot, finishes forward; any other undoes.
  const passedPivot = decision?.outcome === ReconcileOutcome.KEPT_AFTER_PIVOT || decision?.outcome === ReconcileOutcome.FINISHED_FORWARD;
  const childDecision = saga.childDecision === 'commit' || passedPivot ? 'commit' : 'compensate';
  for (const child of saga.children) result.children.push(await reconcileChild(child, childDecision, dryRun));
  if (result.needsOperator.length) result.outcome = ReconcileOutcome.NEEDS_OPERATOR;
  const finished = result.finished?.length ? `; finished ${result.finished.join(', ')}` : '';
  setCurrentDetails(`${result.outcome}: undone ${result.undone.join(', ') || 'nothing'}${finished}`);
  return result;
}

// The steps after a standing pivot, in order, each as the optional step it is in the saga: one that
// gives up is reported and the next still runs. Only ids and the outcome come back into this history.
async function finishForward(saga: InspectedSaga, steps: readonly ForwardStep[], dryRun: boolean): Promise<{ finished: string[]; forwardGaveUp: string[] }> {
  const finished: string[] = [];
  const forwardGaveUp: string[] = [];
  // The ids the saga's steps used: a registration started without a user id made one up.
  const ids = Object.values(saga.stepIds).reduce<SagaIds>((all, stepIds) => ({ ...stepIds, ...all }), saga.ids);
  for (const step of steps) {
    if (dryRun) {
      finished.push(step.step);
      continue;
    }
    setCurrentDetails(`Finishing forward: ${step.step}`);
    try {
      await forward.finishForward({ workflowId: saga.workflowId, runId: saga.runId, activity: step.activity, ids });
      finished.push(step.step);
    } catch {
      forwardGaveUp.push(step.step);
    }
  }
  return { finished, forwardGaveUp };
}

async function reconcileChild(child: { workflowId: string; runId: string }, decision: 'commit' | 'compensate', dryRun: boolean): Promise<ChildReconciliation> {
  const { workflowStatus, sagaStatus } = await reads.describeSaga(child);
  if (workflowStatus === 'RUNNING') {
    if (dryRun) return { workflowId: child.workflowId, action: decision === 'commit' ? 'would-tell-to-commit' : 'would-tell-to-compensate' };
    await getExternalWorkflowHandle(child.workflowId, child.runId).signal(PARENT_DECISION_SIGNAL, decision);
    return { workflowId: child.workflowId, action: decision === 'commit' ? 'told-to-commit' : 'told-to-compensate' };
  }
  if (!closedUnsettled(workflowStatus, sagaStatus)) return { workflowId: child.workflowId, action: 'settled' };
  if (dryRun) return { workflowId: child.workflowId, action: 'would-reconcile' };
  const started = await startReconciliation(child.workflowId, child.runId);
  return { workflowId: child.workflowId, action: started ? 'reconciled' : 'reconciliation-running' };
}

// One reconciliation per saga run: a second start while one runs, or after one completed, is refused
// by the server (a failed one may be run again).
async function startReconciliation(workflowId: string, runId: string): Promise<ReconcileResult | undefined> {
  try {
    return await executeChild(reconcileSaga, {
      workflowId: reconcileWorkflowId(workflowId, runId),
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      args: [{ workflowId, runId }],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw err;
  }
}

/**
 * Finds the sagas of this task queue that closed without settling (see `findUnsettledSagas`) and
 * reconciles each, one reconciliation per saga run; with `dryRun`, reports what each would do. The
 * Schedule runs it every few minutes; `saga-client reconcile` on demand.
 */
export async function reconcileSweep({ query, dryRun = false, limit = SWEEP_BATCH }: ReconcileSweepInput = {}): Promise<ReconcileSweepResult> {
  const { found, skipped } = await reads.findUnsettledSagas({ taskQueue: workflowInfo().taskQueue, limit, ...(query ? { query } : {}) });
  const result: ReconcileSweepResult = { found: found.length, skipped, results: [], alreadyReconciled: [], failed: [] };
  for (const saga of found) {
    if (dryRun) {
      result.results.push(
        await executeChild(reconcileSaga, {
          workflowId: `${reconcileWorkflowId(saga.workflowId, saga.runId)}/dry-run/${workflowInfo().runId}`,
          args: [{ ...saga, dryRun: true }],
        }),
      );
      continue;
    }
    // One reconciliation that fails (it may be started again by the next sweep) does not stop the others.
    const reconciled = await startReconciliation(saga.workflowId, saga.runId).catch((err: unknown) => {
      result.failed.push(`${saga.workflowId}: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    });
    if (reconciled) result.results.push(reconciled);
    else if (reconciled === undefined) result.alreadyReconciled.push(saga.workflowId);
  }
  return result;
}
