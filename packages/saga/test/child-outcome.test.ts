import { describe, expect, it } from 'vitest';
import { ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { childEnd, childEndOfStatus, closedBeforeCommit } from '../src/child-outcome';

// How a parent reads a closed child saga's failure or the status an attached child reported, and the
// all-or-nothing rule of a commit.

const execution = { workflowId: 'trip-1/flight', runId: 'run-1' };
const childFailed = (cause: Error) => new ChildWorkflowFailure('default', execution, 'bookingSaga', 'NON_RETRYABLE_FAILURE', cause);
const sagaFailure = (status: string, cause?: Error) => ApplicationFailure.create({ type: 'PaymentDeclined', message: 'flight:pay failed', nonRetryable: true, details: [{ status }], cause });

describe('childEnd', () => {
  it('reads a child whose saga unwound (on its own or when asked) as undone', () => {
    expect(childEnd(childFailed(sagaFailure('COMPENSATED')))).toBe('undone');
    expect(childEnd(childFailed(ApplicationFailure.create({ type: 'CompensatedByParent', message: 'asked', nonRetryable: true, details: [{ status: 'COMPENSATED' }] })))).toBe('undone');
  });

  it('reads a child cancelled through its saga as undone', () => {
    expect(childEnd(childFailed(new CancelledFailure('cancelled')))).toBe('undone');
  });

  it('reads a child whose own unwinding failed as having left something done', () => {
    expect(childEnd(childFailed(sagaFailure('COMPENSATION_FAILED')))).toBe('left-done');
  });

  it('reads a terminated child as not undone: none of its compensations ran', () => {
    expect(childEnd(childFailed(new TerminatedFailure('stopped by hand')))).toBe('not-undone');
  });

  it('reads a child that timed out as a workflow as not undone', () => {
    expect(childEnd(childFailed(new TimeoutFailure('workflow timed out', undefined, 'START_TO_CLOSE')))).toBe('not-undone');
  });

  it('reads a child whose saga unwound after one of its activities timed out as undone, not as a timed-out child', () => {
    const activityTimedOut = new ActivityFailure('activity timed out', 'reserveSeat', '1', 'TIMEOUT', 'worker', new TimeoutFailure('timed out', undefined, 'START_TO_CLOSE'));
    expect(childEnd(childFailed(sagaFailure('COMPENSATED', activityTimedOut)))).toBe('undone');
  });
});

describe('childEndOfStatus', () => {
  it('reads a child that reported COMPLETED as committed: its steps stand', () => {
    expect(childEndOfStatus('COMPLETED')).toBe('committed');
  });

  it('reads a child that reported COMPENSATED or CANCELLED as undone', () => {
    expect(childEndOfStatus('COMPENSATED')).toBe('undone');
    expect(childEndOfStatus('CANCELLED')).toBe('undone');
  });

  it('reads a child whose unwinding failed, or that failed after its pivot, as having left something done', () => {
    expect(childEndOfStatus('COMPENSATION_FAILED')).toBe('left-done');
    expect(childEndOfStatus('FORWARD_FAILED')).toBe('left-done');
  });
});

describe('closedBeforeCommit', () => {
  it('names every ready child that has closed, in the order they became ready', () => {
    expect(closedBeforeCommit(['trip-1/flight', 'trip-1/hotel', 'trip-1/car'], new Set(['trip-1/car', 'trip-1/flight']))).toEqual(['trip-1/flight', 'trip-1/car']);
  });

  it('lets a commit go on past a child known to have closed committed, and stops it for one that closed otherwise', () => {
    expect(closedBeforeCommit(['trip-1/flight', 'trip-1/hotel'], new Set(['trip-1/flight', 'trip-1/hotel']), new Set(['trip-1/flight']))).toEqual(['trip-1/hotel']);
    expect(closedBeforeCommit(['trip-1/flight', 'trip-1/hotel'], new Set(['trip-1/flight']), new Set(['trip-1/flight']))).toEqual([]);
  });

  it('lets a commit go on when every ready child is still open', () => {
    expect(closedBeforeCommit(['trip-1/flight', 'trip-1/hotel'], new Set(['trip-1/train']))).toEqual([]);
  });
});
