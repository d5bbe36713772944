// How a parent reads the end of a child saga, and whether it may commit its children: pure rules
// over Temporal's failure classes, apart from the signals and conditions of `child-saga.ts` so that
// they are tested without a server. Sandbox-safe: only @temporalio/common.

import { ApplicationFailure, ChildWorkflowFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { SagaStatus } from './types';

/**
 * What a closed child left behind, read from the failure its result was rejected with:
 * - `undone`: it failed through its saga, which unwound it (on its own or at the parent's request);
 * - `left-done`: its saga's unwinding itself failed (`COMPENSATION_FAILED`): something stands;
 * - `not-undone`: it was ended from outside its code (terminated, or a workflow run or execution
 *   timeout), so its compensations never ran and whatever its forward steps did stands.
 */
export type ChildEnd = 'undone' | 'left-done' | 'not-undone';

/** Reads a closed child's failure (as `handle.result()` rejects) as a {@link ChildEnd}. */
export function childEnd(err: unknown): ChildEnd {
  // Only the child's own end counts: a timeout deeper down (an activity of the child) is one of the
  // failures its saga handled, and reaches the parent wrapped in the saga's ApplicationFailure.
  if (err instanceof ChildWorkflowFailure && (err.cause instanceof TerminatedFailure || err.cause instanceof TimeoutFailure)) return 'not-undone';
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure) return (e.details?.[0] as { status?: string } | undefined)?.status === SagaStatus.COMPENSATION_FAILED ? 'left-done' : 'undone';
  }
  return 'undone';
}

/**
 * Reads the final status a child reported in its close signal (how a parent learns the end of a child
 * it attached to, whose `handle.result()` it does not have): `committed` when it completed, else the
 * {@link ChildEnd} its status means. A child whose saga failed after its pivot undid nothing.
 */
export function childEndOfStatus(status: SagaStatus): ChildEnd | 'committed' {
  if (status === SagaStatus.COMPLETED) return 'committed';
  if (status === SagaStatus.COMPENSATED || status === SagaStatus.CANCELLED) return 'undone';
  return 'left-done';
}

/**
 * The children a commit must not go on without: those of `ready` that have closed, in order. A child
 * known to have closed committed (`committed`: one an earlier run of the parent committed, or that
 * committed by its default, read from its close signal) is already what the commit asks of it.
 */
export function closedBeforeCommit(ready: readonly string[], closed: ReadonlySet<string>, committed: ReadonlySet<string> = new Set()): string[] {
  return ready.filter((workflowId) => closed.has(workflowId) && !committed.has(workflowId));
}
