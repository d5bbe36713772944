// Child sagas: a step of a parent saga that is itself a saga in its own workflow. The child runs its
// forward steps, tells its parent it is done, and stays open until the parent decides: `commit` (it
// completes) or `compensate` (it unwinds through its own compensations). A child that hears nothing
// before its deadline follows the default it declared. Signals and conditions only: deterministic and
// replay-safe. Sandbox-safe: only @temporalio/workflow and @temporalio/common.

import { ApplicationFailure, type Duration } from '@temporalio/common';
import {
  CancellationScope,
  ChildWorkflowCancellationType,
  condition,
  defineSignal,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
  type Workflow,
} from '@temporalio/workflow';
import type { StepDefinition } from './saga';
import { SagaStatus } from './types';

/** What a parent decides for a child saga that finished its forward steps. */
export type ParentDecision = 'commit' | 'compensate';

/** Sent by a child saga to its parent once its forward steps are done, with their result. */
export const childReadySignal = defineSignal<[{ workflowId: string; result: unknown }]>('sagaChildReady');

/** Sent by a parent saga to a child saga: keep what you did, or undo it. */
export const parentDecisionSignal = defineSignal<[ParentDecision]>('sagaParentDecision');

/** Failure types of child sagas. */
export const ChildSagaFailureType = {
  /** The child unwound because its parent asked it to (or its deadline's default was `compensate`). */
  CompensatedByParent: 'CompensatedByParent',
  /** A parent could not compensate a child that had already committed (its deadline's default was `commit`): its steps stand. */
  CommittedBeforeCompensation: 'CommittedBeforeCompensation',
} as const;

/** Options of {@link awaitParentDecision}. */
export interface ParentDecisionOptions {
  /** How long to wait for the parent's decision. @default '1 day' */
  timeout?: Duration;
  /** What to do when no decision came in time. @default 'compensate' */
  onTimeout?: ParentDecision;
}

/**
 * Call last in a child saga's body, with what the body returns: reports the result to the parent and
 * waits for its decision. On `commit` returns `result`; on `compensate` throws a `CompensatedByParent`
 * failure, so `saga.run` unwinds the child. Without a parent it returns at once.
 */
export async function awaitParentDecision<T>(result: T, options: ParentDecisionOptions = {}): Promise<T> {
  const parent = workflowInfo().parent;
  if (!parent) return result;
  let decision: ParentDecision | undefined;
  setHandler(parentDecisionSignal, (d) => void (decision ??= d));
  await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(childReadySignal, { workflowId: workflowInfo().workflowId, result });
  const timeout = options.timeout ?? '1 day';
  const onTimeout = options.onTimeout ?? 'compensate';
  const deadline = typeof timeout === 'number' ? `${timeout} ms` : timeout;
  // The timer's summary and the failure's message say what decided: a history read later must tell a
  // parent's decision from the deadline's default.
  const decided = await condition(() => decision !== undefined, timeout, { summary: `Waiting up to ${deadline} for the parent saga's decision, else ${onTimeout}` });
  if ((decided ? decision : onTimeout) === 'commit') return result;
  throw ApplicationFailure.create({
    type: ChildSagaFailureType.CompensatedByParent,
    message: decided ? 'The parent saga asked this saga to compensate' : `No decision came from the parent saga within ${deadline}: compensating, as declared`,
    nonRetryable: true,
  });
}

/** A child saga as a step of its parent. */
export interface ChildSagaDefinition {
  /** Name of the step in the parent. */
  name: string;
  /** Web UI summary of the step. */
  summary?: string;
  /** Workflow type of the child, e.g. `flightSaga`. */
  workflowType: string;
  /** Workflow id of the child: stable for the saga, so a retried parent finds it. */
  workflowId: string;
  /** Arguments of the child. */
  args: unknown[];
}

