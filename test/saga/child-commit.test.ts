import { expect, it } from 'vitest';
import { sagaStateQuery, SagaStatus } from '@saga-temporal/saga';
import { uniqueTaskQueue } from '../helpers';
import { useFixtureWorker } from '../support/testbed';
import { waitUntil } from '../fixtures/saga-harness';
import { createPatternActivities } from '../fixtures/pattern-activities';
import { releaseBookingSignal, tripSaga } from '../fixtures/pattern-workflows';

// A parent cancelled while it commits its children: once it has told them to commit, the decision
// stands. The children close committed and the parent completes; nothing is undone and no operator is
// needed. On the dev server: the cancellation races the children's closing. (`commit()` runs outside
// the parent's cancellation, so this holds too when the cancellation arrives while the commit signals
// are still in flight, a window this test does not aim at.)

const recording = createPatternActivities();
const taskQueue = uniqueTaskQueue('saga-child-commit');
const fixture = useFixtureWorker({ server: 'dev-server', workflows: 'fixtures/pattern-workflows.ts', taskQueue, activities: recording.activities });
const kinds = ['flight', 'hotel'] as const;

it('completes a parent cancelled while its children commit, with both children committed and nothing undone', async () => {
  const workflowId = uniqueTaskQueue('trip-commit-cancel');
  const parent = await fixture.env.client.workflow.start(tripSaga, { taskQueue, workflowId, args: [{ tripId: workflowId, holdChildren: true }] });
  const child = (kind: string) => fixture.env.client.workflow.getHandle(`${workflowId}/${kind}`);
  const decisions = async (kind: string) => {
    const history = await child(kind)
      .fetchHistory()
      .catch(() => undefined); // not started yet
    return (history?.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'sagaParentDecision').length;
  };
  // Both children have been told to commit, and stay open until released: the parent waits in commit().
  await waitUntil(async () => (await decisions('flight')) === 1 && (await decisions('hotel')) === 1, 30_000);

  await parent.cancel();
  await waitUntil(async () => ((await parent.fetchHistory()).events ?? []).some((e) => e.workflowExecutionCancelRequestedEventAttributes), 10_000);
  for (const kind of kinds) await child(kind).signal(releaseBookingSignal);

  expect(await parent.result()).toEqual(['flight-booked', 'hotel-booked']);
  expect((await parent.query(sagaStateQuery)).status).toBe(SagaStatus.COMPLETED);
  expect((await parent.describe()).status.name).toBe('COMPLETED');
  for (const kind of kinds) {
    expect((await child(kind).describe()).status.name).toBe('COMPLETED');
    expect(recording.logOf(`${workflowId}/${kind}`).filter((e) => e.startsWith('undo:'))).toEqual([]);
  }
  expect(recording.logOf(workflowId).filter((e) => e.startsWith('undo:'))).toEqual([]);
}, 120_000);
