// Child sagas: a step of a parent saga that is itself a saga in its own workflow. The child runs its
// forward steps, tells its parent it is done, and stays open until the parent decides: `commit` (it
// completes) or `compensate` (it unwinds through its own compensations). A child that hears nothing
// before its deadline follows the default it declared. Before it commits, the parent asks every child
// to hold (each stops its deadline and says so) and commits only once all of them held: a commit is
// all or nothing. A parent run that meets a child an earlier run started (after a reset or a retry)
// attaches to it: the child answers that run from then on and tells it how it ended. Signals and
// conditions only: deterministic and replay-safe. Sandbox-safe: only @temporalio/workflow and
// @temporalio/common.

import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Duration } from '@temporalio/common';
import {
  allHandlersFinished,
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
import { childEnd, childEndOfStatus, closedBeforeCommit } from './child-outcome';
import type { StepDefinition } from './saga';
import { SagaStatus, type SagaState } from './types';

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

/** Sent by a parent run to a child an earlier run of it started (after a reset or a retry): answer to run `runId` of workflow `workflowId` from now on. */
export const parentAttachSignal = defineSignal<[{ workflowId: string; runId: string }]>('sagaParentAttach');

/** How a child saga ended, as it tells its parent in {@link childClosedSignal}. */
export interface ChildClosed {
  workflowId: string;
  /** The child saga's final status. */
  status: SagaStatus;
  /** The failure the child saga ended with, when it did not complete. */
  failure?: { message: string; type?: string };
}

/** Sent by a child saga to its parent once its saga settled (see {@link reportToParent}): how a parent that attached to it learns its end. */
export const childClosedSignal = defineSignal<[ChildClosed]>('sagaChildClosed');

/** Failure types of child sagas. */
export const ChildSagaFailureType = {
  /** The child unwound because its parent asked it to (or its deadline's default was `compensate`). */
  CompensatedByParent: 'CompensatedByParent',
  /** A parent could not compensate a child that had already committed (its deadline's default was `commit`): its steps stand. */
  CommittedBeforeCompensation: 'CommittedBeforeCompensation',
  /** A parent did not commit its children because one of them had closed (its deadline passed) before it could be held: the parent unwinds instead. */
  ChildClosedBeforeCommit: 'ChildClosedBeforeCommit',
  /** A parent could not compensate a child ended from outside its code (terminated, timed out), or one of an earlier run that closed before this run could attach to it and whose end never reached this run: its steps may stand. */
  ChildNotUndone: 'ChildNotUndone',
  /**
   * A parent run (after a reset or a retry) found its child already started by an earlier run and could
   * not take it over: the child had closed before this run attached to it, and neither its result nor
   * how it ended reached this run. The step fails. (Before the patch `saga-child-attach`, every child of
   * an earlier run was reported so.)
   */
  ChildNotAttached: 'ChildNotAttached',
} as const;

/** Options of {@link awaitParentDecision}. */
export interface ParentDecisionOptions {
  /** How long to wait for the parent's decision. @default '1 day' */
  timeout?: Duration;
  /** What to do when no decision came in time. @default 'compensate' */
  onTimeout?: ParentDecision;
}

// Child sagas that closed without telling their parent, and ignored a parent run's attach, replay so.
// Asked when a child is attached to and when its saga settles, so a child of an earlier release that
// meets neither records no marker.
const ATTACH_PATCH = 'saga-child-attach';
const CLOSE_PATCH = 'saga-child-reports-close';

// The parent run this child answers to, and what it told its parent so far, re-sent to a run that
// attaches. Module state is this workflow's own: the SDK gives every workflow execution its own
// instance of the bundle's modules.
const link: {
  parent?: { workflowId: string; runId?: string };
  ready?: { workflowId: string; result: unknown };
  held?: boolean;
  closed?: ChildClosed;
} = {};

function signalParent<A extends unknown[]>(signal: SignalDefinition<A>, ...args: A): Promise<void> {
  return getExternalWorkflowHandle(link.parent!.workflowId, link.parent!.runId).signal(signal, ...args);
}

// Installed when the child first talks to its parent: an attach that came while it was still going
// forward waits in the buffer until then, and `setHandler` hands it over at once, before anything is sent.
function listenForAttach(parent: { workflowId: string; runId?: string }): void {
  if (link.parent) return;
  link.parent = parent;
  setHandler(parentAttachSignal, async ({ workflowId, runId }) => {
    if (!patched(ATTACH_PATCH)) return;
    link.parent = { workflowId, runId };
    // The attaching run knows nothing of what the earlier run heard.
    const resend = async (): Promise<void> => {
      if (link.ready) await signalParent(childReadySignal, link.ready);
      if (link.held) await signalParent(childHeldSignal, { workflowId: workflowInfo().workflowId });
      if (link.closed) await signalParent(childClosedSignal, link.closed);
    };
    // A run that closed meanwhile has nobody to tell: a run after it attaches again.
    await resend().catch(() => undefined);
  });
}

/**
 * Pass as `onSettled` of a child saga's `Saga`: once its status is final, tells the parent run it
 * answers to how it ended (`sagaChildClosed`). A parent run that attached to the child after a reset
 * or a retry has no handle on it and learns its end only so: a child saga without it can be started
 * and decided as before, but a parent run that attaches to it waits for its end forever. A parent that
 * closed meanwhile is not told. Without a parent it does nothing.
 */
export async function reportToParent(state: SagaState): Promise<void> {
  const parent = workflowInfo().parent;
  if (!parent || !patched(CLOSE_PATCH)) return;
  listenForAttach(parent);
  link.closed = { workflowId: workflowInfo().workflowId, status: state.status };
  if (state.failure) link.closed.failure = state.failure.type === undefined ? { message: state.failure.message } : { message: state.failure.message, type: state.failure.type };
  await signalParent(childClosedSignal, link.closed).catch(() => undefined);
  // An attach that came meanwhile re-sends the end to its run: let it go out before the child closes.
  await condition(allHandlersFinished);
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
  listenForAttach(parent);
  link.ready = { workflowId: workflowInfo().workflowId, result };
  // A parent run that closed (a reset, or a run retried) cannot hear it: a run that takes over attaches
  // and is told again, and with nobody to decide, the deadline does. Children recorded before the
  // attach unwound at once (the signal's failure reached their saga); they replay so.
  await signalParent(childReadySignal, link.ready).catch((err: unknown) => {
    if (!patched(ATTACH_PATCH)) throw err;
  });
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
    link.held = true;
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

function committedBeforeCompensation(workflowId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: ChildSagaFailureType.CommittedBeforeCompensation,
    message: `Child saga ${workflowId} had committed before it was asked to compensate: its steps stand`,
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

// A child that closed with a failure, as an attached parent reads it from the child's close signal:
// the child's own failure type, and its status as the first detail (as the saga's failures carry it).
function closedChildFailure(workflowId: string, end: ChildClosed): ApplicationFailure {
  return ApplicationFailure.create({
    type: end.failure?.type ?? end.status,
    message: `Child saga ${workflowId} ended ${end.status}${end.failure ? `: ${end.failure.message}` : ''}`,
    nonRetryable: true,
    details: [{ status: end.status }],
  });
}

/**
 * The parent side of child sagas. Create one per parent saga (it installs the ready signal's handler),
 * run each child with `saga.step(children.step({...}))`, and call {@link ChildSagas.commit} last in the
 * body. When the parent unwinds, each child that was started is told to compensate, and its end is
 * awaited; a child's own failure reaches the parent as a `ChildWorkflowFailure`. A run that meets a
 * child an earlier run of it started (after a reset or a retry) attaches to it and decides it as its
 * own; the child must report its end with {@link reportToParent}.
 */
export class ChildSagas {
  private readonly handles = new Map<string, ChildWorkflowHandle<Workflow>>();
  private readonly ready = new Map<string, unknown>();
  private readonly held = new Set<string>();
  private readonly closed = new Set<string>();
  private readonly ofEarlierRun = new Set<string>();
  private readonly attached = new Set<string>();
  private readonly ends = new Map<string, ChildClosed>();

  constructor() {
    setHandler(childReadySignal, ({ workflowId, result }) => void this.ready.set(workflowId, result));
    setHandler(childHeldSignal, ({ workflowId }) => void this.held.add(workflowId));
    // Only an attached child's end is read from its signal; a child this run started is read from its handle, as before.
    setHandler(childClosedSignal, (end) => {
      this.ends.set(end.workflowId, end);
      if (this.attached.has(end.workflowId)) this.closed.add(end.workflowId);
    });
  }

  // Signals a child unless it is closed. A signal refused because the child closed meanwhile
  // (`ExternalWorkflowExecutionNotFound`) is that close, seen a moment early: wait until its end is
  // known, so that the caller reads the child's result rather than the failed signal. An attached
  // child sends its end before it closes, so one that refuses a signal without having sent it to
  // this run closed before the attach: it is closed, its end unknown.
  private async tell<A extends unknown[]>(workflowId: string, signal: SignalDefinition<A>, ...args: A): Promise<void> {
    if (this.closed.has(workflowId)) return;
    try {
      await (this.handles.get(workflowId) ?? getExternalWorkflowHandle(workflowId)).signal(signal, ...args);
    } catch {
      if (this.attached.has(workflowId)) this.closed.add(workflowId);
      await condition(() => this.closed.has(workflowId));
    }
  }

  // Takes over a child an earlier run of this parent started: tells it to answer this run from now on
  // (it re-sends its ready result, and its held answer if it holds), then waits for its result as for
  // a child this run started. Signals the earlier run received after the point a reset went back to
  // are delivered to this run again, so a child that closed before the attach may still be read.
  private async attach<R>(workflowId: string, cause: WorkflowExecutionAlreadyStartedError): Promise<R> {
    this.attached.add(workflowId);
    if (this.ends.has(workflowId)) this.closed.add(workflowId);
    const { workflowId: parentId, runId } = workflowInfo();
    await this.tell(workflowId, parentAttachSignal, { workflowId: parentId, runId });
    await condition(() => this.ready.has(workflowId) || this.closed.has(workflowId));
    if (this.ready.has(workflowId)) return this.ready.get(workflowId) as R;
    const end = this.ends.get(workflowId);
    // It failed on its own before it was ready: it undid itself, as a started child's failure says.
    if (end && end.status !== SagaStatus.COMPLETED) throw closedChildFailure(workflowId, end);
    throw ApplicationFailure.create({
      type: ChildSagaFailureType.ChildNotAttached,
      message: `Child saga ${workflowId} was started by an earlier run of this parent and closed before this run could attach to it; its result never reached this run`,
      nonRetryable: true,
      cause,
    });
  }

  // How an attached child ended, once it closed. One that closed before the attach without its end
  // reaching this run may have left anything standing: reporting it undone would hide that.
  private async endOfAttached(workflowId: string): Promise<ChildClosed> {
    await condition(() => this.closed.has(workflowId));
    const end = this.ends.get(workflowId);
    if (end) return end;
    throw ApplicationFailure.create({
      type: ChildSagaFailureType.ChildNotUndone,
      message: `Child saga ${workflowId} closed before this run of its parent attached to it, and how it ended never reached this run: its steps may stand`,
      nonRetryable: true,
    });
  }

  // The compensation of an attached child: as for a started one, with the end read from its close signal.
  private async compensateAttached(workflowId: string): Promise<void> {
    await condition(() => this.ready.has(workflowId) || this.closed.has(workflowId));
    await this.tell(workflowId, parentDecisionSignal, 'compensate');
    const end = await this.endOfAttached(workflowId);
    const outcome = childEndOfStatus(end.status);
    if (outcome === 'undone') return;
    if (outcome === 'committed') throw committedBeforeCompensation(workflowId);
    throw closedChildFailure(workflowId, end);
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
        // Histories recorded before attaching failed the step on a child of an earlier run, and let a
        // re-run start a fresh child over a closed one; they replay so.
        const attaching = patched(ATTACH_PATCH);
        try {
          handle = await CancellationScope.nonCancellable(() =>
            startChild(def.workflowType, {
              workflowId,
              args: def.args,
              cancellationType: ChildWorkflowCancellationType.ABANDON,
              parentClosePolicy: ParentClosePolicy.ABANDON,
              // A re-run must never start a second child (a new saga id, new keys: booked twice) over
              // one an earlier run started and that has closed since: it reads that one instead.
              ...(attaching ? { workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE } : {}),
            }),
          );
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          // A run reset to before the child started, or a retried run, meets the child of an earlier run.
          if (attaching) return this.attach<R>(workflowId, err);
          // Before attaching: a handle of another run cannot see that child close, so this run could not
          // decide it; it fails the step, and its compensation says the child is not undone.
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
          if (this.attached.has(workflowId)) return this.compensateAttached(workflowId);
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
          throw committedBeforeCompensation(workflowId);
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
        // An attached child that ended committed (the earlier run committed it: a reset after the
        // commit) joins the commit. A started child's end is read from its handle, which says only
        // that it closed: the rule for it stays as it was.
        const committed = new Set(children.filter((workflowId) => this.attached.has(workflowId) && this.ends.get(workflowId)?.status === SagaStatus.COMPLETED));
        const closed = closedBeforeCommit(children, this.closed, committed);
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
          if (!this.attached.has(workflowId)) return void (await this.handles.get(workflowId)!.result());
          const end = await this.endOfAttached(workflowId);
          if (end.status !== SagaStatus.COMPLETED) throw closedChildFailure(workflowId, end);
        }),
      );
    });
  }
}
