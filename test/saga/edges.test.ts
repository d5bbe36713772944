import { describe, expect, it } from 'vitest';
import { WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { recordHistory, uniqueTaskQueue } from '../helpers';
import { waitUntil } from '../fixtures/saga-harness';
import { createRecordingActivities } from '../fixtures/saga-activities';
import { forgottenAwaitSaga, innerScopeSaga, releaseAlertSignal, scriptedSaga, slowAlertSaga } from '../fixtures/saga-edge-workflows';
import { retryCompensationUpdate, SagaFailureType, sagaStateQuery, SagaStatus, type SagaFailureDetails } from '@saga-temporal/saga';
import { SagaStatusKey } from '../../src/shared/search-attributes';
import { applicationFailureOf, useFixtureWorker } from '../support/testbed';

// The engine's sharper edges, on a real dev server: inner cancellation scopes, a cancelled saga whose
// compensation fails, a body that returns with a step in flight, a failing parallel stage with a slow
// sibling, and the operator's window opening while the alert hook still runs. In every case the
// workflow's final status and `SagaStatus` must agree, and nothing may be left undone unreported.

const recording = createRecordingActivities();
const taskQueue = uniqueTaskQueue('saga-edges');

const testbed = useFixtureWorker({ server: 'dev-server', workflows: 'fixtures/saga-edge-workflows.ts', taskQueue, activities: recording.activities });

const logOf = (handle: WorkflowHandle) => recording.logOf(handle.workflowId);
const sagaStatusOf = async (handle: WorkflowHandle) => (await handle.describe()).typedSearchAttributes.get(SagaStatusKey);

describe('a step cut short by an inner cancellation scope', () => {
  it.each(['timeout', 'cancel'] as const)('(%s) is a failure: the saga is compensated and the workflow fails, as SagaStatus says', async (how) => {
    const handle = await testbed.env.client.workflow.start(innerScopeSaga, { taskQueue, workflowId: uniqueTaskQueue(`inner-${how}`), args: [how] });
    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe(SagaFailureType.StepCancelled);
    expect(failure.message).toMatch(/^slow failed: /);
    expect((failure.details?.[0] as SagaFailureDetails).status).toBe(SagaStatus.COMPENSATED);
    expect(await sagaStatusOf(handle)).toBe(SagaStatus.COMPENSATED);
    expect((await handle.describe()).status.name).toBe('FAILED');
    expect(logOf(handle).filter((e) => e.startsWith('undo:'))).toEqual(['undo:slow', 'undo:a']);
  });
});

describe('a cancelled saga whose compensation fails', () => {
  it('fails with CompensationFailed carrying the compensation failures, not a bare cancellation', async () => {
    const handle = await testbed.env.client.workflow.start(scriptedSaga, {
      taskQueue,
      workflowId: uniqueTaskQueue('cancel-broken'),
      args: [{ stages: [{ name: 'a', undo: 'broken' }, { name: 'stuck', mode: 'block' }], options: { compensationRetry: { maximumAttempts: 2, initialInterval: '100 milliseconds' } } }],
    });
    await waitUntil(() => logOf(handle).includes('do:stuck'));
    await handle.cancel();
    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe(SagaFailureType.CompensationFailed);
    // The cancellation that made the saga unwind, as the cancelled step reported it.
    expect(failure.cause?.cause).toBeInstanceOf(CancelledFailure);
    const details = failure.details?.[0] as SagaFailureDetails;
    expect(details.status).toBe(SagaStatus.COMPENSATION_FAILED);
    expect(details.compensationFailures).toEqual([{ step: 'a', message: 'a cannot be undone right now', type: 'TransientFault' }]);
    expect(await sagaStatusOf(handle)).toBe(SagaStatus.COMPENSATION_FAILED);
  });
});

describe('a saga body that returns with a step in flight', () => {
  it('waits for the step, and unwinds when it fails instead of ending COMPLETED', async () => {
    const handle = await testbed.env.client.workflow.start(forgottenAwaitSaga, { taskQueue, workflowId: uniqueTaskQueue('forgotten-fail'), args: ['fail'] });
    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe('PaymentDeclined');
    expect(failure.message).toBe('late failed: late was declined');
    expect(await sagaStatusOf(handle)).toBe(SagaStatus.COMPENSATED);
    expect(logOf(handle).slice(-2)).toEqual(['undo:late', 'undo:a']);
  });

  it('waits for the step that succeeds before reporting COMPLETED', async () => {
    const handle = await testbed.env.client.workflow.start(forgottenAwaitSaga, { taskQueue, workflowId: uniqueTaskQueue('forgotten-ok'), args: ['ok'] });
    expect(await handle.result()).toBe('done');
    const state = await handle.query(sagaStateQuery);
    expect(state.status).toBe(SagaStatus.COMPLETED);
    expect(state.steps.map((s) => [s.name, s.status])).toEqual([
      ['a', 'done'],
      ['late', 'done'],
    ]);
  });
});

describe('a parallel stage with a failing step', () => {
  // On the dev server: the Java time-skipping server cannot take a cancellation that races the
  // sibling's completion (ACTIVITY_UNKNOWN) and leaves the workflow task hanging; a real server can.
  it('undoes the whole stage together, then the earlier steps', async () => {
    const handle = await testbed.env.client.workflow.start(scriptedSaga, {
      taskQueue,
      workflowId: uniqueTaskQueue('parallel'),
      args: [{ stages: [{ name: 'a' }, [{ name: 'b' }, { name: 'c', mode: 'fail' }, { name: 'd' }], { name: 'e' }] }],
    });
    const failure = await applicationFailureOf(handle);
    expect(failure.message).toBe('c failed: c was declined');
    expect((failure.details?.[0] as SagaFailureDetails).failedStep).toBe('c');
    const undos = logOf(handle).filter((e) => e.startsWith('undo:'));
    expect(undos.slice(0, 3).sort()).toEqual(['undo:b', 'undo:c', 'undo:d']);
    expect(undos.slice(3)).toEqual(['undo:a']);
    expect(logOf(handle)).not.toContain('do:e');
    const state = await handle.query(sagaStateQuery);
    expect(state.steps.map((s) => [s.name, s.group])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 1],
      ['d', 1],
    ]);
    await recordHistory(handle, 'saga', 'parallel-stage-failure');
  });

  it('cancels its siblings instead of waiting for them, and still compensates them', async () => {
    const handle = await testbed.env.client.workflow.start(scriptedSaga, {
      taskQueue,
      workflowId: uniqueTaskQueue('parallel-cancel'),
      args: [{ stages: [{ name: 'a' }, [{ name: 'slow', mode: 'block' }, { name: 'c', mode: 'fail' }]] }],
    });
    const failure = await applicationFailureOf(handle);
    expect(failure.type).toBe('PaymentDeclined');
    const events = (await handle.fetchHistory()).events ?? [];
    // The blocked sibling was cancelled, not waited for until its 10-second timeout.
    expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
    expect(events.some((e) => e.activityTaskTimedOutEventAttributes)).toBe(false);
    const state = await handle.query(sagaStateQuery);
    expect(state.steps.map((s) => [s.name, s.status])).toEqual([
      ['a', 'compensated'],
      ['slow', 'compensated'],
      ['c', 'compensated'],
    ]);
    expect(state.failure).toMatchObject({ step: 'c', type: 'PaymentDeclined' });
    expect(logOf(handle).slice(-3, -1).sort()).toEqual(['undo:c', 'undo:slow']);
    expect(logOf(handle).at(-1)).toBe('undo:a');
  });
});

describe('the operator updates', () => {
  it('are accepted as soon as SagaStatus reads COMPENSATION_FAILED, while the alert hook still runs', async () => {
    const handle = await testbed.env.client.workflow.start(slowAlertSaga, { taskQueue, workflowId: uniqueTaskQueue('slow-alert') });
    await waitUntil(async () => (await handle.query(sagaStateQuery)).status === SagaStatus.COMPENSATION_FAILED);
    expect(await sagaStatusOf(handle)).toBe(SagaStatus.COMPENSATION_FAILED);
    recording.repair(handle.workflowId, 'a');
    const update = await handle.startUpdate(retryCompensationUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    await handle.signal(releaseAlertSignal);
    expect((await update.result()).status).toBe(SagaStatus.COMPENSATED);
    expect((await applicationFailureOf(handle)).type).toBe('PaymentDeclined');
    expect(await sagaStatusOf(handle)).toBe(SagaStatus.COMPENSATED);
  });
});
