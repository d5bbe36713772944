import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { parentDecisionSignal, sagaStateQuery, SagaStatus, skipCompensationUpdate, type SagaFailureDetails } from '@saga-temporal/saga';
import { temporal } from '@temporalio/proto';
import { recordHistory, uniqueTaskQueue } from '../helpers';
import { useFixtureWorker } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { releaseTripSignal, tripSaga, type TripInput } from '../fixtures/pattern-workflows';

// A trip whose child saga ends before the trip decides: its deadline passed before the trip commits,
// or someone terminated it. A commit is all or nothing, so the trip commits no child and unwinds; a
// terminated child never undid anything, so the trip cannot call it compensated and waits for an
// operator. A trip reset to its first workflow task while its children wait takes them over and
// decides them as its own. On the dev server: the time-skipping server does not tell a parent that its
// child was terminated, and the deadlines here are seconds of real time.

const recording = createPatternActivities();
const taskQueue = uniqueTaskQueue('saga-child-ended');
const fixture = useFixtureWorker({ server: 'dev-server', workflows: 'fixtures/pattern-workflows.ts', taskQueue, activities: recording.activities });

function start(input: Omit<TripInput, 'tripId'>, name: string) {
  const workflowId = uniqueTaskQueue(name);
  return fixture.env.client.workflow.start(tripSaga, { taskQueue, workflowId, args: [{ ...input, tripId: workflowId }] });
}
const child = (parent: WorkflowHandle, kind: string) => fixture.env.client.workflow.getHandle(`${parent.workflowId}/${kind}`);
const undone = (parent: WorkflowHandle, kind: string) => recording.logOf(`${parent.workflowId}/${kind}`).filter((e) => e.startsWith('undo:'));

async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const error = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause as ApplicationFailure;
}

describe('a trip whose child saga ended before the trip decided', () => {
  it('commits no child when one closed before the commit because its deadline passed, and unwinds, undoing the other', async () => {
    // The flight waits 2 s for the trip's decision, the hotel an hour; the trip takes 5 s before it
    // commits, so the flight has undone itself by then.
    const handle = await start({ decisionTimeouts: { flight: '2 seconds', hotel: '1 hour' }, commitAfter: '5 seconds' }, 'trip-child-closed');
    const failure = await failureOf(handle);
    expect(failure.type).toBe('ChildClosedBeforeCommit');
    expect(failure.message).toBe(`Child saga ${handle.workflowId}/flight closed before the commit: committing none, undoing all`);
    const details = failure.details?.[0] as SagaFailureDetails;
    expect(details.status).toBe(SagaStatus.COMPENSATED);
    expect(details.compensated).toEqual(['itinerary', 'hotel', 'flight']);
    expect(details.compensationFailures).toEqual([]);
    for (const kind of ['flight', 'hotel']) {
      expect((await child(handle, kind).describe()).status.name).toBe('FAILED');
      expect(undone(handle, kind)).toEqual([`undo:${kind}:pay`, `undo:${kind}:reserve`]);
    }
    expect((await failureOf(child(handle, 'flight'))).message).toBe('No decision came from the parent saga within 2 seconds: compensating, as declared');
    expect((await failureOf(child(handle, 'hotel'))).message).toBe('The parent saga asked this saga to compensate');
    await recordHistory(handle, 'patterns/child', 'trip-child-closed-before-commit');
  }, 60_000);

  it('reports a terminated child as not undone and waits for an operator, never as compensated', async () => {
    const handle = await start({ after: 'block', awaitOperator: true }, 'trip-child-terminated');
    await waitUntil(() => recording.logOf(handle.workflowId).includes('do:itinerary'), 30_000);
    await child(handle, 'flight').terminate('stopped by hand');
    await handle.cancel();

    await waitUntil(async () => (await handle.query(sagaStateQuery)).status === SagaStatus.COMPENSATION_FAILED, 30_000);
    const state = await handle.query(sagaStateQuery);
    expect(state.compensationFailures.map(({ step, type }) => ({ step, type }))).toEqual([{ step: 'flight', type: 'ChildNotUndone' }]);
    expect(state.steps.map((s) => [s.name, s.status])).toEqual([
      ['flight', 'compensation-failed'],
      ['hotel', 'compensated'],
      ['itinerary', 'compensated'],
    ]);
    // The flight's compensations never ran: what it booked stands until someone undoes it.
    expect(undone(handle, 'flight')).toEqual([]);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    await handle.executeUpdate(skipCompensationUpdate, { args: [{ step: 'flight', reason: 'seat and payment released by hand' }] });
    await handle.result().catch(() => undefined);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    await recordHistory(handle, 'patterns/child', 'trip-child-terminated');
  }, 60_000);
});

