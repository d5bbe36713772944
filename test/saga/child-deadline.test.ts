import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { ChildSagaFailureType, SagaFailureType, sagaStateQuery, SagaStatus, StepStatus, type ParentDecision, type SagaFailureDetails } from '@saga-temporal/saga';
import { uniqueTaskQueue } from '../helpers';
import { applicationFailureOf, useFixtureWorker } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { undecidedParentSaga } from '../fixtures/pattern-workflows';

// A child saga whose parent never decides: the parent books a flight and a hotel child saga and is
// terminated once both reported ready. Each child waits out its deadline and follows the default it
// declared; its history says the deadline decided (the timer fired, its summary names the wait, no
// decision signal came) and so does its failure when the default is to compensate. And a parent that
// is still there when its children committed by their default, and then unwinds: it cannot undo them,
// and says so. On the dev server with a deadline of seconds: on the time-skipping server the children
// whose default is `commit` never closed once their parent was stopped (the compensating ones did),
// and the test timed out waiting for them.

const recording = createPatternActivities();
const taskQueue = uniqueTaskQueue('saga-child-deadline');
const fixture = useFixtureWorker({ server: 'dev-server', workflows: 'fixtures/pattern-workflows.ts', taskQueue, activities: recording.activities });
const DEADLINE = '5 seconds';
const kinds = ['flight', 'hotel'] as const;

// Starts a parent that never decides and waits until both its children reported ready.
async function parentWithReadyChildren(onTimeout: ParentDecision): Promise<WorkflowHandle> {
  const workflowId = uniqueTaskQueue(`undecided-parent-${onTimeout}`);
  const parent = await fixture.env.client.workflow.start(undecidedParentSaga, { taskQueue, workflowId, args: [{ tripId: workflowId, onTimeout, decisionTimeout: DEADLINE }] });
  // A child step is done once its child reported ready with its result.
  await waitUntil(async () => (await parent.query(sagaStateQuery)).steps.filter((s) => s.status === StepStatus.DONE).length === kinds.length, 30_000);
  return parent;
}

async function parentVanishes(onTimeout: ParentDecision): Promise<WorkflowHandle> {
  const parent = await parentWithReadyChildren(onTimeout);
  await parent.terminate('the parent vanishes before it decides');
  expect((await parent.describe()).status.name).toBe('TERMINATED');
  return parent;
}

const child = (parent: WorkflowHandle, kind: string) => fixture.env.client.workflow.getHandle(`${parent.workflowId}/${kind}`);
const undone = (parent: WorkflowHandle, kind: string) => recording.logOf(`${parent.workflowId}/${kind}`).filter((e) => e.startsWith('undo:'));

// What the child's history says about its wait: the timer's summary, whether it fired, and the signals it got.
async function waitInHistory(handle: WorkflowHandle) {
  const events = (await handle.fetchHistory()).events ?? [];
  const started = events.filter((e) => e.timerStartedEventAttributes);
  return {
    timerSummaries: started.map((e) => (e.userMetadata?.summary?.data ? (JSON.parse(Buffer.from(e.userMetadata.summary.data).toString()) as string) : undefined)),
    timersFired: events.filter((e) => e.timerFiredEventAttributes).length,
    signals: events.map((e) => e.workflowExecutionSignaledEventAttributes?.signalName).filter((name) => name !== undefined),
  };
}

describe('a child saga whose parent never decides', () => {
  it('compensates when its deadline passes and its declared default is compensate, and says the deadline decided', async () => {
    const parent = await parentVanishes('compensate');
    for (const kind of kinds) {
      const handle = child(parent, kind);
      const error = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const failure = (error as WorkflowFailedError).cause as ApplicationFailure;
      expect(failure.type).toBe(ChildSagaFailureType.CompensatedByParent);
      expect(failure.message).toBe(`No decision came from the parent saga within ${DEADLINE}: compensating, as declared`);
      expect(undone(parent, kind)).toEqual([`undo:${kind}:pay`, `undo:${kind}:reserve`]);
      const state = await handle.query(sagaStateQuery);
      expect(state.status).toBe(SagaStatus.COMPENSATED);
      expect(state.failure?.message).toBe(failure.message);
      expect(await waitInHistory(handle)).toEqual({ timerSummaries: [`Waiting up to ${DEADLINE} for the parent saga's decision, else compensate`], timersFired: 1, signals: [] });
    }
  });

  it('completes, keeping its steps, when its deadline passes and its declared default is commit', async () => {
    const parent = await parentVanishes('commit');
    for (const kind of kinds) {
      const handle = child(parent, kind);
      expect(await handle.result()).toBe(`${kind}-booked`);
      expect((await handle.describe()).status.name).toBe('COMPLETED');
      expect(undone(parent, kind)).toEqual([]);
      expect((await handle.query(sagaStateQuery)).status).toBe(SagaStatus.COMPLETED);
      expect(await waitInHistory(handle)).toEqual({ timerSummaries: [`Waiting up to ${DEADLINE} for the parent saga's decision, else commit`], timersFired: 1, signals: [] });
    }
  });
});

describe('a parent that outlives its children\'s deadline', () => {
  it('cannot undo a child that committed by its default, and ends COMPENSATION_FAILED naming it instead of claiming it compensated', async () => {
    const parent = await parentWithReadyChildren('commit');
    // Both commit on their own once their deadline passes.
    for (const kind of kinds) expect(await child(parent, kind).result()).toBe(`${kind}-booked`);
    await parent.cancel();

    const failure = await applicationFailureOf(parent);
    expect(failure.type).toBe(SagaFailureType.CompensationFailed);
    const details = failure.details?.[0] as SagaFailureDetails;
    expect(details.status).toBe(SagaStatus.COMPENSATION_FAILED);
    expect(details.compensated).toEqual([]);
    expect(details.compensationFailures.map(({ step, type }) => ({ step, type })).sort((a, b) => a.step.localeCompare(b.step))).toEqual([
      { step: 'flight', type: ChildSagaFailureType.CommittedBeforeCompensation },
      { step: 'hotel', type: ChildSagaFailureType.CommittedBeforeCompensation },
    ]);
    for (const kind of kinds) {
      expect((await child(parent, kind).describe()).status.name).toBe('COMPLETED');
      expect(undone(parent, kind)).toEqual([]);
    }
  });
});
