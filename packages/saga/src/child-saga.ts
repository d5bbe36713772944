// Child sagas: a step of a parent saga that is itself a saga in its own workflow. The child runs its
// forward steps, tells its parent it is done, and stays open until the parent decides: `commit` (it
// completes) or `compensate` (it unwinds through its own compensations). A child that hears nothing
// before its deadline follows the default it declared. Before it commits, the parent asks every child
// to hold (each stops its deadline and says so) and commits only once all of them held: a commit is
// all or nothing. Signals and conditions only: deterministic and replay-safe. Sandbox-safe: only
// @temporalio/workflow and @temporalio/common.

import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, type Duration } from '@temporalio/common';
import {
  CancellationScope,
  ChildWorkflowCancellationType,
  condition,
  defineSignal,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
  type SignalDefinition,
  type Workflow,
} from '@temporalio/workflow';
import { childEnd, closedBeforeCommit } from './child-outcome';
import type { StepDefinition } from './saga';

/** What a parent decides for a child saga that finished its forward steps. */
export type ParentDecision = 'commit' | 'compensate';

/** Sent by a child saga to its parent once its forward steps are done, with their result. */
export const childReadySignal = defineSignal<[{ workflowId: string; result: unknown }]>('sagaChildReady');

/** Sent by a parent saga to a child saga: keep what you did, or undo it. */
export const parentDecisionSignal = defineSignal<[ParentDecision]>('sagaParentDecision');

/** Sent by a parent saga about to commit to a ready child: stop your deadline and wait for my decision; answer to run `runId`. */
export const parentHoldSignal = defineSignal<[{ runId: string }]>('sagaParentHold');

/** Sent by a child saga to its parent once it holds: its deadline is off, it waits for the decision. */
export const childHeldSignal = defineSignal<[{ workflowId: string }]>('sagaChildHeld');