// Resets the trip to its first workflow task, the way an operator resets a saga: the new run starts
// the flight again and meets the child of the first run. By default the signals the first run
// received after that task (its children's ready results and ends) are delivered to the new run again;
// `withoutSignals` keeps them from it.
async function resetToFirstTask(handle: WorkflowHandle, { withoutSignals = false } = {}): Promise<WorkflowHandle> {
  const { runId } = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  const firstTask = events.find((e) => e.workflowTaskCompletedEventAttributes)!;
  const reset = await fixture.env.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: handle.workflowId, runId },
    workflowTaskFinishEventId: firstTask.eventId,
    reason: 'test: reset to the first workflow task',
    requestId: randomUUID(),
    ...(withoutSignals ? { resetReapplyExcludeTypes: [temporal.api.enums.v1.ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL] } : {}),
  });
  return fixture.env.client.workflow.getHandle(handle.workflowId, reset.runId!);
}

const booked = (parent: WorkflowHandle, kind: string) => recording.logOf(`${parent.workflowId}/${kind}`).filter((e) => e.startsWith('do:'));
const bothReady = async (handle: WorkflowHandle) => (await handle.query(sagaStateQuery)).steps.filter((s) => s.status === 'done').length === 2;

describe('a trip reset to its first workflow task while its children wait for its decision', () => {
  it('attaches to both children of the earlier run, commits each once and completes, booking nothing twice', async () => {
    const handle = await start({ awaitRelease: true }, 'trip-reset-commit');
    await waitUntil(() => bothReady(handle), 30_000);
    const rerun = await resetToFirstTask(handle);
    await rerun.signal(releaseTripSignal);

    expect(await rerun.result()).toEqual(['flight-booked', 'hotel-booked']);
    const state = await rerun.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPLETED);
    expect(state.compensationFailures).toEqual([]);
    for (const kind of ['flight', 'hotel']) {
      expect((await child(handle, kind).describe()).status.name).toBe('COMPLETED');
      expect(await child(handle, kind).result()).toBe(`${kind}-booked`);
      // Reserved and paid once, by the child the first run started; nothing undone.
      expect(booked(handle, kind)).toEqual([`do:${kind}:reserve`, `do:${kind}:pay`]);
      expect(undone(handle, kind)).toEqual([]);
    }
    await recordHistory(rerun, 'patterns/child', 'trip-reset-attached-committed');
    // The flight's own history: attached by the new run of its parent, then committed.
    await recordHistory(child(handle, 'flight'), 'patterns/child', 'flight-attached-committed');
  }, 60_000);

  it('tells both attached children to compensate when a later step of the new run fails, and ends compensated', async () => {
    const handle = await start({ awaitRelease: true, after: 'fail' }, 'trip-reset-fail');
    await waitUntil(() => bothReady(handle), 30_000);
    const rerun = await resetToFirstTask(handle);
    await rerun.signal(releaseTripSignal);

    const failure = await failureOf(rerun);
    expect(failure.type).toBe('PaymentDeclined');
    const details = failure.details?.[0] as SagaFailureDetails;
    expect(details.status).toBe(SagaStatus.COMPENSATED);
    expect(details.compensated).toEqual(['itinerary', 'hotel', 'flight']);
    expect(details.compensationFailures).toEqual([]);
    for (const kind of ['flight', 'hotel']) {
      expect((await failureOf(child(handle, kind))).message).toBe('The parent saga asked this saga to compensate');
      expect(booked(handle, kind)).toEqual([`do:${kind}:reserve`, `do:${kind}:pay`]);
      expect(undone(handle, kind)).toEqual([`undo:${kind}:pay`, `undo:${kind}:reserve`]);
    }
    await recordHistory(rerun, 'patterns/child', 'trip-reset-attached-compensated');
  }, 60_000);

  it('reads a child that closed before the reset (its deadline passed) as closed: commits nothing and compensates the other', async () => {
    const handle = await start({ awaitRelease: true, decisionTimeouts: { flight: '2 seconds', hotel: '1 hour' } }, 'trip-reset-closed');
    await waitUntil(() => bothReady(handle), 30_000);
    await waitUntil(async () => (await child(handle, 'flight').describe()).status.name === 'FAILED', 30_000);
    const rerun = await resetToFirstTask(handle);
    await rerun.signal(releaseTripSignal);

    const failure = await failureOf(rerun);
    expect(failure.type).toBe('ChildClosedBeforeCommit');
    const details = failure.details?.[0] as SagaFailureDetails;
    expect(details.status).toBe(SagaStatus.COMPENSATED);
    expect(details.compensated).toEqual(['itinerary', 'hotel', 'flight']);
    expect(details.compensationFailures).toEqual([]);
    expect((await failureOf(child(handle, 'flight'))).message).toBe('No decision came from the parent saga within 2 seconds: compensating, as declared');
    expect((await failureOf(child(handle, 'hotel'))).message).toBe('The parent saga asked this saga to compensate');
    for (const kind of ['flight', 'hotel']) {
      // The closed flight was not started again: one booking each, undone once.
      expect(booked(handle, kind)).toEqual([`do:${kind}:reserve`, `do:${kind}:pay`]);
      expect(undone(handle, kind)).toEqual([`undo:${kind}:pay`, `undo:${kind}:reserve`]);
    }
    await recordHistory(rerun, 'patterns/child', 'trip-reset-attached-child-closed');
  }, 60_000);

  it('attaches to children the earlier run committed, and completes again without booking or undoing anything', async () => {
    const handle = await start({}, 'trip-reset-after-commit');
    expect(await handle.result()).toEqual(['flight-booked', 'hotel-booked']);
    const rerun = await resetToFirstTask(handle);

    expect(await rerun.result()).toEqual(['flight-booked', 'hotel-booked']);
    const state = await rerun.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPLETED);
    expect(state.compensationFailures).toEqual([]);
    for (const kind of ['flight', 'hotel']) {
      expect((await child(handle, kind).describe()).status.name).toBe('COMPLETED');
      expect(booked(handle, kind)).toEqual([`do:${kind}:reserve`, `do:${kind}:pay`]);
      expect(undone(handle, kind)).toEqual([]);
    }
    await recordHistory(rerun, 'patterns/child', 'trip-reset-after-commit');
  }, 60_000);

  it('fails the child step and reports the child not undone when it closed before the reset and none of its signals reached the new run', async () => {
    const handle = await start({ awaitRelease: true, awaitOperator: true, decisionTimeouts: { flight: '2 seconds', hotel: '1 hour' } }, 'trip-reset-unknown');
    await waitUntil(() => bothReady(handle), 30_000);
    await waitUntil(async () => (await child(handle, 'flight').describe()).status.name === 'FAILED', 30_000);
    const rerun = await resetToFirstTask(handle, { withoutSignals: true });

    await waitUntil(async () => (await rerun.query(sagaStateQuery)).status === SagaStatus.COMPENSATION_FAILED, 30_000);
    const state = await rerun.query(sagaStateQuery);
    expect(state.failure?.type).toBe('ChildNotAttached');
    // The flight did undo itself, but how it ended never reached this run: it cannot say so.
    expect(state.compensationFailures.map(({ step, type }) => ({ step, type }))).toEqual([{ step: 'flight', type: 'ChildNotUndone' }]);
    expect(booked(handle, 'flight')).toEqual(['do:flight:reserve', 'do:flight:pay']);
    await recordHistory(rerun, 'patterns/child', 'trip-reset-child-not-attached-closed');
    await child(handle, 'hotel').signal(parentDecisionSignal, 'compensate');
    await rerun.terminate('test over');
  }, 60_000);
});
