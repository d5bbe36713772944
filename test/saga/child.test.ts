import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure, ChildWorkflowFailure } from '@temporalio/common';
import { ChildSagaFailureType, sagaStateQuery, SagaStatus, type SagaFailureDetails } from '@saga-temporal/saga';
import { recordHistory, uniqueTaskQueue } from '../helpers';
import { useFixtureWorker } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { bookingSaga, tripSaga, type TripInput } from '../fixtures/pattern-workflows';

// Child sagas on the time-skipping server: a trip books a flight saga and a hotel saga, each in its
// own workflow that waits for the trip's decision once its steps are done. The trip commits them when
// it completes; when it unwinds (a child failing, its own step failing, a cancellation) it asks every
// started child to compensate, and each undoes itself through its own compensations.

const recording = createPatternActivities();
const taskQueue = uniqueTaskQueue('saga-child');
const fixture = useFixtureWorker({ workflows: 'fixtures/pattern-workflows.ts', taskQueue, activities: recording.activities });

function start(input: Omit<TripInput, 'tripId'>, name: string) {
  const workflowId = uniqueTaskQueue(name);
  return fixture.env.client.workflow.start(tripSaga, { taskQueue, workflowId, args: [{ ...input, tripId: workflowId }] });
}
const child = (parent: WorkflowHandle, kind: string) => fixture.env.client.workflow.getHandle(`${parent.workflowId}/${kind}`);
const undone = (parent: WorkflowHandle, kind: string) => recording.logOf(`${parent.workflowId}/${kind}`).filter((e) => e.startsWith('undo:'));

async function failureOf(handle: WorkflowHandle): Promise<Error> {
  const error = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return (error as WorkflowFailedError).cause as Error;
}

describe('a trip with child sagas', () => {
  it('commits both children when it completes; each child names the trip as its parent', async () => {
    const handle = await start({}, 'trip-ok');
    expect(await handle.result()).toEqual(['flight-booked', 'hotel-booked']);
    // Each child was asked to hold and said it held before it was told to commit.
    const signals = ((await handle.fetchHistory()).events ?? []).flatMap((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? []);
    expect(signals.filter((name) => name === 'sagaChildHeld')).toHaveLength(2);
    for (const kind of ['flight', 'hotel']) {
      const description = await child(handle, kind).describe();
      expect(description.status.name).toBe('COMPLETED');
      expect(description.parentExecution?.workflowId).toBe(handle.workflowId);
      expect(description.parentExecution?.runId).toBe((await handle.describe()).runId);
      expect(undone(handle, kind)).toEqual([]);
    }
    await recordHistory(handle, 'patterns/child', 'trip-committed-held');
    // The flight's own history: a child that held, committed and reported its end to the trip.
    await recordHistory(child(handle, 'flight'), 'patterns/child', 'flight-committed');
  });

  it('receives a failing child as a typed failure and compensates the child that completed', async () => {
    const handle = await start({ hotel: 'fail' }, 'trip-child-fails');
    const failure = (await failureOf(handle)) as ApplicationFailure;
    expect(failure.type).toBe('PaymentDeclined');
    expect(failure.message).toMatch(/^hotel failed: /);
    expect(failure.cause).toBeInstanceOf(ChildWorkflowFailure);
    expect((failure.details?.[0] as SagaFailureDetails).compensated).toEqual(['hotel', 'flight']);
    // The hotel undid itself; the flight undid itself when the trip told it to.
    expect(undone(handle, 'hotel')).toEqual(['undo:hotel:pay', 'undo:hotel:reserve']);
    expect(undone(handle, 'flight')).toEqual(['undo:flight:pay', 'undo:flight:reserve']);
    const flight = await failureOf(child(handle, 'flight'));
    expect((flight as ApplicationFailure).type).toBe(ChildSagaFailureType.CompensatedByParent);
    expect((await child(handle, 'flight').query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
    await recordHistory(handle, 'patterns/child', 'trip-child-failed');
  });

  it('compensates both completed children when its own later step fails', async () => {
    const handle = await start({ after: 'fail' }, 'trip-parent-fails');
    const failure = (await failureOf(handle)) as ApplicationFailure;
    expect(failure.message).toMatch(/^itinerary failed: /);
    expect((failure.details?.[0] as SagaFailureDetails).compensated).toEqual(['itinerary', 'hotel', 'flight']);
    for (const kind of ['flight', 'hotel']) {
      expect(undone(handle, kind)).toEqual([`undo:${kind}:pay`, `undo:${kind}:reserve`]);
      expect((await child(handle, kind).describe()).status.name).toBe('FAILED');
    }
    await recordHistory(handle, 'patterns/child', 'trip-parent-failed');
  });

  it('compensates its children when it is cancelled, and ends cancelled', async () => {
    const handle = await start({ after: 'block' }, 'trip-cancelled');
    await waitUntil(() => recording.logOf(handle.workflowId).includes('do:itinerary'));
    await handle.cancel();
    await failureOf(handle);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    for (const kind of ['flight', 'hotel']) expect(undone(handle, kind)).toEqual([`undo:${kind}:pay`, `undo:${kind}:reserve`]);
    await recordHistory(handle, 'patterns/child', 'trip-cancelled');
  });
});

describe('a child saga started on its own', () => {
  it('returns at once when started without a parent', async () => {
    const handle = await fixture.env.client.workflow.start(bookingSaga, { taskQueue, workflowId: uniqueTaskQueue('booking-alone'), args: [{ kind: 'car' }] });
    expect(await handle.result()).toBe('car-booked');
  });
});