/** Failure types of child sagas. */
export const ChildSagaFailureType = {
  /** The child unwound because its parent asked it to (or its deadline's default was `compensate`). */
  CompensatedByParent: 'CompensatedByParent',
  /** A parent could not compensate a child that had already committed (its deadline's default was `commit`): its steps stand. */
  CommittedBeforeCompensation: 'CommittedBeforeCompensation',
  /** A parent did not commit its children because one of them had closed (its deadline passed) before it could be held: the parent unwinds instead. */
  ChildClosedBeforeCommit: 'ChildClosedBeforeCommit',
  /** A parent could not compensate a child ended from outside its code (terminated, timed out), or one an earlier run of the parent started: its steps may stand. */
  ChildNotUndone: 'ChildNotUndone',
  /** A parent run (after a reset or a retry) found its child already started by an earlier run, and cannot take it over: the step fails. */
  ChildNotAttached: 'ChildNotAttached',
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
 * failure, so `saga.run` unwinds the child. Asked by the parent to hold before its deadline passed,
 * it stops the deadline, says so, and waits for the decision however long it takes. Without a parent
 * it returns at once.
 */
export async function awaitParentDecision<T>(result: T, options: ParentDecisionOptions = {}): Promise<T> {
  const parent = workflowInfo().parent;
  if (!parent) return result;
  let decision: ParentDecision | undefined;
  let holdFor: string | undefined;
  setHandler(parentDecisionSignal, (d) => void (decision ??= d));
  setHandler(parentHoldSignal, ({ runId }) => void (holdFor ??= runId));
  await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(childReadySignal, { workflowId: workflowInfo().workflowId, result });
  const timeout = options.timeout ?? '1 day';
  const onTimeout = options.onTimeout ?? 'compensate';
  const deadline = typeof timeout === 'number' ? `${timeout} ms` : timeout;
  // The timer's summary and the failure's message say what decided: a history read later must tell a
  // parent's decision from the deadline's default.
  const decided = await condition(() => decision !== undefined || holdFor !== undefined, timeout, {
    summary: `Waiting up to ${deadline} for the parent saga's decision, else ${onTimeout}`,
  });
  if (decided && decision === undefined) {
    // Held: the parent is committing, and commits only once every child held. The deadline is off, so
    // that it cannot undo this child after the others committed. A hold that comes after the deadline
    // passed finds this child closing by its default, and the parent sees it close instead.
    await getExternalWorkflowHandle(parent.workflowId, holdFor).signal(childHeldSignal, { workflowId: workflowInfo().workflowId });
    await condition(() => decision !== undefined);
  }
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
  /** Workflow id of the child: stable for the saga, so a replay starts the same child. */
  workflowId: string;
  /** Arguments of the child. */
  args: unknown[];
}

// Histories recorded before commits held their children signalled `commit` to each at once; they
// replay so. Asked only when the parent commits.
const COMMIT_HOLD_PATCH = 'saga-child-commit-holds-first';

/**
 * The parent side of child sagas. Create one per parent saga (it installs the ready signal's handler),
 * run each child with `saga.step(children.step({...}))`, and call {@link ChildSagas.commit} last in the
 * body. When the parent unwinds, each child that was started is told to compensate, and its end is
 * awaited; a child's own failure reaches the parent as a `ChildWorkflowFailure`.
 */
export class ChildSagas {
  private readonly handles = new Map<string, ChildWorkflowHandle<Workflow>>();
  private readonly ready = new Map<string, unknown>();
  private readonly held = new Set<string>();
  private readonly closed = new Set<string>();
  private readonly ofEarlierRun = new Set<string>();

  constructor() {
    setHandler(childReadySignal, ({ workflowId, result }) => void this.ready.set(workflowId, result));
    setHandler(childHeldSignal, ({ workflowId }) => void this.held.add(workflowId));
  }

  // Signals a child unless it is closed. A signal refused because the child closed meanwhile
  // (`ExternalWorkflowExecutionNotFound`) is that close, seen a moment early: wait until its end is
  // known, so that the caller reads the child's result rather than the failed signal.
  private async tell<A extends unknown[]>(workflowId: string, signal: SignalDefinition<A>, ...args: A): Promise<void> {
    if (this.closed.has(workflowId)) return;
    try {
      await this.handles.get(workflowId)!.signal(signal, ...args);
    } catch {
      await condition(() => this.closed.has(workflowId));
    }
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
        let handle: ChildWorkflowHandle<Workflow>;
        try {
          handle = await CancellationScope.nonCancellable(() =>
            startChild(def.workflowType, {
              workflowId,
              args: def.args,
              cancellationType: ChildWorkflowCancellationType.ABANDON,
              parentClosePolicy: ParentClosePolicy.ABANDON,
            }),
          );
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          // A run reset to before the child started, or a retried run, meets the child of an earlier
          // run still open. A handle of another run cannot see that child close, so this run cannot
          // decide it: it fails the step, and its compensation says the child is not undone.
          this.ofEarlierRun.add(workflowId);
          throw ApplicationFailure.create({
            type: ChildSagaFailureType.ChildNotAttached,
            message: `Child saga ${workflowId} was started by an earlier run of this parent (a reset or a retry); this run cannot take it over`,
            nonRetryable: true,
            cause: err,
          });
        }
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
          if (this.ofEarlierRun.has(workflowId)) {
            throw ApplicationFailure.create({
              type: ChildSagaFailureType.ChildNotUndone,
              message: `Child saga ${workflowId} belongs to an earlier run of this parent and was not undone by this one: decide it by hand (signal sagaParentDecision)`,
              nonRetryable: true,
            });
          }
          if (!handle) return;
          // A child still doing its forward steps asks for a decision once it is done: wait for that (or
          // for its end), so that it is never left waiting for a decision nobody will send.
          await condition(() => this.ready.has(workflowId) || this.closed.has(workflowId));
          await this.tell(workflowId, parentDecisionSignal, 'compensate');
          try {
            await handle.result();
          } catch (err) {
            // A child that failed through its saga has undone itself already; only what it left done is ours.
            const end = childEnd(err);
            if (end === 'left-done') throw err;
            if (end === 'undone') return;
            // Terminated or timed out: no compensation of the child ran. Reporting it compensated would
            // hide from the operator whatever its steps left standing.
            throw ApplicationFailure.create({
              type: ChildSagaFailureType.ChildNotUndone,
              message: `Child saga ${workflowId} was terminated or timed out without undoing its steps: they may stand`,
              nonRetryable: true,
              cause: err instanceof Error ? err : undefined,
            });
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

  /**
   * Commits every child that finished its forward steps, all or none: first asks each to hold (stop
   * its deadline), then, once every one of them held, tells each to commit and waits for it to close.
   * When a child closed before it could be held (its deadline passed), none is told to commit and a
   * `ChildClosedBeforeCommit` failure is thrown, so that the parent unwinds and compensates the
   * others. A cancellation of the parent from here on no longer unwinds it.
   */
  async commit(): Promise<void> {
    // Once the parent has decided to commit, the decision is carried out whatever happens to the parent
    // next: a cancellation arriving now would unwind a parent whose children are committing, and could
    // leave them committed under a parent that reports itself undone.
    await CancellationScope.nonCancellable(async () => {
      const children = [...this.ready.keys()];
      if (patched(COMMIT_HOLD_PATCH)) {
        // Checking that every child is still open is not enough: a deadline may pass between the check
        // and the commit signal. A held child has no deadline any more, so once all held, none can
        // undo itself under the others' commit.
        const { runId } = workflowInfo();
        await Promise.all(children.map((workflowId) => this.tell(workflowId, parentHoldSignal, { runId })));
        await condition(() => children.every((workflowId) => this.held.has(workflowId) || this.closed.has(workflowId)));
        const closed = closedBeforeCommit(children, this.closed);
        if (closed.length > 0) {
          throw ApplicationFailure.create({
            type: ChildSagaFailureType.ChildClosedBeforeCommit,
            message: `Child saga${closed.length === 1 ? '' : 's'} ${closed.join(', ')} closed before the commit: committing none, undoing all`,
            nonRetryable: true,
            details: [{ closed }],
          });
        }
      }
      await Promise.all(
        children.map(async (workflowId) => {
          await this.tell(workflowId, parentDecisionSignal, 'commit');
          await this.handles.get(workflowId)!.result();
        }),
      );
    });
  }
}