// A closed child's failure that still leaves something done: its own compensation failed.
function leftSomethingDone(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure) return (e.details?.[0] as { status?: string } | undefined)?.status === SagaStatus.COMPENSATION_FAILED;
  }
  return false;
}

/**
 * The parent side of child sagas. Create one per parent saga (it installs the ready signal's handler),
 * run each child with `saga.step(children.step({...}))`, and call {@link ChildSagas.commit} last in the
 * body. When the parent unwinds, each child that was started is told to compensate, and its end is
 * awaited; a child's own failure reaches the parent as a `ChildWorkflowFailure`.
 */
export class ChildSagas {
  private readonly handles = new Map<string, ChildWorkflowHandle<Workflow>>();
  private readonly ready = new Map<string, unknown>();
  private readonly closed = new Set<string>();

  constructor() {
    setHandler(childReadySignal, ({ workflowId, result }) => void this.ready.set(workflowId, result));
  }

  /** A step that starts the child and returns the result of its forward steps; its compensation asks the child to compensate. */
  step<R>(def: ChildSagaDefinition): StepDefinition<R> {
    const { workflowId } = def;
    const step: StepDefinition<R> = {
      name: def.name,
      run: async () => {
        // The parent's cancellation does not reach the child: the parent's unwinding tells it to compensate.
        // Started outside the parent's cancellation, so that its end stays observable while the parent
        // unwinds a cancellation (a handle of a cancelled scope stops waiting for an abandoned child).
        const handle = await CancellationScope.nonCancellable(() =>
          startChild(def.workflowType, {
            workflowId,
            args: def.args,
            cancellationType: ChildWorkflowCancellationType.ABANDON,
            parentClosePolicy: ParentClosePolicy.ABANDON,
          }),
        );
        this.handles.set(workflowId, handle);
        const closed = handle.result();
        closed.then(
          () => void this.closed.add(workflowId),
          () => void this.closed.add(workflowId),
        );
        await condition(() => this.ready.has(workflowId) || this.closed.has(workflowId));
        return (this.ready.has(workflowId) ? this.ready.get(workflowId) : await closed) as R;
      },
      compensate: {
        name: `compensate ${def.name}`,
        summary: `Compensate child saga ${workflowId}`,
        run: async () => {
          const handle = this.handles.get(workflowId);
          if (!handle) return;
          // A child still doing its forward steps asks for a decision once it is done: wait for that (or
          // for its end), so that it is never left waiting for a decision nobody will send.
          await condition(() => this.ready.has(workflowId) || this.closed.has(workflowId));
          if (!this.closed.has(workflowId)) await handle.signal(parentDecisionSignal, 'compensate');
          try {
            await handle.result();
          } catch (err) {
            // A child that failed on its own has undone itself already; only what it left done is ours.
            if (leftSomethingDone(err)) throw err;
            return;
          }
          // It completed: it committed (its deadline's default, or a commit sent before the parent
          // unwound) and its steps stand. Saying it was compensated would hide that from the operator.
          throw ApplicationFailure.create({
            type: ChildSagaFailureType.CommittedBeforeCompensation,
            message: `Child saga ${workflowId} had committed before it was asked to compensate: its steps stand`,
            nonRetryable: true,
          });
        },
      },
    };
    if (def.summary !== undefined) step.summary = def.summary;
    return step;
  }

  /** Tells every child that finished its forward steps to commit, and waits for each to close; a cancellation of the parent from then on no longer unwinds it. */
  async commit(): Promise<void> {
    // Once the parent has decided to commit, the decision is carried out whatever happens to the parent
    // next: a cancellation arriving now would unwind a parent whose children are committing, and could
    // leave them committed under a parent that reports itself undone.
    await CancellationScope.nonCancellable(() =>
      Promise.all(
        [...this.ready.keys()].map(async (workflowId) => {
          const handle = this.handles.get(workflowId)!;
          await handle.signal(parentDecisionSignal, 'commit');
          await handle.result();
        }),
      ),
    );
  }
}
