import { describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { ChildSagaFailureType, sagaStateQuery, SagaStatus, StepStatus } from '@saga-temporal/saga';
import { uniqueTaskQueue } from '../helpers';
import { useFixtureWorker } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { undecidedParentSaga } from '../fixtures/pattern-workflows';

// `awaitParentDecision` with its options left unset: a child whose parent never decides waits one day,
// then compensates (`timeout` @default '1 day', `onTimeout` @default 'compensate'). Pinned from both
// sides of the day, on the time-skipping server.

const recording = createPatternActivities();
const taskQueue = uniqueTaskQueue('saga-child-defaults');
const fixture = useFixtureWorker({ workflows: 'fixtures/pattern-workflows.ts', taskQueue, activities: recording.activities });
const DAY_MS = 24 * 3_600_000;

describe('a child saga waiting for its parent with the default deadline and default', () => {
  it('is still waiting a second before one day, and compensates a second after it', async () => {
    const tripId = uniqueTaskQueue('undecided-defaults');
    const parent = await fixture.env.client.workflow.start(undecidedParentSaga, { taskQueue, workflowId: tripId, args: [{ tripId }] });
    await waitUntil(async () => (await parent.query(sagaStateQuery)).steps.filter((s) => s.status === StepStatus.DONE).length === 2, 30_000);
    await parent.terminate('the parent vanishes before it decides');
    const flight = fixture.env.client.workflow.getHandle(`${tripId}/flight`);

    await fixture.env.sleep(DAY_MS - 1_000);
    expect((await flight.describe()).status.name).toBe('RUNNING');
    expect(recording.logOf(`${tripId}/flight`).filter((e) => e.startsWith('undo:'))).toEqual([]);

    await fixture.env.sleep(2_000);
    const error = await flight.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.type).toBe(ChildSagaFailureType.CompensatedByParent);
    expect(failure.message).toBe('No decision came from the parent saga within 1 day: compensating, as declared');
    expect(recording.logOf(`${tripId}/flight`).filter((e) => e.startsWith('undo:'))).toEqual(['undo:flight:pay', 'undo:flight:reserve']);
    expect((await flight.query(sagaStateQuery)).status).toBe(SagaStatus.COMPENSATED);
  });
});
